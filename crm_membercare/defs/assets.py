"""The asset graph, generated from `RAW_TABLES` and `FLOWS` (DESIGN Part D); each step is one engine call.

    raw/crm_<resource>, raw/membercare_<resource>          one step: every raw table read   engine.extract_all
    links/<flow>_links + changes/<flow>_changes_to_*       one step per flow: plan          engine.plan
    writeback/<flow>_written_to_*                          one step per flow: apply         engine.writeback
    operations/sync_conflicts, operations/sync_rejects     one step: what needs a person

A flow's links wait on the writeback of the flows it references (`flow.depends_on`), so a contact is planned
after its company was linked or created. The change sets carry the blocking checks (circuit breaker, payload
validation): a failing one skips that flow's writeback, and what depends on it, in the same run. Fewer,
larger steps keep a sensor's run short (Dagster's overhead is per step); the graph still shows every table.
"""


from collections.abc import Iterable

import dagster as dg

from crm_membercare.defs import keys, tables
from crm_membercare.defs.resources import SyncEngineResource
from crm_membercare.display import markdown_cell, printable
from crm_membercare.engine import events, qa
from crm_membercare.engine.apply import ApplyCounts
from crm_membercare.engine.cycle import PlanOutcome
from crm_membercare.engine.operations import CREATE, DELETE, DIRECTIONS, TO_MEMBERCARE, UPDATE
from crm_membercare.engine.raw_schema import RAW_TABLES
from crm_membercare.engine.steps import READ_STEP, PlanStep, ReadStep, WritebackStep, step_list
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.flows import FLOWS, Flow, flow_by_name

PREVIEW_ROWS = 10


def markdown_table(rows: Iterable[dict]) -> str:
    rows = list(rows)
    if not rows:
        return "_(none)_"
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(markdown_cell(row.get(k)) for k in head) + " |" for row in rows]
    return "\n".join(lines)


def flow_description(flow: Flow, what: str) -> str:
    table = markdown_table({"CRM": d.crm, "MemberCare": d.membercare, "MemberCare type": d.mc_type}
                           for d in flow.doc_rows())
    return f"{flow.title} ({flow.crm_resource} ↔ {flow.mc_resource}): {what}\n\n{table}"


# --- raw: one step reads both systems ---------------------------------------------------------------------

def raw_spec(table) -> dg.AssetSpec:
    system = "CustomCRM" if table.system == Side.CRM else "MemberCare"
    return dg.AssetSpec(
        keys.raw_key(table), group_name=keys.raw_group(table), kinds={"python", "duckdb", keys.raw_group(table)},
        description=f"{system} `{table.resource}`, read incrementally since the stored cursor into DuckDB "
                    f"table `{table.name}` (one row per id: typed columns plus the raw JSON).",
        metadata=tables.raw_metadata(table, FLOWS),
    )


COUNTRIES_SPEC = dg.AssetSpec(
    keys.COUNTRIES_KEY, group_name=keys.MC_GROUP, kinds={"python", "duckdb", "membercare"},
    description="MemberCare's own country ids (`addresses/countries`), the reference the address rows translate "
                "ISO alpha-2 codes through; copied to `membercare.countries`.",
    metadata={tables.TABLE_NAME: keys.COUNTRIES_TABLE, tables.COLUMN_SCHEMA: tables.schema(
        [("id", "INTEGER", "MemberCare's country id"), ("name", "VARCHAR", "its name"),
         ("iso2", "VARCHAR", "ISO 3166-1 alpha-2")])},
)


@dg.multi_asset(name=READ_STEP, specs=[*(raw_spec(t) for t in RAW_TABLES), COUNTRIES_SPEC],
                can_subset=True)
def raw_tables(context: dg.AssetExecutionContext, sync: SyncEngineResource):
    """Every selected raw table in one step: resources read one after the other, MemberCare's `/ids` lists
    on threads while the rest is read (`SyncEngine.extract_all`)."""
    selected = [t for t in RAW_TABLES if keys.raw_key(t) in context.selected_asset_keys]
    with_countries = keys.COUNTRIES_KEY in context.selected_asset_keys
    results = sync.cycle.run(ReadStep(), tables=selected, countries=with_countries)
    if with_countries:
        count = sync.con.execute(f"SELECT count(*) FROM {keys.COUNTRIES_TABLE}").fetchall()[0][0]
        yield dg.MaterializeResult(asset_key=keys.COUNTRIES_KEY, metadata={"dagster/row_count": count})
    for table, result in zip(selected, results, strict=True):
        live, gone = sync.con.execute(
            f"SELECT count(*) FILTER (WHERE gone IS NULL), count(*) FILTER (WHERE gone IS NOT NULL) FROM {table.name}"
        ).fetchall()[0]
        yield dg.MaterializeResult(asset_key=keys.raw_key(table), metadata={
            "dagster/row_count": live, "gone": gone, "read": result.read, "changed": result.changed,
            "deleted": result.deleted, "cursor": result.cursor or "",
        })


