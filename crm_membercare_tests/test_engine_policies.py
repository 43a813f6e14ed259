"""End to end: conflicts resolved by policy, deletes in both directions, a locked invoice, the circuit breaker.

Each test edits its own records of one synced world (the breaker, which holds a whole flow, gets its own).
"""

from __future__ import annotations

import math
import time

import pytest

from crm_membercare.engine import breaker
from crm_membercare.engine.cycle import EngineSettings
from crm_membercare.mapping.flows import flow_by_name
from crm_membercare_tests.engine_support import (
    Picker,
    World,
    active_links,
    conflicts_of,
    links_by,
    rejects_of,
    synced_world,
)

CONTACTS = flow_by_name("contacts_persons")
CUSTOMERS = flow_by_name("customers_companies")
PRODUCTS = flow_by_name("products_products")
ORDERS = flow_by_name("orders_invoices")
USERS = flow_by_name("users_invoices")
NEWER = 1.1  # seconds: MemberCare's lastChange has second precision


@pytest.fixture(scope="module")
def world():
    with synced_world(seed=3) as synced:
        yield synced


@pytest.fixture(scope="module")
def picker() -> Picker:
    return Picker()


def put_person(world: World, mc_id, **changes) -> None:
    with world.clients() as (_, mc):
        mc.replace("persons", mc_id, {**mc.get("persons", mc_id), **changes})


def patch_crm(world: World, resource: str, crm_id: int, **changes) -> None:
    with world.clients() as (crm, _):
        crm.update(resource, crm_id, changes)


# --- conflicts -----------------------------------------------------------------------------------------------
def test_the_same_field_edited_on_both_sides_goes_to_the_newest_and_is_recorded(world, picker):
    (crm_first, mc_a), (mc_first, mc_b) = picker.pairs(world, CONTACTS, 2)
    patch_crm(world, "contacts", crm_first, first_name="CrmOlder")
    put_person(world, mc_b, firstname="McOlder")
    time.sleep(NEWER)
    put_person(world, mc_a, firstname="McNewer")
    patch_crm(world, "contacts", mc_first, first_name="CrmNewer")
    world.cycle()
    snap = world.snapshot()
    for crm_id, mc_id, expected, winner in ((crm_first, mc_a, "McNewer", "membercare"),
                                            (mc_first, mc_b, "CrmNewer", "crm")):
        assert snap.crm["contacts"][crm_id]["first_name"] == expected
        assert snap.mc["persons"][mc_id]["firstname"] == expected
        recorded = [c for c in conflicts_of(world.con, CONTACTS) if c["crm_id"] == crm_id]
        assert [(c["field"], c["winner"], c["policy"]) for c in recorded] == [("first_name", winner, "newest")]
        assert {recorded[0]["crm_value"], recorded[0]["membercare_value"]} == {"CrmOlder", "McNewer"} \
            if winner == "membercare" else {"McOlder", "CrmNewer"}


def test_a_crm_wins_policy_keeps_the_crm_value_even_when_membercare_is_newer(world, picker):
    (crm_id, mc_id), = picker.pairs(world, CONTACTS, 1)
    patch_crm(world, "contacts", crm_id, last_name="CrmPolicy")
    time.sleep(NEWER)
    put_person(world, mc_id, lastname="McNewerButLoses")
    world.cycle(EngineSettings(conflict_policy={CONTACTS.name: "crm"}))
    snap = world.snapshot()
    assert snap.crm["contacts"][crm_id]["last_name"] == "CrmPolicy"
    assert snap.mc["persons"][mc_id]["lastname"] == "CrmPolicy"
    recorded = [c for c in conflicts_of(world.con, CONTACTS) if c["crm_id"] == crm_id]
    assert [(c["field"], c["winner"], c["policy"]) for c in recorded] == [("last_name", "crm", "crm")]


def test_different_fields_edited_on_both_sides_are_both_kept(world, picker):
    (crm_id, mc_id), = picker.pairs(world, CONTACTS, 1)
    patch_crm(world, "contacts", crm_id, last_name="KeptFromCrm")
    put_person(world, mc_id, firstname="KeptFromMc")
    world.cycle()
    snap = world.snapshot()
    assert (snap.crm["contacts"][crm_id]["first_name"], snap.crm["contacts"][crm_id]["last_name"]) == \
        ("KeptFromMc", "KeptFromCrm")
    assert (snap.mc["persons"][mc_id]["firstname"], snap.mc["persons"][mc_id]["lastname"]) == \
        ("KeptFromMc", "KeptFromCrm")
    assert [c for c in conflicts_of(world.con, CONTACTS) if c["crm_id"] == crm_id] == []


# --- deletes -------------------------------------------------------------------------------------------------
def assert_nothing_recreated(world: World) -> None:
    world.clear_stats()
    world.cycle()
    writes = world.write_requests()
    posts = {side: {k: n for k, n in found.items() if k.startswith("POST")} for side, found in writes.items()}
    assert posts == {"customcrm": {}, "membercare": {}}


@pytest.mark.parametrize("flow", [CONTACTS, CUSTOMERS], ids=lambda f: f.name)
def test_a_crm_archive_closes_the_debtor_and_a_close_archives_the_crm_record(world, picker, flow):
    (archived, closed_by_crm), (archived_by_mc, closed) = picker.pairs(world, flow, 2)
    with world.clients() as (crm, mc):
        crm.archive(flow.crm_resource, archived)
        mc.delete(flow.mc_resource, closed)
    world.cycle()
    snap = world.snapshot()
    assert snap.mc[flow.mc_resource][closed_by_crm]["closeDate"] is not None
    assert snap.crm[flow.crm_resource][archived_by_mc]["archived"] is True
    links = links_by(world.con, flow)
    assert links[(archived, closed_by_crm)][0] == "ended"
    assert links[(archived_by_mc, closed)][0] == "ended"
    assert_nothing_recreated(world)


