"""End to end: the first sync of two seeded systems (scale small, overlap 0.3), then a cycle with no edits.

Both sandboxes run over real HTTP, the state is a real DuckDB file; every expectation is read back from the
systems through the clients and compared under the mapping.

"No conflict, no write to a record already equal" is judged without the engine's mapping or match keys: the
shared records are those the seed's own layout (`sandbox/seeding/layout.py`, ids as `seeding/stamps.py` computes
them) puts on both sides, identical by construction; each must come out of the first sync byte for byte as it
went in, except the identity stamp (`external_ref` / `externalId` and the write's own `version`, `updated_at`,
`lastChange`), and a CRM record's `version` must have moved by exactly one (the stamp's PATCH). A second world
seeded with overlap 1.0 (every record shared) counts the write requests the sandboxes served: exactly one stamp
per record on each side, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm_membercare.engine.cycle import CycleReport
from crm_membercare.engine.identity import crm_identity, mc_identity
from crm_membercare.mapping.flows import FLOWS, Flow
from crm_membercare.sandbox.seeding.layout import PAIRS, counts_for, plan_layout
from crm_membercare.sandbox.seeding.stamps import CRM_PAIRS, _Ids
from crm_membercare_tests.engine_support import (
    MATCHED_FLOWS,
    TINY_SCALE,
    Snapshot,
    World,
    active_links,
    disagreements,
    duplicate_ids,
    duplicated_keys,
    links_by,
    owner_reference_mismatches,
    running_world,
    shared_pairs,
)

SEED = 11
SCALE, OVERLAP = "small", 0.3
ONE_TO_ONE_FLOWS = tuple(flow for flow in FLOWS if flow.derived is None)


@dataclass(frozen=True)
class FirstSync:
    world: World
    before: Snapshot
    after: Snapshot
    report: CycleReport


def seed_at_one_instant(world: World, seed: int, scale, overlap: float) -> None:
    """Seed both sandboxes as of the same instant. Each seeds from its own clock, and a shared document's dates
    are drawn relative to it: seeded a few seconds apart, a document created near Oslo midnight gets a different
    order or due date on each side (seen: `order_date`, `due_date` conflicts on orders, depending on the time of
    day the test ran). Each clock is set just before its seed and back to real time after it."""
    instant = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for server, admin in ((world.crm_server, world.crm_admin), (world.mc_server, world.mc_admin)):
        admin.set_clock(instant)
        try:
            httpx.post(f"{server.root_url}/_sandbox/seed", json={"seed": seed, "scale": scale, "overlap": overlap},
                       timeout=300).raise_for_status()
        finally:
            admin.set_clock(None)


@pytest.fixture(scope="module")
def first_sync():
    with running_world() as world:
        seed_at_one_instant(world, SEED, SCALE, OVERLAP)
        before = world.snapshot()
        report = world.cycle()
        yield FirstSync(world, before, world.snapshot(), report)


def flow_ids(flows: tuple[Flow, ...]) -> list[str]:
    return [flow.name for flow in flows]


def test_the_seed_really_overlaps(first_sync):
    """Guards the other tests: with nothing shared, "linked by match" would hold vacuously."""
    for flow in MATCHED_FLOWS:
        shared = shared_pairs(flow, first_sync.before.live_crm(flow), first_sync.before.live_mc(flow))
        assert len(shared) >= 5, f"{flow.name}: only {len(shared)} shared records in the seed"


@pytest.mark.parametrize("flow", MATCHED_FLOWS, ids=flow_ids(MATCHED_FLOWS))
def test_every_overlapping_pair_is_linked_by_its_match_rule(first_sync, flow):
    before = first_sync.before
    shared = shared_pairs(flow, before.live_crm(flow), before.live_mc(flow))
    links = links_by(first_sync.world.con, flow)
    wrong = {crm_id: (mc_id, links.get((crm_id, mc_id))) for crm_id, mc_id in shared.items()
             if links.get((crm_id, mc_id)) != ("active", "match")}
    assert not wrong, f"{flow.name}: shared pairs not linked by match: {dict(list(wrong.items())[:5])}"


@pytest.mark.parametrize("flow", MATCHED_FLOWS, ids=flow_ids(MATCHED_FLOWS))
def test_every_other_record_is_created_on_the_other_side(first_sync, flow):
    before, after = first_sync.before, first_sync.after
    shared = shared_pairs(flow, before.live_crm(flow), before.live_mc(flow))
    links = active_links(first_sync.world.con, flow)
    linked_crm, linked_mc = {c for c, _ in links}, {m for _, m in links}
    assert set(before.live_crm(flow)) <= linked_crm, f"{flow.name}: CRM records left unlinked"
    assert set(before.live_mc(flow)) <= linked_mc, f"{flow.name}: MemberCare records left unlinked"
    assert len(links) == len(before.live_crm(flow)) + len(before.live_mc(flow)) - len(shared)
    created_in_mc = set(after.live_mc(flow)) - set(before.live_mc(flow))
    created_in_crm = set(after.live_crm(flow)) - set(before.live_crm(flow))
    assert len(created_in_mc) == len(before.live_crm(flow)) - len(shared)
    assert len(created_in_crm) == len(before.live_mc(flow)) - len(shared)
    how = links_by(first_sync.world.con, flow)
    for crm_id, mc_id in links:
        if shared.get(crm_id) != mc_id:
            assert how[(crm_id, mc_id)] == ("active", "create"), (flow.name, crm_id, mc_id)


@pytest.mark.parametrize("flow", MATCHED_FLOWS, ids=flow_ids(MATCHED_FLOWS))
def test_zero_duplicates(first_sync, flow):
    after, con = first_sync.after, first_sync.world.con
    crm, mc = after.live_crm(flow), after.live_mc(flow)
    assert len(crm) == len(mc), f"{flow.name}: {len(crm)} live CRM records, {len(mc)} in MemberCare"
    assert duplicated_keys(flow.match, crm, "crm") == []
    assert duplicated_keys(flow.match, mc, "membercare") == []
    links = active_links(con, flow)
    assert duplicate_ids([c for c, _ in links]) == [] and duplicate_ids([m for _, m in links]) == []
    assert len(links) == len(crm)


@pytest.mark.parametrize("flow", ONE_TO_ONE_FLOWS, ids=flow_ids(ONE_TO_ONE_FLOWS))
def test_every_flow_converged(first_sync, flow):
    drift = disagreements(first_sync.world, first_sync.after, flow)
    assert drift == {}, f"{flow.name}: {len(drift)} pairs differ, e.g. {dict(list(drift.items())[:5])}"


def test_the_first_sync_rejects_nothing_it_was_seeded_with(first_sync):
    """The seed is valid on both sides, so a reject here is an engine or mapping fault, not data."""
    rows = first_sync.world.con.execute("SELECT flow, side, record_id, field, reason FROM sync.rejects").fetchall()
    assert rows == []


def test_invoices_of_owned_orders_and_quotes_carry_their_owner(first_sync):
    owned = [crm_id for flow in FLOWS if flow.mc_part
             for crm_id, _ in active_links(first_sync.world.con, flow)
             if first_sync.after.crm_records(flow)[crm_id].get("owner_id") is not None]
    assert len(owned) >= 10
    assert owner_reference_mismatches(first_sync.world, first_sync.after) == []


@pytest.mark.parametrize("flow", ONE_TO_ONE_FLOWS, ids=flow_ids(ONE_TO_ONE_FLOWS))
def test_both_records_of_every_link_carry_each_others_identity(first_sync, flow):
    after = first_sync.after
    wrong = []
    for crm_id, mc_id in active_links(first_sync.world.con, flow):
        crm_ref = after.crm_records(flow)[crm_id].get("external_ref")
        mc_ref = after.mc_records(flow)[mc_id].get("externalId")
        if (crm_ref, mc_ref) != (mc_identity(flow.mc_resource, mc_id), crm_identity(flow.crm_resource, crm_id)):
            wrong.append((crm_id, mc_id, crm_ref, mc_ref))
    assert wrong == []


def test_a_second_cycle_with_no_edits_writes_nothing(first_sync):
    world = first_sync.world
    world.clear_stats()
    report = world.cycle()
    assert world.write_requests() == {"customcrm": {}, "membercare": {}}
    assert all(s.created == s.updated == s.deleted == 0 for s in report.flows.values())
    assert world.snapshot() == first_sync.after


# --- no conflict, no write to a record already equal (judged from the seed, not the engine) ----------------

# The fields an identity stamp may change: the stamp itself and the write's own bookkeeping.
CRM_STAMP_FIELDS = frozenset({"external_ref", "version", "updated_at"})
MC_STAMP_FIELDS = frozenset({"externalId", "lastChange"})
# CRM resource -> MemberCare resource of the seed's pairs (users are CRM-only: no pair, never written).
PAIRED_RESOURCES = {crm_res: mc_res for crm_res, (_, mc_res) in CRM_PAIRS.items()}


def seeded_shared(seed: int, scale, overlap: float) -> dict[str, list[tuple[int, object]]]:
    """Per CRM resource, the (CRM id, MemberCare id) of every record the seed put on both sides."""
    layout = plan_layout(seed, scale, overlap)
    ids = _Ids(layout)
    shared: dict[str, list[tuple[int, object]]] = {}
    for crm_res, (pair, _) in CRM_PAIRS.items():
        positions = layout.pairs[pair].positions
        shared[crm_res] = [(positions["customcrm"][j] + 1, ids.mc_id(pair, positions["membercare"][j]))
                           for j in range(layout.pairs[pair].shared)]
    return shared


def _without(record: dict, fields: frozenset[str]) -> dict:
    return {k: v for k, v in record.items() if k not in fields}


def test_the_seed_layout_names_real_shared_records(first_sync):
    """Guards the tests below: the seed's own shared pairs exist on both sides, are many, and are the pairs the
    first sync linked (so an engine that matched differently is caught here, not excused)."""
    shared = seeded_shared(SEED, SCALE, OVERLAP)
    assert set(shared) == set(PAIRS)  # every pair of the seed: customers, contacts, products, orders, quotes
    before, con = first_sync.before, first_sync.world.con
    for crm_res, pairs in shared.items():
        assert len(pairs) >= 10, f"{crm_res}: only {len(pairs)} shared records in the seed"
        mc_res = PAIRED_RESOURCES[crm_res]
        missing = [(c, m) for c, m in pairs if c not in before.crm[crm_res] or m not in before.mc[mc_res]]
        assert missing == [], f"{crm_res}: seeded shared ids not found: {missing[:5]}"
        flow = next(f for f in FLOWS if f.derived is None and f.crm_resource == crm_res)
        links = set(active_links(con, flow))
        assert {(c, str(m)) for c, m in pairs} <= {(c, str(m)) for c, m in links}, crm_res


@pytest.mark.parametrize("flow", FLOWS, ids=flow_ids(FLOWS))
def test_the_first_sync_records_no_conflict(first_sync, flow):
    rows = first_sync.world.con.execute(
        "SELECT crm_id, mc_id, field FROM sync.conflicts WHERE flow = ?", [flow.name]).fetchall()
    assert rows == [], f"{flow.name}: {len(rows)} conflicts on a seed whose shared records are equal: {rows[:5]}"


@pytest.mark.parametrize("crm_resource", list(PAIRED_RESOURCES))
def test_shared_records_get_their_stamp_and_nothing_else(first_sync, crm_resource):
    """Every record the seed shared was equal on both sides: the first sync stamps it (one PATCH in the CRM,
    `version` + 1) and changes nothing else, on either side. Covers every flow's rows: an invoice's owner
    (users_invoices) and lines are fields of the invoice."""
    before, after = first_sync.before, first_sync.after
    mc_resource = PAIRED_RESOURCES[crm_resource]
    wrong = []
    for crm_id, mc_id in seeded_shared(SEED, SCALE, OVERLAP)[crm_resource]:
        crm_was, crm_is = before.crm[crm_resource][crm_id], after.crm[crm_resource][crm_id]
        mc_was, mc_is = before.mc[mc_resource][mc_id], after.mc[mc_resource][mc_id]
        if crm_is["version"] != crm_was["version"] + 1:
            wrong.append(("crm", crm_id, f"version {crm_was['version']} -> {crm_is['version']}"))
        changed = {k for k in crm_was.keys() | crm_is.keys() if crm_was.get(k) != crm_is.get(k)}
        if changed - CRM_STAMP_FIELDS:
            wrong.append(("crm", crm_id, sorted(changed - CRM_STAMP_FIELDS)))
        changed = {k for k in mc_was.keys() | mc_is.keys() if mc_was.get(k) != mc_is.get(k)}
        if changed - MC_STAMP_FIELDS:
            wrong.append(("membercare", mc_id, sorted(changed - MC_STAMP_FIELDS)))
    assert wrong == [], f"{crm_resource}: {len(wrong)} shared records written beyond their stamp: {wrong[:8]}"


def test_crm_users_are_never_written(first_sync):
    before, after = first_sync.before.crm["users"], first_sync.after.crm["users"]
    assert after == before


@pytest.fixture(scope="module")
def all_shared():
    """A world where the seed shares every record (overlap 1.0): the write requests of its first sync."""
    with running_world() as world:
        seed_at_one_instant(world, SEED, TINY_SCALE, 1.0)
        before = world.snapshot()
        world.clear_stats()
        report = world.cycle()
        yield FirstSync(world, before, world.snapshot(), report), world.write_requests()


def test_with_everything_shared_the_first_sync_sends_one_stamp_per_record(all_shared):
    sync, writes = all_shared
    counts = counts_for(TINY_SCALE)
    n = {"products": counts.products, "customers": counts.customers, "contacts": counts.contacts,
         "orders": counts.orders, "quotes": counts.quotes}
    assert min(n.values()) > 0
    assert writes == {
        "customcrm": {f"PATCH {res}": n[res] for res in ("products", "customers", "contacts", "orders", "quotes")},
        "membercare": {"PUT products": n["products"], "PUT companies": n["customers"],
                       "PUT persons": n["contacts"], "PUT invoices": n["orders"] + n["quotes"]},
    }
    for flow in FLOWS:
        assert sync.world.con.execute("SELECT count(*) FROM sync.conflicts WHERE flow = ?",
                                      [flow.name]).fetchone()[0] == 0, flow.name


def test_with_everything_shared_only_stamps_change(all_shared):
    sync, _ = all_shared
    wrong = []
    for resource, records in sync.before.crm.items():
        for crm_id, was in records.items():
            now = sync.after.crm[resource][crm_id]
            changed = {k for k in was.keys() | now.keys() if was.get(k) != now.get(k)} - CRM_STAMP_FIELDS
            if changed or now["version"] != was["version"] + (resource in PAIRED_RESOURCES):
                wrong.append(("crm", resource, crm_id, sorted(changed), was["version"], now["version"]))
    for resource, records in sync.before.mc.items():
        assert set(sync.after.mc[resource]) == set(records), resource
        for mc_id, was in records.items():
            now = sync.after.mc[resource][mc_id]
            changed = {k for k in was.keys() | now.keys() if was.get(k) != now.get(k)} - MC_STAMP_FIELDS
            if changed or now.get("externalId") is None:
                wrong.append(("membercare", resource, mc_id, sorted(changed)))
    assert wrong == [], f"{len(wrong)} records written beyond their stamp: {wrong[:8]}"
