"""The crash test (DESIGN Part E, Reliability): `crm-membercare sync --once` as its own process, SIGKILLed
at random points of extract and writeback and restarted, user edits and creates between runs; then runs
with no kill until one plans nothing, and the oracle's invariants (`chaos.crash.run_crash`).

CI runs a small size; `make chaos` (CHAOS_SIZE=full) kills >= 20 times and writes the figures to
docs/reliability.md (CHAOS_REPORT). A failure names the seed and the command that replays it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from crm_membercare_tests.chaos import report
from crm_membercare_tests.chaos.crash import CrashResult, crash_config, run_crash
from crm_membercare_tests.chaos.history import TRACKED_ROWS
from crm_membercare_tests.chaos.oracle import (
    ONE_TO_ONE_FLOWS,
    REMOVABLE_FLOWS,
    USERS_FLOW,
    assert_no_stale_owner_emails,
)

SIZE = os.environ.get("CHAOS_SIZE", "ci")
SEED = int(os.environ.get("CHAOS_SEED", "20261127"))
REPLAY = f"seed {SEED}; replay: CHAOS_SEED={SEED} CHAOS_SIZE={SIZE} .venv/bin/pytest crm_membercare_tests/test_crash.py"
FLOWS = list(ONE_TO_ONE_FLOWS)
TRACKED_FLOWS = [*dict.fromkeys(row.flow for row in TRACKED_ROWS), USERS_FLOW]


@pytest.fixture(scope="module")
def crash() -> CrashResult:
    with tempfile.TemporaryDirectory() as tmp:
        result = run_crash(crash_config(SIZE, SEED), Path(tmp))
    if os.environ.get("CHAOS_REPORT"):
        report.write_section(Path(os.environ["CHAOS_REPORT"]), "crash", crash_figures(result))
    return result


def crash_figures(result: CrashResult) -> str:
    rows = {
        "seed": result.config.seed,
        "SIGKILLs of `crm-membercare sync --once`": result.kills,
        **{f"kills during {phase}": n for phase, n in sorted(result.kill_phases.items())},
        "writes (creates, stamps) that reached a system but not the state file at a kill": result.writes_not_recorded,
        "runs that finished before their kill came": result.runs_completed_before_kill,
        "runs without kills until quiet": result.runs_to_quiet,
        "user operations between runs": result.log.total_operations,
        "user deletes (each read back with its counterpart)": len(result.deletes),
        "user deletes not propagated": len(result.deletes_not_propagated),
        **report.findings_rows(result.findings),
        "wall time (s)": round(result.seconds, 1),
    }
    return (f"## Crash test ({SIZE} size)\n\nSandbox latency {result.config.latency_ms} ms per call.\n\n"
            f"{report.table(rows)}\n\n### Rejects by reason\n\n{report.rejects_table(result.findings)}\n")


def test_the_runs_were_really_killed(crash):
    assert crash.kills >= crash.config.kills, REPLAY
    assert any(phase.startswith("writeback") for phase in crash.kill_phases), crash.kill_phases


def test_some_kills_fell_between_a_write_and_its_commit(crash):
    assert crash.writes_not_recorded > 0, f"no kill landed in the window; {REPLAY}"


def test_runs_without_kills_finish_and_go_quiet(crash):
    assert crash.last_exit_codes and set(crash.last_exit_codes) == {0}, f"{crash.last_errors}; {REPLAY}"
    assert crash.runs_to_quiet < 5, f"still planning after {crash.runs_to_quiet} runs; {REPLAY}"


@pytest.mark.parametrize("flow", FLOWS)
def test_zero_duplicates(crash, flow):
    assert crash.findings.duplicates.get(flow, []) == [], REPLAY


@pytest.mark.parametrize("flow", FLOWS)
def test_converged(crash, flow):
    drift = crash.findings.not_converged.get(flow, {})
    assert drift == {}, f"{flow}: {len(drift)} pairs differ, e.g. {dict(list(drift.items())[:5])}; {REPLAY}"


@pytest.mark.parametrize("flow", FLOWS)
def test_every_live_record_is_linked(crash, flow):
    assert crash.findings.unlinked.get(flow, []) == [], REPLAY


def test_links_one_to_one(crash):
    assert crash.findings.link_violations == [], REPLAY


def test_outbox_drained(crash):
    assert crash.findings.open_outbox == [], REPLAY


@pytest.mark.parametrize("flow", TRACKED_FLOWS)
def test_zero_lost_updates(crash, flow):
    """Each tracked row's final value on both sides is what the last value a user wrote on either side must read
    as there (chaos.expect, from DESIGN Part B), or the winner of a recorded conflict the oracle confirmed: the
    oracle's check against the actor's own write log."""
    lost = [item for item in crash.findings.lost_updates if item["flow"] == flow]
    assert lost == [], f"{len(lost)} lost updates, e.g. {lost[:5]}; {REPLAY}"


def test_lost_updates_were_checked_at_all(crash):
    assert crash.findings.checked_rows >= 5, f"only {crash.findings.checked_rows} values checked; {REPLAY}"


@pytest.mark.parametrize("flow", list(REMOVABLE_FLOWS))
def test_ended_links_have_both_records_gone(crash, flow):
    assert crash.findings.removal_mismatches.get(flow, []) == [], REPLAY


def test_conflict_winners_follow_the_policy(crash):
    assert crash.findings.wrong_winners == [], REPLAY


def test_only_provoked_rejects_and_ambiguous_matches(crash):
    assert crash.findings.unexplained_rejects == [], REPLAY
    assert crash.findings.unexplained_ambiguous == [], REPLAY
    assert_no_stale_owner_emails(crash.findings)


def test_invoices_carry_their_owners_reference(crash):
    assert crash.findings.owner_mismatches == [], REPLAY
    assert_no_stale_owner_emails(crash.findings)


def test_every_user_delete_propagated(crash):
    """Judged from the actor's own deletes, not the link table: the deleted record stays gone and the counterpart
    it had at the last refresh is gone too."""
    assert crash.deletes_not_propagated == [], REPLAY
    linked = [d for d in crash.deletes if d.counterpart is not None]
    assert linked, f"no delete of a linked record happened: {crash.deletes}; {REPLAY}"
