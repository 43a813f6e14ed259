"""End to end: the first sync of two seeded systems (scale small, overlap 0.3), then a cycle with no edits.

Both sandboxes run over real HTTP, the state is a real DuckDB file; every expectation is read back from the
systems through the clients and compared under the mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crm_membercare.engine.cycle import CycleReport
from crm_membercare.engine.identity import crm_identity, mc_identity
from crm_membercare.mapping.flows import FLOWS, Flow
from crm_membercare_tests.engine_support import (
    MATCHED_FLOWS,
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
ONE_TO_ONE_FLOWS = tuple(flow for flow in FLOWS if flow.derived is None)


@dataclass(frozen=True)
class FirstSync:
    world: World
    before: Snapshot
    after: Snapshot
    report: CycleReport


@pytest.fixture(scope="module")
def first_sync():
    with running_world() as world:
        world.seed(SEED, "small", 0.3)
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
    owned = [crm_id for flow in FLOWS if flow.invoice_type
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