# --- plan: a flow's link table and its two change sets, with the blocking checks ----------------------------

class PlanConfig(dg.Config):
    acknowledge_breaker: bool = False
    """Let this flow's held removals through once (DESIGN C10); same as `crm-membercare breaker ack FLOW`."""


BREAKER_CHECK, PAYLOAD_CHECK = "circuit_breaker", "change_set_validates"


def links_deps(flow: Flow) -> list[dg.AssetKey]:
    sources = [flow.crm, flow.mc]
    if flow.derived is not None:  # owners are read from the raw orders and quotes
        sources += [flow_by_name(name).crm for name in flow.derived.through]
    deps = [keys.raw_key(t) for t in dict.fromkeys(sources)] + [keys.COUNTRIES_KEY]
    for name in flow.depends_on:
        deps += [keys.writeback_key(flow_by_name(name), d) for d in DIRECTIONS]
    return deps


def links_spec(flow: Flow) -> dg.AssetSpec:
    return dg.AssetSpec(
        keys.links_key(flow), group_name=flow.name, kinds={"python", "duckdb"}, deps=links_deps(flow),
        description=flow_description(flow, "links (`sync.links`, one-to-one per flow; the columns are the mapped "
                                           "values as both sides last agreed) and the three-way merge of linked "
                                           "pairs, planned into the outbox."),
        metadata=tables.links_metadata(flow),
    )


def changes_spec(flow: Flow, direction: str) -> dg.AssetSpec:
    target = "MemberCare" if direction == TO_MEMBERCARE else "CustomCRM"
    return dg.AssetSpec(
        keys.changes_key(flow, direction), group_name=flow.name, kinds={"python", "duckdb"},
        deps=[keys.links_key(flow)], metadata=tables.changes_metadata(flow, direction),
        description=flow_description(flow, f"the open operations `{direction}` in `sync.outbox`: what the next "
                                           f"writeback will do to {target}."),
    )


def blocking_checks(flow: Flow, direction: str) -> list[dg.AssetCheckSpec]:
    key = keys.changes_key(flow, direction)
    target = "MemberCare" if direction == TO_MEMBERCARE else "CustomCRM"
    return [
        dg.AssetCheckSpec(BREAKER_CHECK, asset=key, blocking=True,
                          description="Circuit breaker (DESIGN C10): the flow's removals stay under "
                                      "max(minimum, share of its links), or an operator acknowledged them."),
        dg.AssetCheckSpec(PAYLOAD_CHECK, asset=key, blocking=True,
                          description=f"Every pending payload validates for {target} (no write it would "
                                      "reject for a reason visible in advance)."),
    ]


def plan_assets(flow: Flow) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=PlanStep(flow).name,
        specs=[links_spec(flow), *(changes_spec(flow, d) for d in DIRECTIONS)],
        check_specs=[spec for d in DIRECTIONS for spec in blocking_checks(flow, d)],
    )
    def _plan(context: dg.AssetExecutionContext, config: PlanConfig, sync: SyncEngineResource):
        outcome = sync.cycle.run(PlanStep(flow), acknowledge=config.acknowledge_breaker)
        plan = outcome.summary
        counts = qa.link_counts(sync.con, flow)
        conflicts = [{"crm_id": c.crm_id, "mc_id": c.mc_id, "field": c.conflict.field,
                      "crm_value": c.conflict.crm_value, "membercare_value": c.conflict.membercare_value,
                      "winner": c.conflict.winner} for c in plan.conflict_preview[:PREVIEW_ROWS]]
        yield dg.MaterializeResult(asset_key=keys.links_key(flow), metadata={
            "dagster/row_count": counts["active"], "ended": counts["ended"], "new_links": plan.new_links,
            "planned": plan.operations, "creates": plan.count(CREATE), "updates": plan.count(UPDATE),
            "deletes": plan.count(DELETE), "conflicts": plan.conflicts, "rejects": plan.rejects,
            "waiting": plan.waiting, "ambiguous": counts["ambiguous"], "open_rejects": counts["open_rejects"],
            "conflicts_preview": dg.MetadataValue.md(markdown_table(conflicts)),
            # The UI draws column lineage from the latest materialization, not from the definition.
            tables.COLUMN_LINEAGE: LINKS_LINEAGE[flow.name],
        })
        for direction in DIRECTIONS:
            yield from change_set_results(sync, flow, direction, outcome)

    return _plan


