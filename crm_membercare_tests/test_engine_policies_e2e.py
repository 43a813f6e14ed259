"""End to end (real sandboxes over HTTP, a real DuckDB state): the `unlink` and `ignore` delete policies,
"membercare wins", a MemberCare invoice credit and a Draft delete reaching the CRM, a quote archived in the CRM
reaching MemberCare, and a reject that closes once the record is fixed.

Expectations are literals from DESIGN/docs (B3: Credited -> cancelled; sync.md: archive a quote -> delete a Draft
invoice, credit a Sent one) and the tests' own writes; none is computed by the project's mapping.
"""

from __future__ import annotations

import time

import pytest

from crm_membercare.config import Settings
from crm_membercare.engine.cycle import EngineSettings
from crm_membercare.mapping.flows import flow_by_name
from crm_membercare_tests.engine_support import Picker, World, conflicts_of, rejects_of, synced_world

CONTACTS = flow_by_name("contacts_persons")
ORDERS = flow_by_name("orders_invoices")
QUOTES = flow_by_name("quotes_invoices")
NEWER = 1.1  # seconds: MemberCare's lastChange has second precision


@pytest.fixture(scope="module")
def world():
    with synced_world(seed=5) as synced:
        yield synced


@pytest.fixture(scope="module")
def picker() -> Picker:
    return Picker()


def link_row(world: World, flow, crm_id: int, mc_id) -> tuple[str, str | None]:
    return tuple(world.con.execute(
        "SELECT state, ended_reason FROM sync.links WHERE flow = ? AND crm_id = ? AND mc_id = ?",
        [flow.name, crm_id, str(mc_id)]).fetchall()[0])


def posts(world: World) -> dict:
    return {side: {k: n for k, n in found.items() if k.startswith("POST")}
            for side, found in world.write_requests().items()}


# --- delete policies ---------------------------------------------------------------------------------------
def test_unlink_ends_both_links_and_touches_neither_system(world, picker):
    (archived, open_person), (kept_contact, closed) = picker.pairs(world, CONTACTS, 2)
    with world.clients() as (crm, mc):
        crm.archive("contacts", archived)
        mc.delete("persons", closed)
    world.clear_stats()
    world.cycle(EngineSettings(delete_policy={CONTACTS.name: "unlink"}))
    snap = world.snapshot()
    assert snap.mc["persons"][open_person]["closeDate"] is None
    assert snap.crm["contacts"][kept_contact]["archived"] is False
    assert link_row(world, CONTACTS, archived, open_person) == ("ended", "unlinked by delete policy")
    assert link_row(world, CONTACTS, kept_contact, closed) == ("ended", "unlinked by delete policy")
    writes = world.write_requests()
    assert not [k for k in writes["membercare"] if k.startswith("DELETE")]
    assert not [k for k in writes["customcrm"] if k.startswith("DELETE")]
    # The surviving records are not linked again, and nothing is created for them.
    world.clear_stats()
    world.cycle()
    assert posts(world) == {"customcrm": {}, "membercare": {}}
    assert link_row(world, CONTACTS, archived, open_person)[0] == "ended"


def test_ignore_from_the_environment_keeps_the_link_and_the_other_record(world, picker):
    (archived, person), = picker.pairs(world, CONTACTS, 1)
    settings = Settings.from_env({"CRM_MEMBERCARE_DELETE_POLICY": f"{CONTACTS.name}=ignore"})
    with world.clients() as (crm, _):
        crm.archive("contacts", archived)
    world.cycle(EngineSettings(delete_policy=settings.delete_policy))
    assert world.snapshot().mc["persons"][person]["closeDate"] is None
    assert link_row(world, CONTACTS, archived, person) == ("active", None)
    world.clear_stats()
    world.cycle()
    assert posts(world) == {"customcrm": {}, "membercare": {}}


