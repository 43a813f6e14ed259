"""An incremental cycle does work that follows the change, not the data (DESIGN Part E), without losing what
the full comparisons used to find: links are read for the records that changed, MemberCare's `/ids` list is
compared only when it can differ from what is stored (or at the configured interval)."""

from __future__ import annotations

import pytest

from crm_membercare.engine.cycle import Cycle, EngineSettings, SyncEngine
from crm_membercare.engine.extract import extract_changes, reconcile_ids
from crm_membercare.engine.links import Link, LinkIndex, save_links
from crm_membercare.engine.raw_schema import raw_table
from crm_membercare.engine.state import open_state, transaction
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.flows import FLOWS, flow_by_name
from crm_membercare_tests.engine_support import active_links, synced_world

CONTACTS = flow_by_name("contacts_persons")
PRODUCTS = flow_by_name("products_products")


@pytest.fixture(scope="module")
def world():
    with synced_world() as synced:
        synced.cycle()  # our own writes read back once: from here on a cycle with no edits changes nothing
        yield synced


def _gone(world, table_name: str, record_id) -> str | None:
    return world.con.execute(f"SELECT gone FROM {table_name} WHERE id = ?", [record_id]).fetchall()[0][0]


def test_a_cycle_reads_the_links_of_what_changed_not_all_of_them(world) -> None:
    total = world.con.execute("SELECT count(*) FROM sync.links").fetchall()[0][0]
    crm_id, mc_id = active_links(world.con, CONTACTS)[0]
    with world.clients() as (crm, mc):
        crm.update("contacts", crm_id, {"last_name": "Lazylinks"})
        # The cycle's steps one by one, as the Dagster assets run them (`run_all` also drops the links of
        # flows it is done with, which would hide what was read).
        engine = SyncEngine(world.con, crm, mc)
        cycle = Cycle(engine)
        cycle.read()
        for flow in FLOWS:
            cycle.plan(flow)
            cycle.writeback(flow)
        report = cycle.finish()
        assert mc.get("persons", mc_id)["lastname"] == "Lazylinks"
    assert report.flows[CONTACTS.name].updated == 1
    read = len(engine.links._pairs)
    # The contact's own link, its company's, and our own write read back: a handful, not every link.
    assert 1 <= read <= 10 < total, (read, total)


def test_a_cycle_lets_go_of_the_links_of_flows_it_is_done_with(world) -> None:
    crm_id, _ = active_links(world.con, CONTACTS)[1]
    with world.clients() as (crm, mc):
        crm.update("contacts", crm_id, {"last_name": "Forgotten"})
        engine = SyncEngine(world.con, crm, mc)
        assert Cycle(engine).run_all().flows[CONTACTS.name].updated == 1
    assert engine.links._pairs == {}


def test_an_unchanged_ids_list_skips_the_comparison_and_a_changed_one_finds_the_delete(world) -> None:
    table = raw_table(Side.MEMBERCARE, "products")
    flows = FLOWS
    with world.clients() as (crm, mc):
        assert reconcile_ids(world.con, mc, table, flows) == (0, 0)
        digest = world.con.execute("SELECT ids_digest FROM sync.cursors WHERE system = ? AND resource = ?",
                                   [Side.MEMBERCARE, "products"]).fetchall()[0][0]
        assert digest is not None  # the list matched the stored ids: the next unchanged list is not compared
        victim = active_links(world.con, PRODUCTS)[0][1]
        mc.delete("products", victim)
        assert reconcile_ids(world.con, mc, table, flows) == (1, 0)
    assert _gone(world, table.name, victim) == "deleted"


