"""The fault storm (DESIGN Part E, Reliability): user operations on both sides interleaved with sync cycles
while both sandboxes fail, lose responses, rate-limit and expire tokens; then faults off and three cycles.

The scenario runs once per module (`chaos.storm.run_storm`); each test checks one invariant from the oracle.
CI runs the small size; `make chaos` (CHAOS_SIZE=full) runs >= 500 operations and >= 10 cycles and writes
the figures to docs/reliability.md (CHAOS_REPORT). A failure names the seed and the command that replays it.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from crm_membercare_tests import golden
from crm_membercare_tests.chaos import expect, report
from crm_membercare_tests.chaos.expect import FLOWS, USER_FIELDS
from crm_membercare_tests.chaos.history import TRACKED_ROWS
from crm_membercare_tests.chaos.oracle import (
    ONE_TO_ONE_FLOWS,
    REMOVABLE_FLOWS,
    USERS_FLOW,
    assert_no_stale_owner_emails,
)
from crm_membercare_tests.chaos.storm import StormResult, run_storm, storm_config
from crm_membercare_tests.engine_support import running_world

SIZE = os.environ.get("CHAOS_SIZE", "ci")
SEED = int(os.environ.get("CHAOS_SEED", "20261127"))
REPLAY = (f"seed {SEED}; replay: CHAOS_SEED={SEED} CHAOS_SIZE={SIZE} "
          ".venv/bin/pytest crm_membercare_tests/test_fault_storm.py")
TRACKED_FLOWS = (*dict.fromkeys(row.flow for row in TRACKED_ROWS), USERS_FLOW)


@pytest.fixture(scope="module")
def storm() -> StormResult:
    with running_world() as world:
        result = run_storm(storm_config(SIZE, SEED), world)
    if os.environ.get("CHAOS_REPORT"):
        report.write_section(Path(os.environ["CHAOS_REPORT"]), "storm", storm_figures(result))
    return result


def storm_figures(result: StormResult) -> str:
    config, found = result.config, result.findings
    rows = {
        "seed": config.seed,
        "user operations run": result.log.total_operations,
        "sync cycles (under faults + after)": f"{result.cycles - config.quiet_cycles} + {config.quiet_cycles}",
        "cycles that failed under faults": len(result.failed_cycles),
        "API requests served under faults": result.requests,
        "faults injected: 5xx errors": result.faults["error"],
        "faults injected: lost responses": result.faults["lost_response"],
        "faults injected: rate-limited (429)": result.faults["rate_limited"],
        "MemberCare token calls (5 s tokens)": result.token_calls,
        **report.findings_rows(found),
        "wall time (s)": round(result.seconds, 1),
    }
    kinds = report.table(dict(sorted(result.log.operations.items())), "user operation", "done")
    return (f"## Fault storm ({SIZE} size)\n\nFaults on both sandboxes: {config.faults}.\n\n"
            f"{report.table(rows)}\n\n### Operations by kind\n\n{kinds}\n\n### Rejects by reason\n\n"
            f"{report.rejects_table(found)}\n")


def test_the_storm_was_a_storm(storm):
    config, ops = storm.config, storm.log.operations
    assert storm.log.total_operations >= config.operations, REPLAY
    assert storm.cycles >= config.cycles + config.quiet_cycles, REPLAY
    assert min(storm.faults[kind] for kind in ("error", "lost_response", "rate_limited")) > 0, storm.faults
    assert storm.token_calls > 2, "the 5 s MemberCare tokens never expired during the storm"
    for kind in ("edit_crm_during_cycle", "edit_mc_during_cycle", "edit_both_sides", "delete_with_pending_change",
                 "create_family_crm", "create_family_mc", "edit_mc", "create_mc", "create_crm", "edit_user",
                 "edit_locked_order", "create_ambiguous_contacts"):
        assert ops[kind] > 0, f"the storm never did {kind}; {REPLAY}"


def test_the_actor_wrote_every_tracked_row(storm):
    written = {(w.resource, w.row) for w in storm.log.every}
    missing = [(row.flow, row.key) for row in TRACKED_ROWS if not any(
        (resource, row.key) in written for resource in (FLOWS[row.flow].crm_resource, FLOWS[row.flow].mc_resource))]
    assert missing == [], f"no user write of {missing}; {REPLAY}"
    assert {f for r, f in written if r == "users"} == set(USER_FIELDS), REPLAY


def test_the_actor_deleted_in_every_flow(storm):
    flows = {(removal.flow, removal.side) for removal in storm.log.removals}
    missing = [(flow, side) for flow in REMOVABLE_FLOWS for side in ("crm", "membercare") if (flow, side) not in flows]
    assert missing == [], f"no user delete in {missing}; {REPLAY}"


def test_every_cycle_ran_to_the_end(storm):
    assert storm.failed_cycles == [], REPLAY


@pytest.mark.parametrize("flow", ONE_TO_ONE_FLOWS)
def test_converged(storm, flow):
    drift = storm.findings.not_converged.get(flow, {})
    assert drift == {}, f"{flow}: {len(drift)} pairs differ, e.g. {dict(list(drift.items())[:5])}; {REPLAY}"


@pytest.mark.parametrize("flow", REMOVABLE_FLOWS)
def test_deletes_propagated(storm, flow):
    assert storm.findings.removal_mismatches.get(flow, []) == [], REPLAY
    wrong = [d for d in storm.findings.deletes_not_propagated if f"flow='{flow}'" in d]
    assert wrong == [], f"{wrong[:5]}; {REPLAY}"


@pytest.mark.parametrize("flow", ONE_TO_ONE_FLOWS)
def test_every_live_record_is_linked(storm, flow):
    assert storm.findings.unlinked.get(flow, []) == [], REPLAY


@pytest.mark.parametrize("flow", ONE_TO_ONE_FLOWS)
def test_zero_duplicates(storm, flow):
    assert storm.findings.duplicates.get(flow, []) == [], REPLAY


@pytest.mark.parametrize("flow", TRACKED_FLOWS)
def test_zero_lost_updates(storm, flow):
    lost = [item for item in storm.findings.lost_updates if item["flow"] == flow]
    assert lost == [], f"{len(lost)} lost updates, e.g. {lost[:5]}; {REPLAY}"


def test_lost_updates_were_checked_at_all(storm):
    assert storm.findings.checked_rows >= storm.config.operations // 4, REPLAY


def test_conflict_winners_follow_the_policy(storm):
    """Each recorded winner is the side the flow's policy gives from both records' change instants (the oracle's
    own reading of the write log), a filled value over an empty one."""
    found = storm.findings
    wrong = found.wrong_winners
    assert wrong == [], f"{len(wrong)} wrong winners, e.g. {wrong[:3]}; {REPLAY}"
    assert found.conflicts == 0 or found.conflicts_judged > 0, f"no conflict could be judged; {REPLAY}"


def test_only_provoked_rejects_are_open(storm):
    found = storm.findings
    assert found.unexplained_rejects == [], f"{found.unexplained_rejects[:8]}; {REPLAY}"
    assert found.excused_rejects > 0, f"the rejects the actor provoked were never recorded; {REPLAY}"
    assert_no_stale_owner_emails(found)


def test_only_provoked_ambiguous_matches(storm):
    found = storm.findings
    assert found.unexplained_ambiguous == [], f"{found.unexplained_ambiguous[:8]}; {REPLAY}"
    assert found.excused_ambiguous > 0, f"the ambiguous match the actor provoked was not reported; {REPLAY}"


def test_invoices_carry_their_owners_reference(storm):
    """B6: every invoice of an owned order or quote names its owner as the CRM has them now."""
    found = storm.findings
    assert found.owner_mismatches == [], f"{found.owner_mismatches[:5]}; {REPLAY}"
    assert found.checked_invoice_references > 0, REPLAY
    assert_no_stale_owner_emails(found)


def test_links_one_to_one(storm):
    assert storm.findings.link_violations == [], REPLAY


def test_outbox_drained(storm):
    assert storm.findings.open_outbox == [], REPLAY


# --- the oracle's expectations themselves, against the hand-written golden examples (fast: no storm) ---------------

GOLDEN_KNOWN = expect.Translation({flow: dict(pairs) for flow, pairs in golden.LINKS.items()},
                                  {c["id"]: c["iso2Letter"] for c in golden.COUNTRIES_RESULT})
GOLDEN_PAIRS = [g for g in golden.GOLDEN if g.flow in expect.ROWS]


def test_expectations_import_nothing_from_the_engine():
    tree = ast.parse(Path(expect.__file__).read_text())
    modules = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    modules += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert [m for m in modules if m and m.split(".")[0] == "crm_membercare"] == []


@pytest.mark.parametrize("pair", GOLDEN_PAIRS, ids=lambda g: g.name)
def test_expectations_agree_with_every_golden_pair(pair):
    assert expect.disagreeing_rows(pair.flow, pair.crm, pair.mc, GOLDEN_KNOWN) == []
    assert expect.match_key(pair.flow, "crm", pair.crm) == expect.match_key(pair.flow, "membercare", pair.mc)


@pytest.mark.parametrize("enum", [e for e in golden.ENUM_ROWS if e.flow in expect.ROWS],
                         ids=lambda e: f"{e.flow}.{e.crm_field}")
def test_expectations_see_every_wrong_enum_value(enum):
    """Each CRM value against every MemberCare value neither table pairs it with: out of sync."""
    for crm_value, _ in enum.to_mc:
        wrong = {m for _, m in enum.to_mc} - {m for c, m in enum.to_mc if c == crm_value} \
            - {m for m, c in enum.to_crm if c == crm_value}
        for mc_value in wrong:
            crm, mc = {**enum.base.crm, enum.crm_field: crm_value}, {**enum.base.mc, enum.mc_field: mc_value}
            assert enum.crm_field in expect.disagreeing_rows(enum.flow, crm, mc, GOLDEN_KNOWN), (crm_value, mc_value)


def test_expectations_read_membercare_paths():
    per = golden.PER_MC  # a landline before the mobile, two emails, two addresses
    assert expect.read_mc(per, "contacts[Mobile].value") == "+4741234567"
    assert expect.read_mc(per, "contacts[Email].value") == "per.berg@example.no"
    assert expect.read_mc(per, "addresses[0].postalCode.city") == "Tromsø"
    assert expect.read_mc(golden.EMPTY_PERSON_MC, "employments[0].position") is None
    assert expect.mc_reading(expect.row("contacts_persons", "phone"), "+47 912 34 567") == "+4791234567"
    assert expect.crm_reading(expect.row("customers_companies", "customer_type"), "Nonprofit") == "nonprofit"