# --- conflict policy ---------------------------------------------------------------------------------------
def test_membercare_wins_even_when_the_crm_edit_is_newer(world, picker):
    (crm_id, mc_id), = picker.pairs(world, CONTACTS, 1)
    with world.clients() as (crm, mc):
        mc.replace("persons", mc_id, {**mc.get("persons", mc_id), "lastname": "McOlderButWins"})
        time.sleep(NEWER)
        crm.update("contacts", crm_id, {"last_name": "CrmNewerButLoses"})
    world.cycle(EngineSettings(conflict_policy={CONTACTS.name: "membercare"}))
    snap = world.snapshot()
    assert snap.crm["contacts"][crm_id]["last_name"] == "McOlderButWins"
    assert snap.mc["persons"][mc_id]["lastname"] == "McOlderButWins"
    recorded = [c for c in conflicts_of(world.con, CONTACTS) if c["crm_id"] == crm_id]
    assert [(c["field"], c["crm_value"], c["membercare_value"], c["winner"], c["policy"]) for c in recorded] == \
        [("last_name", "CrmNewerButLoses", "McOlderButWins", "membercare", "membercare")]


# --- invoices from MemberCare, quotes from the CRM -----------------------------------------------------------
def test_a_membercare_credit_cancels_the_order(world, picker):
    (order_id, invoice_id), = picker.pairs(world, ORDERS, 1, lambda crm, mc: mc["status"] == "Sent")
    with world.clients() as (_, mc):
        mc.credit(invoice_id)
    world.cycle()
    snap = world.snapshot()
    assert snap.mc["invoices"][invoice_id]["status"] == "Credited"
    assert snap.crm["orders"][order_id]["status"] == "cancelled"  # DESIGN B3: Credited -> cancelled


def test_a_membercare_draft_delete_archives_the_order(world, picker):
    (order_id, invoice_id), = picker.pairs(world, ORDERS, 1, lambda crm, mc: mc["status"] == "Draft")
    with world.clients() as (_, mc):
        mc.delete("invoices", invoice_id)
    world.cycle()
    snap = world.snapshot()
    assert invoice_id not in snap.mc["invoices"]
    assert snap.crm["orders"][order_id]["archived"] is True
    assert link_row(world, ORDERS, order_id, invoice_id)[0] == "ended"
    world.clear_stats()
    world.cycle()
    assert posts(world) == {"customcrm": {}, "membercare": {}}


def test_an_archived_quote_deletes_its_draft_invoice_and_credits_a_sent_one(world, picker):
    (draft_quote, draft_invoice), = picker.pairs(world, QUOTES, 1, lambda crm, mc: mc["status"] == "Draft")
    (sent_quote, sent_invoice), = picker.pairs(world, QUOTES, 1, lambda crm, mc: mc["status"] == "Sent")
    with world.clients() as (crm, _):
        crm.archive("quotes", draft_quote)
        crm.archive("quotes", sent_quote)
    world.cycle()
    snap = world.snapshot()
    assert draft_invoice not in snap.mc["invoices"]
    assert snap.mc["invoices"][sent_invoice]["status"] == "Credited"
    assert link_row(world, QUOTES, draft_quote, draft_invoice)[0] == "ended"
    assert link_row(world, QUOTES, sent_quote, sent_invoice)[0] == "ended"
    world.clear_stats()
    world.cycle()
    assert posts(world) == {"customcrm": {}, "membercare": {}}


# --- a reject that closes ----------------------------------------------------------------------------------
def test_a_reject_closes_once_the_record_is_fixed(world, picker):
    (order_id, invoice_id), = picker.pairs(world, ORDERS, 1,
                                           lambda crm, mc: mc["status"] == "Sent" and crm["lines"])
    snap = world.snapshot()
    original = [dict(line) for line in snap.crm["orders"][order_id]["lines"]]
    changed = [dict(line) for line in original]
    changed[0]["quantity"] = changed[0]["quantity"] + 2
    with world.clients() as (crm, _):
        crm.update("orders", order_id, {"lines": changed})
    world.cycle()
    opened = [r for r in rejects_of(world.con, ORDERS) if r["record_id"] == str(order_id) and r["open"]]
    assert opened and all(r["side"] == "crm" and "invoice_locked" in r["reason"] for r in opened), opened
    # The fix: the order's lines back as the locked invoice has them.
    with world.clients() as (crm, _):
        crm.update("orders", order_id, {"lines": original})
    world.cycle()
    mine = [r for r in rejects_of(world.con, ORDERS) if r["record_id"] == str(order_id)]
    assert mine and [r for r in mine if r["open"]] == [], mine
    items = snap.mc["invoices"][invoice_id]["invoiceItems"]
    assert world.snapshot().mc["invoices"][invoice_id]["invoiceItems"] == items
