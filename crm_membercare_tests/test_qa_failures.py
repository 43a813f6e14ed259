"""A failing case for every QA check of `engine/qa.py` and for `change_set_problems`, end to end.

One synced world (real sandboxes over HTTP, a real DuckDB state). Each test brings the state into the failing
situation by real means where one exists (an edit or a close through the APIs, a cycle under a delete policy,
a cycle planned but not written back) and otherwise by the smallest direct write to the state file (said so in
the test), asserts that the finding names the right ids and reason, and puts the world back in order so the
next test starts from a clean checklist. Expected values are literals or the test's own writes.
"""

from __future__ import annotations

import json

import pytest

from crm_membercare.engine import qa
from crm_membercare.engine.cycle import Cycle, EngineSettings, SyncEngine
from crm_membercare.engine.operations import CRM_SIDE, MC_SIDE
from crm_membercare.mapping.flows import flow_by_name
from crm_membercare_tests.engine_support import World, active_links, links_by, synced_world

CONTACTS = flow_by_name("contacts_persons")
ORDERS = flow_by_name("orders_invoices")
QUOTES = flow_by_name("quotes_invoices")
LINK_INSERT = "INSERT INTO sync.links (flow, crm_id, mc_id, state, linked_by) VALUES (?, ?, ?, 'active', 'match')"


@pytest.fixture(scope="module")
def world():
    with synced_world(seed=11) as synced:
        yield synced


@pytest.fixture(scope="module")
def pairs(world):
    """Contact pairs handed out one test at a time, so no test sees another's edits."""
    return iter(active_links(world.con, CONTACTS))


def assert_clean(world: World, flow) -> None:
    assert qa.linked_coverage(world.con, flow, CRM_SIDE).failing == ()
    assert qa.linked_coverage(world.con, flow, MC_SIDE).failing == ()
    assert qa.one_to_one(world.con, flow).failing == ()
    assert qa.dangling_links(world.con, flow).failing == ()
    assert qa.pair_drift(world.con, flow, world.context()).failing == ()
    assert qa.membercare_type_problems(world.con, flow, world.countries).failing == ()


def test_the_world_starts_clean(world):
    for flow in (CONTACTS, ORDERS, QUOTES):
        assert_clean(world, flow)


def test_a_lost_link_fails_coverage_on_both_sides(world, pairs):
    crm_id, mc_id = next(pairs)
    # Direct write: no API path loses a link; the state file losing its row is what this check exists for.
    world.con.execute("CREATE TEMP TABLE lost AS SELECT * FROM sync.links WHERE flow = ? AND crm_id = ?",
                      [CONTACTS.name, crm_id])
    world.con.execute("DELETE FROM sync.links WHERE flow = ? AND crm_id = ?", [CONTACTS.name, crm_id])
    try:
        crm_side = qa.linked_coverage(world.con, CONTACTS, CRM_SIDE)
        mc_side = qa.linked_coverage(world.con, CONTACTS, MC_SIDE)
        assert crm_side.failing == (str(crm_id),)
        assert mc_side.failing == (mc_id,)
        assert crm_side.explained == {} and mc_side.explained == {}
    finally:
        world.con.execute("INSERT INTO sync.links SELECT * FROM lost")
        world.con.execute("DROP TABLE lost")
    assert_clean(world, CONTACTS)


def test_a_record_in_two_links_fails_one_to_one_on_both_sides(world, pairs):
    (crm_a, mc_a), (crm_b, mc_b) = next(pairs), next(pairs)
    # Direct write: the engine never writes a second active link for a record; only a damaged state has one.
    world.con.execute(LINK_INSERT, [CONTACTS.name, crm_a, mc_b])
    try:
        finding = qa.one_to_one(world.con, CONTACTS)
        assert sorted(finding.failing) == sorted([str(crm_a), mc_b])
        details = sorted(finding.details)
        crm_line = next(d for d in details if d.startswith("crm "))
        assert crm_line.startswith(f"crm {crm_a} linked to ")
        assert sorted(crm_line.split(" linked to ")[1].split(", ")) == sorted([mc_a, mc_b])
        mc_line = next(d for d in details if d.startswith("membercare "))
        assert mc_line.startswith(f"membercare {mc_b} linked to ")
        assert sorted(mc_line.split(" linked to ")[1].split(", ")) == sorted([str(crm_a), str(crm_b)])
    finally:
        world.con.execute("DELETE FROM sync.links WHERE flow = ? AND crm_id = ? AND mc_id = ?",
                          [CONTACTS.name, crm_a, mc_b])
    assert qa.one_to_one(world.con, CONTACTS).failing == ()