def test_a_record_stored_and_deleted_between_two_checks_is_found_under_an_unchanged_list(world) -> None:
    """The list is the one last compared, but a record was stored since and is gone again: the live count
    differs from the list, so the comparison runs and the delete is found."""
    table = raw_table(Side.MEMBERCARE, "products")
    flows = FLOWS
    with world.clients() as (crm, mc):
        reconcile_ids(world.con, mc, table, flows)
        made = mc.create("products", {"productNumber": "P-BETWEEN", "name": "Between two checks"})
        extract_changes(world.con, mc, table, flows)  # stored by an extract, not seen by any /ids list
        mc.delete("products", made["id"])
        assert reconcile_ids(world.con, mc, table, flows) == (1, 0)
    assert _gone(world, table.name, made["id"]) == "deleted"


def test_with_an_interval_the_ids_list_is_not_read_until_it_is_due(world) -> None:
    table = raw_table(Side.MEMBERCARE, "products")
    victim = active_links(world.con, PRODUCTS)[-1][1]  # not the one an earlier test deleted
    world.cycle()
    world.mc_admin.clear_stats()
    with world.clients() as (crm, mc):
        mc.delete("products", victim)
    world.cycle(EngineSettings(ids_interval_s=3600))
    assert _gone(world, table.name, victim) is None  # not due: the hard delete is not looked for yet
    reads_with_interval = world.mc_admin.stats()["requests"].get("GET products", 0)
    world.mc_admin.clear_stats()
    world.cycle()  # the default compares every cycle
    assert _gone(world, table.name, victim) == "deleted"
    assert world.mc_admin.stats()["requests"].get("GET products", 0) > reads_with_interval


def test_an_active_link_answers_before_an_ended_one_of_the_same_record(tmp_path) -> None:
    with open_state(tmp_path / "links.duckdb") as con:
        with transaction(con):
            save_links(con, [(Link(CONTACTS.name, 1, "100", "ended", None, None), "match")])
        with transaction(con):
            save_links(con, [(Link(CONTACTS.name, 1, "200", "active", None, None), "create")])
        links = LinkIndex(con=con)
        assert links.by_crm(CONTACTS.name, 1).mc_id == "200"
        assert links.by_mc(CONTACTS.name, "100").state == "ended"
        assert links.pair(CONTACTS.name, 1, "100").state == "ended"
        assert links.by_mc(CONTACTS.name, "300") is None
        with transaction(con):
            save_links(con, [(Link(CONTACTS.name, 3, "300", "active", None, None), "create")])
        assert links.by_mc(CONTACTS.name, "300") is None  # an answer once read holds for the cycle
        assert LinkIndex(con=con).by_mc(CONTACTS.name, "300").crm_id == 3


def test_an_order_given_to_another_user_moves_its_invoice_and_a_quiet_cycle_skips_the_derived_flow(world) -> None:
    orders = flow_by_name("orders_invoices")
    users_flow = flow_by_name("users_invoices")
    with world.clients() as (crm, mc):
        users = {u["id"]: u for page in crm.iter_changes("users") for u in page.records}
        order_id, invoice_id = next((crm_id, mc_id) for crm_id, mc_id in active_links(world.con, orders)
                                    if crm.get("orders", crm_id).get("owner_id") is not None)
        owner = crm.get("orders", order_id)["owner_id"]
        new_owner = next(u for u in sorted(users) if u != owner and users[u].get("email"))
        crm.update("orders", order_id, {"owner_id": new_owner})
        world.cycle()
        assert mc.get("invoices", invoice_id)["ourReferenceEmail"].lower() == users[new_owner]["email"].lower()
        assert (new_owner, invoice_id) in active_links(world.con, users_flow)
        assert (owner, invoice_id) not in active_links(world.con, users_flow)
    planned_at = world.con.execute("SELECT cursor FROM sync.cursors WHERE resource = 'derived:users_invoices'"
                                   ).fetchall()[0][0]
    world.cycle()  # nothing changed: the derived flow is not planned again
    assert world.con.execute("SELECT cursor FROM sync.cursors WHERE resource = 'derived:users_invoices'"
                             ).fetchall()[0][0] == planned_at
