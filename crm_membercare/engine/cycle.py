"""One cycle: a run of the step list (engine/steps.py): what `sync --once` and a Dagster run share.

`Cycle` runs a step and keeps the books: the cycle's summaries, the guards that stop a flow's writeback (the
circuit breaker, payloads the target would refuse), one writeback pass for both directions, the links let go
once no later step needs them. The CLI walks the whole list (`run_all`); a Dagster asset runs its one step
(`run`) and reports what the step returned. Whatever differs between the two entry points is reporting, never behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from crm_membercare.engine import breaker, outbox, qa
from crm_membercare.engine.apply import ApplyCounts
from crm_membercare.engine.extract import ExtractResult
from crm_membercare.engine.operations import DIRECTIONS, PlanSummary
from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.engine.reference import store_countries
from crm_membercare.engine.state import transaction
from crm_membercare.engine.steps import PlanStep, ReadStep, Step, dependents, step_list
from crm_membercare.engine.sync_engine import CycleReport, EngineSettings, FlowSummary, Progress, SyncEngine
from crm_membercare.mapping.flows import Flow
from crm_membercare.systems import CustomCrmClient, MemberCareClient


@dataclass
class PlanOutcome:
    """A planned flow and the guards on its writeback (DESIGN C10, the blocking checks of Part D)."""

    summary: PlanSummary
    breaker: breaker.BreakerStatus
    problems: dict[str, qa.Finding] = field(default_factory=dict)  # direction -> payloads the target refuses

    @property
    def blocked_because(self) -> str | None:
        if self.breaker.blocks:
            return (f"circuit breaker tripped: {self.breaker.destructive} removals > threshold "
                    f"{self.breaker.threshold}, held until acknowledged")
        refused = {d: len(f.failing) for d, f in self.problems.items() if f.failing}
        if refused:
            return "payloads the target would refuse: " + ", ".join(f"{n} {d}" for d, n in refused.items())
        return None


class Cycle:
    """One cycle of the sync engine, run a step at a time."""

    def __init__(self, engine: SyncEngine, steps: tuple[Step, ...] | None = None) -> None:
        self.engine = engine
        self.steps = steps if steps is not None else step_list(engine.flows)
        self.report = CycleReport(engine.start_cycle())
        self.outcomes: dict[str, PlanOutcome] = {}
        self.blocked: dict[str, str] = {}  # flow -> why its writeback, and its dependents', did not run
        self.done: set[str] = set()
        self.error: BaseException | None = None

    # --- the whole list ---------------------------------------------------------------------------------
    def run_all(self) -> CycleReport:
        try:
            for step in self.steps:
                self.run(step)
        finally:
            self.finish()
        return self.report

    def run(self, step: Step, **options):
        """One step (`options` as its method takes them: the tables to read, a breaker acknowledgement, the
        directions to write); a failure is remembered for the cycle's record and raised."""
        try:
            if isinstance(step, ReadStep):
                result = self.read(**options)
            elif isinstance(step, PlanStep):
                result = self.plan(step.flow, **options)
            else:
                result = self.writeback(step.flow, **options)
        except BaseException as error:
            self.error = error
            raise
        self.done.add(step.name)
        self._forget_links_no_longer_needed()
        return result

    def finish(self) -> CycleReport:
        """Record the cycle's end: what is still open per flow, and how it ended."""
        for summary in self.report.flows.values():
            summary.pending = outbox.count_open(self.engine.con, summary.flow)
        self.engine.finish_cycle(self.report, status="failed" if self.error else "completed", error=self.error)
        return self.report

    # --- the steps --------------------------------------------------------------------------------------
    def read(self, tables: tuple[RawTable, ...] | list[RawTable] | None = None,
             countries: bool = True) -> list[ExtractResult]:
        """The raw tables since their cursors (every one the engine's flows read, or those given), and
        MemberCare's countries (the reference addresses use)."""
        if countries:
            store_countries(self.engine.con, self.engine.country_list())
        results = self.engine.extract_all(tables)
        self.report.extracts.extend(results)
        return results

    def plan(self, flow: Flow, acknowledge: bool = False) -> PlanOutcome | None:
        """Plan the flow and judge its change set. None when a flow it depends on was blocked this cycle."""
        if self._skipped(flow):
            return None
        if acknowledge:
            with transaction(self.engine.con):
                acknowledged = breaker.acknowledge(self.engine.con, flow.name)
            self.engine.progress(f"breaker of {flow.name}: {'acknowledged' if acknowledged else 'not tripped'}")
        planned = self.engine.plan(flow)
        # Judged on the change set as planned, so a tripped flow is recorded (and can be acknowledged) even
        # though its writeback does not run.
        outcome = PlanOutcome(planned, self._hold_for_breaker(flow), self._refused_payloads(flow))
        self.outcomes[flow.name] = outcome
        summary = self.summary(flow)
        summary.planned += planned.operations
        summary.conflicts += planned.conflicts
        summary.rejects += planned.rejects
        summary.waiting, summary.ambiguous, summary.breaker = planned.waiting, planned.ambiguous, outcome.breaker
        if outcome.blocked_because:
            self._block(flow, outcome.blocked_because)
        return outcome

    def writeback(self, flow: Flow, directions: tuple[str, ...] = DIRECTIONS) -> dict[str, ApplyCounts] | None:
        """Apply the flow's open operations in `directions`; None when the flow is blocked this cycle."""
        if self._skipped(flow) or flow.name in self.blocked:
            return None
        # Planned in this cycle, the breaker was judged then; a writeback run alone (a subset launched in the UI)
        # judges it now: a tripped flow's removals stay held, what else is pending is applied.
        status = self.outcomes[flow.name].breaker if flow.name in self.outcomes else self._hold_for_breaker(flow)
        # Both directions in one pass: a create on one side queues its follow-up on the other (the identity
        # stamp, a server-assigned number), which the same pass applies, so a cycle leaves nothing of its own.
        totals = self.engine.apply(flow, directions)
        if status.tripped and status.acknowledged:
            with transaction(self.engine.con):
                breaker.rearm(self.engine.con, flow.name)
        summary = self.summary(flow)
        for counts in totals.values():
            summary.created += counts.created
            summary.updated += counts.updated
            summary.deleted += counts.deleted
            summary.rejects += counts.rejected
        summary.breaker = status
        return totals

    # --- bookkeeping ------------------------------------------------------------------------------------
    def summary(self, flow: Flow) -> FlowSummary:
        return self.report.flows.setdefault(flow.name, FlowSummary(flow.name))

    def _hold_for_breaker(self, flow: Flow) -> breaker.BreakerStatus:
        """Evaluate the breaker and record it: a tripped flow's removals are held (so an operator can
        acknowledge them), an untripped or acknowledged one's released."""
        status = self.engine.breaker_status(flow)
        with transaction(self.engine.con):
            breaker.guard(self.engine.con, status)
        return status

    def _refused_payloads(self, flow: Flow) -> dict[str, qa.Finding]:
        return qa.change_sets_problems(self.engine.con, flow, self.engine.context)

    def _block(self, flow: Flow, why: str) -> None:
        self.blocked[flow.name] = why
        self.summary(flow).skipped = why
        self.engine.progress(f"{flow.name}: not written back: {why}")

    def _skipped(self, flow: Flow) -> bool:
        """Whether a flow this one depends on was blocked: then this one waits for the next cycle too (its
        references may be among what was not written)."""
        blocking = [name for name in self.blocked if flow.name in dependents(self.engine.flows, name)]
        if blocking and flow.name not in self.blocked:
            self._block(flow, f"depends on {', '.join(blocking)}, not written back this cycle")
        return bool(blocking)

    def _forget_links_no_longer_needed(self) -> None:
        """Let go of the cached links of flows no step still to run needs (memory at a million records)."""
        to_run = [s.flow for s in self.steps if not isinstance(s, ReadStep) and s.name not in self.done]
        needed = {name for flow in to_run for name in (flow.name, *flow.depends_on)}
        self.engine.links.forget(f.name for f in self.engine.flows if f.name not in needed)


def run_cycle(con: duckdb.DuckDBPyConnection, crm: CustomCrmClient, mc: MemberCareClient,
              settings: EngineSettings | None = None, progress: Progress | None = None) -> CycleReport:
    """One whole cycle over the state and both systems (what `sync --once` runs)."""
    return Cycle(SyncEngine(con, crm, mc, settings, progress=progress)).run_all()


__all__ = ["Cycle", "CycleReport", "EngineSettings", "FlowSummary", "PlanOutcome", "SyncEngine", "run_cycle"]