def test_an_invoice_linked_from_an_order_and_a_quote_fails_one_to_one(world):
    order_id, invoice_id = active_links(world.con, ORDERS)[0]
    # Direct write: a quote link naming an order's invoice (the two flows share MemberCare's invoices).
    world.con.execute(LINK_INSERT, [QUOTES.name, 987654, str(invoice_id)])
    try:
        for flow, other in ((QUOTES, f"{ORDERS.name}:{order_id}"), (ORDERS, f"{QUOTES.name}:987654")):
            finding = qa.one_to_one(world.con, flow)
            assert finding.failing == (str(invoice_id),)
            assert finding.details == (f"membercare {invoice_id} also linked in {other}",)
    finally:
        world.con.execute("DELETE FROM sync.links WHERE flow = ? AND crm_id = 987654", [QUOTES.name])
    assert qa.one_to_one(world.con, QUOTES).failing == qa.one_to_one(world.con, ORDERS).failing == ()


def test_a_close_under_the_ignore_policy_leaves_a_dangling_link(world, pairs):
    crm_id, mc_id = next(pairs)
    with world.clients() as (_, mc):
        mc.delete("persons", mc_id)  # closed in MemberCare, behind the sync's back
    world.cycle(EngineSettings(delete_policy={CONTACTS.name: "ignore"}))
    snap = world.snapshot()
    assert snap.crm["contacts"][crm_id]["archived"] is False  # ignored: the CRM record is left alone
    assert links_by(world.con, CONTACTS)[(crm_id, mc_id)][0] == "active"
    finding = qa.dangling_links(world.con, CONTACTS)
    assert finding.failing == (f"{crm_id}:{mc_id}",)
    assert finding.details == (f"{crm_id}:{mc_id}: membercare record closed",)
    # The close was seen and ignored: a later cycle under the default policy does not take it up again, so
    # the link keeps dangling (and the check keeps failing) until an operator ends it.
    world.cycle()
    assert world.snapshot().crm["contacts"][crm_id]["archived"] is False
    assert qa.dangling_links(world.con, CONTACTS).failing == (f"{crm_id}:{mc_id}",)


def _raw(world: World, table: str, record_id) -> dict:
    return json.loads(world.con.execute(f"SELECT raw FROM {table} WHERE CAST(id AS VARCHAR) = ?",
                                        [str(record_id)]).fetchall()[0][0])


def _set_raw(world: World, table: str, record_id, raw: dict) -> None:
    world.con.execute(f"UPDATE {table} SET raw = ? WHERE CAST(id AS VARCHAR) = ?", [json.dumps(raw), str(record_id)])


def test_unexplained_drift_is_an_error_naming_the_field_and_both_values(world, pairs):
    crm_id, mc_id = next(pairs)
    first_name = world.snapshot().crm["contacts"][crm_id]["first_name"]
    # Direct write: the stored MemberCare record changed without a change marker. Through the APIs every
    # change is extracted and synced, so only the state file can hold a pair that disagrees unexplained.
    original = _raw(world, "membercare.persons", mc_id)
    _set_raw(world, "membercare.persons", mc_id, {**original, "firstname": "Drifted"})
    try:
        finding = qa.pair_drift(world.con, CONTACTS, world.context())
        assert finding.failing == (f"{crm_id}:{mc_id}",)
        assert finding.explained == {}
        assert finding.details == (
            f"{crm_id}:{mc_id}: first_name: crm {json.dumps(first_name, ensure_ascii=False)} ≠ membercare \"Drifted\"",)
    finally:
        _set_raw(world, "membercare.persons", mc_id, original)
    assert qa.pair_drift(world.con, CONTACTS, world.context()).failing == ()


def test_drift_explained_by_a_reject_is_a_warning_that_names_the_reject(world):
    snap = world.snapshot()
    order_id, invoice_id = next((o, i) for o, i in active_links(world.con, ORDERS)
                                if snap.mc["invoices"][i]["status"] == "Sent" and snap.crm["orders"][o]["lines"])
    lines = [dict(line) for line in snap.crm["orders"][order_id]["lines"]]
    lines[0]["quantity"] = lines[0]["quantity"] + 3
    with world.clients() as (crm, _):
        crm.update("orders", order_id, {"lines": lines})  # a Sent invoice is locked: MemberCare refuses it
    world.cycle()
    finding = qa.pair_drift(world.con, ORDERS, world.context())
    pair = f"{order_id}:{invoice_id}"
    assert pair not in finding.failing
    assert finding.explained.get("open reject") == (pair,)
    (text,), = [[d for d in finding.explained_details if d.startswith(pair)]]
    assert "explained by an open reject: crm " + str(order_id) in text
    assert "invoice_locked" in text


