"""The fault storm (DESIGN Part E, Reliability): user operations on both sides interleaved with sync cycles
while both sandboxes fail, lose responses, rate-limit and expire tokens; then faults off and three cycles.

The scenario runs once per module (`chaos.storm.run_storm`); each test checks one invariant from the oracle.
CI runs the small size; `make chaos` (CHAOS_SIZE=full) runs >= 500 operations and >= 10 cycles and writes
the figures to docs/reliability.md (CHAOS_REPORT). A failure names the seed and the command that replays it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crm_membercare_tests.chaos import report
from crm_membercare_tests.chaos.history import TRACKED_ROWS
from crm_membercare_tests.chaos.oracle import ONE_TO_ONE_FLOWS, REMOVABLE_FLOWS
from crm_membercare_tests.chaos.storm import StormResult, run_storm, storm_config
from crm_membercare_tests.engine_support import running_world

SIZE = os.environ.get("CHAOS_SIZE", "ci")
SEED = int(os.environ.get("CHAOS_SEED", "20261127"))
REPLAY = (f"seed {SEED}; replay: CHAOS_SEED={SEED} CHAOS_SIZE={SIZE} "
          ".venv/bin/pytest crm_membercare_tests/test_fault_storm.py")
TRACKED_FLOWS = tuple(dict.fromkeys(row.flow for row in TRACKED_ROWS))


def flow_params(flows) -> list[str]:
    return [flow if isinstance(flow, str) else flow.name for flow in flows]


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
    for kind in ("edit_crm_during_cycle", "edit_both_sides", "delete_with_pending_change", "create_family_crm",
                 "create_family_mc", "edit_mc", "create_mc", "create_crm"):
        assert ops[kind] > 0, f"the storm never did {kind}; {REPLAY}"


def test_every_cycle_ran_to_the_end(storm):
    assert storm.failed_cycles == [], REPLAY


@pytest.mark.parametrize("flow", flow_params(ONE_TO_ONE_FLOWS))
def test_converged(storm, flow):
    drift = storm.findings.not_converged.get(flow, {})
    assert drift == {}, f"{flow}: {len(drift)} pairs differ, e.g. {dict(list(drift.items())[:5])}; {REPLAY}"


@pytest.mark.parametrize("flow", flow_params(REMOVABLE_FLOWS))
def test_deletes_propagated(storm, flow):
    assert storm.findings.removal_mismatches.get(flow, []) == [], REPLAY


@pytest.mark.parametrize("flow", flow_params(ONE_TO_ONE_FLOWS))
def test_every_live_record_is_linked(storm, flow):
    assert storm.findings.unlinked.get(flow, []) == [], REPLAY


@pytest.mark.parametrize("flow", flow_params(ONE_TO_ONE_FLOWS))
def test_zero_duplicates(storm, flow):
    assert storm.findings.duplicates.get(flow, []) == [], REPLAY


@pytest.mark.parametrize("flow", flow_params(TRACKED_FLOWS))
def test_zero_lost_updates(storm, flow):
    lost = [item for item in storm.findings.lost_updates if item["flow"] == flow]
    assert lost == [], f"{len(lost)} lost updates, e.g. {lost[:5]}; {REPLAY}"


def test_lost_updates_were_checked_at_all(storm):
    assert storm.findings.checked_rows >= storm.config.operations // 4, REPLAY


def test_links_one_to_one(storm):
    assert storm.findings.link_violations == [], REPLAY


def test_outbox_drained(storm):
    assert storm.findings.open_outbox == [], REPLAY
