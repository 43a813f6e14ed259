"""The sync engine's operations over one state file and both systems (DESIGN Part C): start and finish a
cycle, read the raw tables, plan a flow, apply one direction of a flow's change set.

The order they run in, and the books kept around them, are `Cycle`'s (engine/cycle.py), walking the step list of
engine/steps.py: flows in dependency order, each written back before the next is planned, so a contact's
company is linked before the contact is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from crm_membercare.engine import breaker
from crm_membercare.engine.apply import ApplyCounts, Executor
from crm_membercare.engine.derived import plan_derived_flow, record_planned
from crm_membercare.engine.extract import ExtractResult, extract_tables, ids_due, reconcile_ids
from crm_membercare.engine.links import LinkIndex
from crm_membercare.engine.operations import PlanSummary
from crm_membercare.engine.plan import plan_flow
from crm_membercare.engine.raw_schema import RawTable, tables_of
from crm_membercare.engine.snapshot import chunks, dirty_ids, load_flow_input, retry_ambiguous, save_plan
from crm_membercare.engine.state import ensure_raw_tables, transaction
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.countries import CountryTable
from crm_membercare.mapping.flows import FLOWS, Flow
from crm_membercare.mapping.links import MappingContext
from crm_membercare.systems import CustomCrmClient, MemberCareClient
from crm_membercare.systems.redaction import redact

Progress = Callable[[str], None]
ERROR_TEXT_LIMIT = 500


@dataclass(frozen=True)
class EngineSettings:
    conflict_policy: dict[str, str] = field(default_factory=dict)  # flow -> 'newest' | 'crm' | 'membercare'
    delete_policy: dict[str, str] = field(default_factory=dict)  # flow -> 'propagate' | 'unlink' | 'ignore'
    breaker_share: float = breaker.DEFAULT_SHARE
    breaker_minimum: int = breaker.DEFAULT_MINIMUM
    workers: int = 8
    plan_chunk: int = 5000  # dirty records per side planned (and held in memory) at a time
    ids_interval_s: float = 0.0  # MemberCare `/ids` compared every cycle (0) or at most this often
    page_size: int = 0  # records per list request (0: each API's maximum)


@dataclass
class FlowSummary:
    flow: str
    planned: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    conflicts: int = 0
    rejects: int = 0
    pending: int = 0
    waiting: int = 0
    ambiguous: int = 0
    breaker: breaker.BreakerStatus | None = None
    skipped: str | None = None  # why the flow was not written back this cycle


@dataclass
class CycleReport:
    cycle_id: int
    extracts: list[ExtractResult] = field(default_factory=list)
    flows: dict[str, FlowSummary] = field(default_factory=dict)


class SyncEngine:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        crm: CustomCrmClient,
        mc: MemberCareClient,
        settings: EngineSettings | None = None,
        *,
        flows: tuple[Flow, ...] = FLOWS,
        progress: Progress | None = None,
    ) -> None:
        self.con, self.crm, self.mc = con, crm, mc
        self.settings = settings or EngineSettings()
        self.flows = flows
        self.tables = tables_of(flows)  # the raw tables the flows read, created if the state file lacks one
        ensure_raw_tables(con, self.tables)
        self.progress = progress or (lambda message: None)
        self.cycle_id = 0
        self._country_list: list[dict] | None = None
        self._countries: CountryTable | None = None
        self._links: LinkIndex | None = None

    # --- cycle bookkeeping -----------------------------------------------------------------------------
    def start_cycle(self) -> int:
        """A new `running` cycle. One process holds the state at a time, so an older cycle still `running` was
        left by a process that died (SIGKILL, a crash, a lost machine) before it could say how it ended."""
        with transaction(self.con):
            self.cycle_id = self.con.execute("INSERT INTO sync.cycles DEFAULT VALUES RETURNING id").fetchall()[0][0]
            self.con.execute(
                "UPDATE sync.cycles SET status = 'interrupted', error = ? WHERE status = 'running' AND id < ?",
                [f"its process ended before the cycle did (found at the start of cycle {self.cycle_id})",
                 self.cycle_id])
        self._links = None
        return self.cycle_id

    def finish_cycle(self, report: CycleReport, status: str = "completed", error: BaseException | None = None) -> None:
        """Record the cycle's end; a failed one keeps its error's kind and first line (`error_text`)."""
        with transaction(self.con):
            for summary in report.flows.values():
                self.con.execute(
                    """INSERT OR REPLACE INTO sync.cycle_flows
                       (cycle_id, flow, created, updated, deleted, conflicts, rejects, pending)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                    [report.cycle_id, summary.flow, summary.created, summary.updated, summary.deleted,
                     summary.conflicts, summary.rejects, summary.pending],
                )
            self.con.execute(
                "UPDATE sync.cycles SET finished_at = now(), status = ?, error = ? WHERE id = ?",
                [status, None if error is None else error_text(error), report.cycle_id],
            )

    # --- shared context --------------------------------------------------------------------------------
    @property
    def links(self) -> LinkIndex:
        if self._links is None:
            integer_ids = [f.name for f in self.flows if f.mc.integer_ids]
            self._links = LinkIndex(con=self.con, integer_mc_ids=integer_ids,
                                    many_per_crm=[f.name for f in self.flows if f.derived is not None])
        return self._links

    def country_list(self) -> list[dict]:
        """MemberCare's `addresses/countries`, read once per engine: the read step stores it, the mapping
        translates addresses through it."""
        if self._country_list is None:
            self._country_list = self.mc.countries()
        return self._country_list

    @property
    def context(self) -> MappingContext:
        if self._countries is None:
            self._countries = CountryTable.from_api(self.country_list())
        return MappingContext(self.links, self._countries)

    # --- steps ---------------------------------------------------------------------------------------
    def extract(self, table: RawTable) -> ExtractResult:
        return self.extract_all([table])[0]

    def extract_all(self, tables: tuple[RawTable, ...] | list[RawTable] | None = None) -> list[ExtractResult]:
        """Every raw table the flows read (or those given), side by side (engine/extract.py). A MemberCare
        resource's `/ids` list, when due, is read by its reader after its last page and compared once every
        page is stored."""
        tables = list(self.tables if tables is None else tables)
        due = [t.name for t in tables
               if t.system == Side.MEMBERCARE and ids_due(self.con, t, self.settings.ids_interval_s)]
        results, listed = extract_tables(
            self.con, {Side.CRM: self.crm, Side.MEMBERCARE: self.mc}, tables, self.flows, cycle_id=self.cycle_id,
            per_system=self.settings.workers, page_size=self.settings.page_size, list_ids=due, progress=self.progress)
        for position, table in enumerate(tables):
            if table.name in listed:
                results[position] = _with_ids(results[position], *reconcile_ids(
                    self.con, self.mc, table, self.flows, cycle_id=self.cycle_id, listed=listed[table.name]))
        for result in results:
            self.progress(f"extracted {result.system}.{result.resource}: {result.read} read, {result.changed} changed")
        return results

    def plan(self, flow: Flow) -> PlanSummary:
        """Plan the flow's dirty records, a chunk at a time, each chunk committed with its operations."""
        total = PlanSummary(flow.name)
        if flow.derived is not None:
            planning = plan_derived_flow(self.con, flow, self.links, self.context, chunk=self.settings.plan_chunk,
                                         flows=self.flows)
            for plan, given in planning.chunks if planning else ():
                with transaction(self.con):
                    save_plan(self.con, plan, given, self.cycle_id, self.links, self.flows)
                total.add(plan)
            if planning:
                with transaction(self.con):
                    record_planned(self.con, flow, planning.started)
            self.progress(f"planned {flow.name}: {total.operations} operations")
            return total
        with transaction(self.con):
            retry_ambiguous(self.con, flow, self.cycle_id)
        for part in chunks(dirty_ids(self.con, flow), self.settings.plan_chunk):
            with transaction(self.con):
                given = load_flow_input(
                    self.con, flow, self.links, self.context, dirty=part,
                    conflict_policy=self.settings.conflict_policy.get(flow.name),
                    delete_policy=self.settings.delete_policy.get(flow.name),
                )
                plan = plan_flow(given)
                save_plan(self.con, plan, given, self.cycle_id, self.links, self.flows)
            total.add(plan)
        self.progress(f"planned {flow.name}: {total.operations} operations")
        return total

    def breaker_status(self, flow: Flow) -> breaker.BreakerStatus:
        return breaker.evaluate(self.con, flow.name, share=self.settings.breaker_share,
                                minimum=self.settings.breaker_minimum)

    def apply(self, flow: Flow, directions: tuple[str, ...]) -> dict[str, ApplyCounts]:
        """The flow's open operations in `directions`, written to the target systems; counts per direction."""
        executor = Executor(self.con, self.crm, self.mc, self.links, self.context,
                            cycle_id=self.cycle_id, workers=self.settings.workers, flows=self.flows)
        counts = executor.apply_flow(flow, directions)
        for direction, done in counts.items():
            if done != ApplyCounts():
                self.progress(f"wrote back {flow.name} {direction}: {done}")
        return counts

def error_text(error: BaseException) -> str:
    """'Kind: first line of the message', bounded. The clients' messages never carry a credential (they name
    method and path, never the query string); a query-string key is redacted anyway, for any other error."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return redact(text)[:ERROR_TEXT_LIMIT]


def _with_ids(result: ExtractResult, deleted: int, fetched: int) -> ExtractResult:
    """An extract's result with what its `/ids` comparison found added."""
    return ExtractResult(result.system, result.resource, result.read + fetched, result.changed + fetched, deleted,
                         result.cursor)