def test_a_stored_membercare_value_of_the_wrong_type_fails_the_type_check(world, pairs):
    crm_id, mc_id = next(pairs)
    # Direct write: the MemberCare sandbox refuses a bad country id (422), so only the stored copy can hold one.
    original = _raw(world, "membercare.persons", mc_id)
    broken = {**original, "addresses": [{**a, "country": {"id": 99999}} for a in original["addresses"]]}
    assert broken["addresses"], "the picked person has an address"
    _set_raw(world, "membercare.persons", mc_id, broken)
    try:
        finding = qa.membercare_type_problems(world.con, CONTACTS, world.countries)
        assert finding.failing == (mc_id,)
        assert len(finding.details) == 1 and finding.details[0].startswith(f"{mc_id}: ")
        assert "is not a country id MemberCare knows" in finding.details[0]
    finally:
        _set_raw(world, "membercare.persons", mc_id, original)
    assert qa.membercare_type_problems(world.con, CONTACTS, world.countries).failing == ()


def _plan_without_writeback(world: World, crm_id: int, **changes) -> int:
    """Edit a contact in the CRM, then run a cycle's extract and plan but not its writeback (a sync that
    stops there: the operation stays pending in the outbox). Returns the cycle id."""
    with world.clients() as (crm, mc):
        crm.update("contacts", crm_id, changes)
        cycle = Cycle(SyncEngine(world.con, crm, mc))
        cycle.read()
        cycle.plan(CONTACTS)
        cycle.finish()
    return cycle.report.cycle_id


def _open_update(world: World, crm_id: int) -> tuple[int, int]:
    rows = world.con.execute(
        """SELECT id, cycle_id FROM sync.outbox WHERE flow = ? AND crm_id = ? AND status = 'pending'
           AND operation = 'update' AND direction = 'to_membercare'""", [CONTACTS.name, crm_id]).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def test_an_operation_pending_for_more_cycles_than_allowed_is_stale(world, pairs):
    crm_id, mc_id = next(pairs)
    cycle = _plan_without_writeback(world, crm_id, last_name="Waiting")
    outbox_id, planned_in = _open_update(world, crm_id)
    assert planned_in == cycle
    assert qa.stale_outbox(world.con, CONTACTS, cycle + 3, 3).failing == ()  # 3 cycles old: not yet
    finding = qa.stale_outbox(world.con, CONTACTS, cycle + 4, 3)
    assert finding.failing == (str(outbox_id),)
    assert finding.details == (f"outbox {outbox_id}: update to_membercare since cycle {cycle}",)
    world.cycle()  # the writeback drains it
    assert world.snapshot().mc["persons"][mc_id]["lastname"] == "Waiting"
    assert qa.stale_outbox(world.con, CONTACTS, cycle + 4, 3).failing == ()


def test_a_pending_payload_the_target_would_refuse_fails_the_change_set(world, pairs):
    crm_id, mc_id = next(pairs)
    _plan_without_writeback(world, crm_id, first_name="Valid")
    outbox_id, _ = _open_update(world, crm_id)
    finding = qa.change_set_problems(world.con, CONTACTS, "to_membercare", world.context())
    assert finding.failing == ()
    # Direct write: the planner refuses a bad value before it is queued (it becomes a reject), so only a
    # payload changed in the state file can carry one to this check.
    stored = world.con.execute("SELECT payload FROM sync.outbox WHERE id = ?", [outbox_id]).fetchall()
    payload = json.loads(stored[0][0])
    assert payload["values"]["first_name"] == "Valid"
    payload["values"]["first_name"] = "Bell\u0007"
    world.con.execute("UPDATE sync.outbox SET payload = ? WHERE id = ?", [json.dumps(payload), outbox_id])
    finding = qa.change_set_problems(world.con, CONTACTS, "to_membercare", world.context())
    assert finding.failing == (str(crm_id),)
    assert len(finding.details) == 1
    assert finding.details[0].startswith(f"outbox {outbox_id} (update {crm_id}): ")
    assert "contains control characters" in finding.details[0]
    # Put the planned value back and let the writeback take it.
    payload["values"]["first_name"] = "Valid"
    world.con.execute("UPDATE sync.outbox SET payload = ? WHERE id = ?", [json.dumps(payload), outbox_id])
    world.cycle()
    assert world.snapshot().mc["persons"][mc_id]["firstname"] == "Valid"