def change_set_results(sync: SyncEngineResource, flow: Flow, direction: str, outcome: PlanOutcome):
    key, status = keys.changes_key(flow, direction), outcome.breaker
    changes = qa.change_set(sync.con, flow, direction, PREVIEW_ROWS)
    held = [r[0] for r in sync.con.execute(
        "SELECT coalesce(crm_id::VARCHAR, mc_id) FROM sync.outbox WHERE flow = ? AND status = 'held' ORDER BY id",
        [flow.name]).fetchall()]
    state = ("acknowledged: the held removals are applied now" if status.tripped and status.acknowledged else
             f"tripped: {status.destructive} removals > threshold {status.threshold}, held until acknowledged "
             f"(`crm-membercare breaker ack {flow.name}`)" if status.blocks else "not tripped")
    yield dg.MaterializeResult(asset_key=key, metadata={
        "dagster/row_count": changes.total, **{f"{op}s": n for op, n in changes.by_operation.items()},
        "pending": changes.by_status.get("pending", 0), "held": changes.by_status.get("held", 0),
        "waiting": changes.by_status.get("waiting", 0),
        "preview": dg.MetadataValue.md(markdown_table(changes.preview)),
        tables.COLUMN_LINEAGE: CHANGES_LINEAGE[(flow.name, direction)],
    })
    yield dg.AssetCheckResult(
        asset_key=key, check_name=BREAKER_CHECK, passed=not status.blocks, description=state,
        metadata={"state": state, "removals": status.destructive, "threshold": status.threshold,
                  "tripped": bool(status.tripped), "acknowledged": bool(status.acknowledged),
                  "held_record_ids": dg.MetadataValue.json(held[:100])},
    )
    yield finding_result(PAYLOAD_CHECK, outcome.problems[direction], asset_key=key)


def finding_result(check_name: str, finding: qa.Finding, *, asset_key: dg.AssetKey | None = None,
                   explained_severity: dg.AssetCheckSeverity | None = None,
                   severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    """A QA finding as a check result: the failing and explained ids, and a line per item saying what and why."""
    explained = sum(len(ids) for ids in finding.explained.values())
    passed = finding.passed and not (explained_severity and explained)
    metadata = {
        "scope": finding.scope, "checked": finding.checked, "failing": len(finding.failing), "explained": explained,
        "failing_ids": dg.MetadataValue.json(list(finding.failing[:100])),
        "explained_ids": dg.MetadataValue.json({k: list(v[:50]) for k, v in finding.explained.items()}),
    }
    if finding.details:
        metadata["details"] = dg.MetadataValue.md(_lines(finding.details))
    if finding.explained_details:
        metadata["explained_details"] = dg.MetadataValue.md(_lines(finding.explained_details))
    summary = (f"{len(finding.failing)} of {finding.checked} failing" if finding.failing else
               f"{explained} explained of {finding.checked}" if explained else f"{finding.checked} checked")
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name=check_name, passed=passed, metadata=metadata,
        description=f"{summary} ({finding.scope})",
        severity=severity if finding.failing else (explained_severity or severity),
    )


def _lines(lines: tuple[str, ...], limit: int = 25) -> str:
    shown = [f"- {markdown_cell(line, 300)}" for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"- … and {len(lines) - limit} more")
    return "\n".join(shown)


# --- writeback ----------------------------------------------------------------------------------------

def writeback_spec(flow: Flow, direction: str) -> dg.AssetSpec:
    system = "MemberCare" if direction == TO_MEMBERCARE else "CustomCRM"
    return dg.AssetSpec(
        keys.writeback_key(flow, direction), group_name=flow.name, deps=[keys.changes_key(flow, direction)],
        kinds={"python", "duckdb", keys.SYSTEM_KIND[direction]},
        description=flow_description(flow, f"the change set applied to {system} over HTTP (creates first; "
                                           "retryable failures stay pending, permanent ones become rejects)."),
    )