def test_a_crm_archive_deletes_the_product_and_a_product_delete_archives_the_crm_one(world, picker):
    with world.clients() as (crm, _):
        crm.create("products", {"sku": "UNUSED-1", "name": "On no invoice", "price": 5.0, "currency": "NOK",
                                "vat_rate": 25, "unit": "pcs", "active": True})
    world.cycle()
    on_invoices = {item.get("productId") for invoice in world.snapshot().mc["invoices"].values()
                   for item in invoice["invoiceItems"]}
    (archived, deleted_by_crm), = picker.pairs(world, PRODUCTS, 1, lambda crm, mc: mc["id"] not in on_invoices)
    (archived_by_mc, deleted), = picker.pairs(world, PRODUCTS, 1)
    (kept_crm, kept_mc), = picker.pairs(world, PRODUCTS, 1, lambda crm, mc: mc["id"] in on_invoices)
    with world.clients() as (crm, mc):
        crm.archive("products", archived)
        crm.archive("products", kept_crm)
        mc.delete("products", deleted)
    world.cycle()
    snap = world.snapshot()
    assert deleted_by_crm not in snap.mc["products"]
    assert snap.crm["products"][archived_by_mc]["archived"] is True
    # A product MemberCare invoices still name is deactivated, not deleted (DESIGN C9).
    assert snap.mc["products"][kept_mc]["active"] is False
    links = links_by(world.con, PRODUCTS)
    assert links[(archived, deleted_by_crm)][0] == links[(archived_by_mc, deleted)][0] == "ended"
    assert links[(kept_crm, kept_mc)][0] == "ended"
    assert_nothing_recreated(world)


def test_an_archived_order_deletes_its_draft_invoice_and_credits_a_sent_one(world, picker):
    (draft_order, draft_invoice), = picker.pairs(world, ORDERS, 1, lambda crm, mc: mc["status"] == "Draft")
    (sent_order, sent_invoice), = picker.pairs(world, ORDERS, 1, lambda crm, mc: mc["status"] in ("Sent", "Paid"))
    with world.clients() as (crm, _):
        crm.archive("orders", draft_order)
        crm.archive("orders", sent_order)
    world.cycle()
    snap = world.snapshot()
    assert draft_invoice not in snap.mc["invoices"]
    assert snap.mc["invoices"][sent_invoice]["status"] == "Credited"
    links = links_by(world.con, ORDERS)
    assert links[(draft_order, draft_invoice)][0] == links[(sent_order, sent_invoice)][0] == "ended"
    # The invoices' owners were derived through those links: theirs end in the same cycle.
    owners = {pair: state for pair, (state, _) in links_by(world.con, USERS).items()
              if pair[1] in (draft_invoice, sent_invoice)}
    assert owners and set(owners.values()) == {"ended"}, owners
    assert_nothing_recreated(world)


def test_a_locked_invoice_edit_is_a_reject_with_the_servers_reason_and_the_run_goes_on(world, picker):
    (order_id, invoice_id), = picker.pairs(world, ORDERS, 1, lambda crm, mc: mc["status"] == "Sent" and crm["lines"])
    (contact_id, person_id), = picker.pairs(world, CONTACTS, 1)
    snap = world.snapshot()
    lines = [dict(line) for line in snap.crm["orders"][order_id]["lines"]]
    lines[0]["quantity"] = lines[0]["quantity"] + 3
    patch_crm(world, "orders", order_id, lines=lines)
    patch_crm(world, "contacts", contact_id, first_name="StillSynced")
    world.cycle()
    rejects = [r for r in rejects_of(world.con, ORDERS) if r["record_id"] == str(order_id) and r["open"]]
    assert rejects and all("invoice_locked" in r["reason"] for r in rejects), rejects
    after = world.snapshot()
    assert after.mc["invoices"][invoice_id]["invoiceItems"] == snap.mc["invoices"][invoice_id]["invoiceItems"]
    assert after.mc["persons"][person_id]["firstname"] == "StillSynced"


# --- the circuit breaker -------------------------------------------------------------------------------------
def test_a_mass_archive_trips_the_breaker_until_acknowledged():
    with synced_world(seed=4) as world:
        links = active_links(world.con, CONTACTS)
        too_many = max(breaker.DEFAULT_MINIMUM, math.ceil(breaker.DEFAULT_SHARE * len(links))) + 1
        doomed = links[:too_many]
        with world.clients() as (crm, _):
            for crm_id, _mc_id in doomed:
                crm.archive("contacts", crm_id)
        world.cycle()
        snap = world.snapshot()
        assert [mc_id for _, mc_id in doomed if snap.mc["persons"][mc_id]["closeDate"] is not None] == []
        tripped = {row[0]: row for row in breaker.tripped(world.con)}
        assert CONTACTS.name in tripped and tripped[CONTACTS.name][2] == too_many

        world.cycle()  # still held: nothing is removed until an operator says so
        assert all(world.snapshot().mc["persons"][mc_id]["closeDate"] is None for _, mc_id in doomed)

        assert breaker.acknowledge(world.con, CONTACTS.name)
        world.cycle()
        snap = world.snapshot()
        assert [mc_id for _, mc_id in doomed if snap.mc["persons"][mc_id]["closeDate"] is None] == []
        assert_nothing_recreated(world)