def writeback_assets(flow: Flow) -> dg.AssetsDefinition:
    """Both writebacks of a flow, as one step.

    Both directions are applied in one pass of the cycle's (`Cycle.writeback`), as for `sync --once`: a
    create's follow-up on the other side is taken in the same pass.
    """

    @dg.multi_asset(name=WritebackStep(flow).name, specs=[writeback_spec(flow, d) for d in DIRECTIONS],
                    can_subset=True)
    def _writeback(context: dg.AssetExecutionContext, sync: SyncEngineResource):
        selected = tuple(d for d in DIRECTIONS if keys.writeback_key(flow, d) in context.selected_asset_keys)
        totals = sync.cycle.run(WritebackStep(flow), directions=selected)
        if totals is None:  # blocked this cycle (Dagster skips the step first, through the blocking checks)
            totals = {d: ApplyCounts() for d in selected}
        for direction in selected:
            counts = totals[direction]
            yield dg.MaterializeResult(asset_key=keys.writeback_key(flow, direction), metadata={
                "dagster/row_count": counts.created + counts.updated + counts.deleted, "created": counts.created,
                "updated": counts.updated, "deleted": counts.deleted, "rejects": counts.rejected,
                "pending": qa.change_set(sync.con, flow, direction, 0).total, "cycle": sync.cycle_id,
            })

    return _writeback


# --- operations: what needs a person --------------------------------------------------------------------

LINGERING_CHECK = "rejects_not_lingering"
LINGERING_CYCLES = 10


def operations_spec(key: dg.AssetKey, table: str, columns, description: str) -> dg.AssetSpec:
    """A table of every flow that needs a person, read after all writebacks."""
    return dg.AssetSpec(key, group_name=keys.OPERATIONS_GROUP, kinds={"python", "duckdb"},
                        deps=[keys.writeback_key(f, d) for f in FLOWS for d in DIRECTIONS],
                        description=description,
                        metadata={tables.TABLE_NAME: table, tables.COLUMN_SCHEMA: tables.schema(columns)})


@dg.multi_asset(
    name="conflicts_and_rejects",
    specs=[
        operations_spec(keys.CONFLICTS_KEY, "sync.conflicts", tables.CONFLICT_COLUMNS,
                        "Fields edited on both sides and which side the flow's policy chose "
                        "(`sync.conflicts`, every flow)."),
        operations_spec(keys.REJECTS_KEY, "sync.rejects", tables.REJECT_COLUMNS,
                        "Records that could not be synced, with the field and the reason "
                        "(`sync.rejects`, every flow; the row count is the open ones)."),
    ],
    check_specs=[dg.AssetCheckSpec(
        LINGERING_CHECK, asset=keys.REJECTS_KEY,
        description=f"No reject stays open more than {LINGERING_CYCLES} cycles after it was first recorded "
                    "(WARN: a record somebody has to fix).")],
)
def conflicts_and_rejects(sync: SyncEngineResource):
    conflicts = events.conflicts(sync.con, sync.cycle_id)
    rejects = events.open_rejects(sync.con, sync.cycle_id)
    for key, table in ((keys.CONFLICTS_KEY, conflicts), (keys.REJECTS_KEY, rejects)):
        yield dg.MaterializeResult(asset_key=key, metadata={
            "dagster/row_count": table.total, "this_cycle": table.this_cycle,
            "by_flow": dg.MetadataValue.json(table.by_flow), "newest": newest_table(table),
        })
    lingering = events.lingering_rejects(sync.con, sync.cycle_id, LINGERING_CYCLES)
    yield dg.AssetCheckResult(
        asset_key=keys.REJECTS_KEY, check_name=LINGERING_CHECK, passed=not lingering,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(lingering)} open for more than {LINGERING_CYCLES} cycles" if lingering else None,
        metadata={"lingering": len(lingering),
                  "records": dg.MetadataValue.md(markdown_table(lingering[:PREVIEW_ROWS]))},
    )


LINKS_LINEAGE = {f.name: tables.links_metadata(f)[tables.COLUMN_LINEAGE] for f in FLOWS}
CHANGES_LINEAGE = {(f.name, d): tables.changes_metadata(f, d)[tables.COLUMN_LINEAGE] for f in FLOWS
                   for d in DIRECTIONS}
def newest_table(table: events.EventTable) -> dg.TableMetadataValue:
    """The newest rows of every flow as a table the UI shows inline; values made printable."""
    rows = [{"flow": flow, **row} for flow, flow_rows in table.newest.items() for row in flow_rows]
    columns = list(dict.fromkeys(k for row in rows for k in row)) or ["flow"]
    return dg.MetadataValue.table(
        records=[dg.TableRecord({k: None if row.get(k) is None else printable(row.get(k), 80) for k in columns})
                 for row in rows],
        schema=dg.TableSchema([dg.TableColumn(k, "string") for k in columns]))


def step_asset(step) -> dg.AssetsDefinition:
    """The Dagster step of one entry of the step list."""
    if isinstance(step, ReadStep):
        return raw_tables
    return plan_assets(step.flow) if isinstance(step, PlanStep) else writeback_assets(step.flow)


# One multi-asset per step of the cycle, in the step list's order; then what needs a person.
assets = [*(step_asset(step) for step in step_list(FLOWS)), conflicts_and_rejects]
