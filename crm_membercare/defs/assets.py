"""The asset graph, generated from `RAW_TABLES` and `FLOWS` (DESIGN Part D); each asset is one engine call.

    crm/<resource>, membercare/<resource>, membercare/countries     raw state in DuckDB     engine.extract
    links/<flow>                                                    links + merge -> outbox engine.plan
    changes/<flow>/to_membercare, changes/<flow>/to_crm             the open change sets    (summary, breaker)
    writeback/membercare/<flow>, writeback/crm/<flow>               applied to the systems  engine.writeback

A flow's links wait on the writeback of the flows it references (`flow.depends_on`), so a contact is planned
after its company was linked or created. The change sets carry the blocking checks (circuit breaker, payload
validation): a failing one skips that flow's writeback, and what depends on it, in the same run.
"""

from collections.abc import Iterable
from dataclasses import astuple

import dagster as dg

from crm_membercare.defs import keys
from crm_membercare.defs.resources import SyncEngineResource
from crm_membercare.engine import qa
from crm_membercare.engine.apply import ApplyCounts
from crm_membercare.engine.identity import CRM_SYSTEM, MC_SYSTEM
from crm_membercare.engine.operations import CREATE, DELETE, TO_MEMBERCARE, UPDATE
from crm_membercare.engine.raw_schema import RAW_TABLES, RawTable, raw_table
from crm_membercare.engine.reference import store_countries
from crm_membercare.mapping.flows import FLOWS, Flow, flow_by_name

PREVIEW_ROWS = 10


def markdown_table(rows: Iterable[dict]) -> str:
    rows = list(rows)
    if not rows:
        return "_(none)_"
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = (str(row.get(k, "")).replace("|", "\\|").replace("\n", " ")[:80] for k in head)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def flow_description(flow: Flow, what: str) -> str:
    table = markdown_table({"CRM": d.crm, "MemberCare": d.membercare, "MemberCare type": d.mc_type}
                           for d in flow.doc_rows())
    return f"{flow.title} ({flow.crm_resource} ↔ {flow.mc_resource}): {what}\n\n{table}"


# --- raw ------------------------------------------------------------------------------------------------

def raw_asset(table: RawTable) -> dg.AssetsDefinition:
    system = "CustomCRM" if table.system == CRM_SYSTEM else "MemberCare"

    @dg.asset(
        key=keys.raw_key(table), group_name=keys.raw_group(table),
        kinds={"python", "duckdb", keys.raw_group(table)},
        description=f"{system} `{table.resource}`, read incrementally since the stored cursor into DuckDB "
                    f"table `{table.name}` (one row per id: typed columns plus the raw JSON).",
    )
    def _raw(context: dg.AssetExecutionContext, sync: SyncEngineResource) -> dg.MaterializeResult:
        result = sync.extract(table)
        live, gone = sync.con.execute(
            f"SELECT count(*) FILTER (WHERE gone IS NULL), count(*) FILTER (WHERE gone IS NOT NULL) FROM {table.name}"
        ).fetchall()[0]
        return dg.MaterializeResult(metadata={
            "dagster/row_count": live, "gone": gone, "read": result.read, "changed": result.changed,
            "deleted": result.deleted, "cursor": result.cursor or "", "table": table.name,
        })

    return _raw


@dg.asset(
    key=keys.COUNTRIES_KEY, group_name=keys.MC_GROUP, kinds={"python", "duckdb", "membercare"},
    description="MemberCare's own country ids (`addresses/countries`), the reference the address rows translate "
                "ISO alpha-2 codes through; copied to `membercare.countries`.",
)
def membercare_countries(sync: SyncEngineResource) -> dg.MaterializeResult:
    countries = sync.engine.mc.countries()
    count = store_countries(sync.con, countries)
    preview = [{"id": c["id"], "name": c.get("name"), "iso2": c.get("iso2Letter")} for c in countries[:PREVIEW_ROWS]]
    return dg.MaterializeResult(metadata={"dagster/row_count": count,
                                          "preview": dg.MetadataValue.md(markdown_table(preview))})


# --- links ----------------------------------------------------------------------------------------------

class PlanConfig(dg.Config):
    acknowledge_breaker: bool = False
    """Let this flow's held removals through once (DESIGN C10); same as `crm-membercare breaker ack FLOW`."""


def links_deps(flow: Flow) -> list[dg.AssetKey]:
    tables = [raw_table(CRM_SYSTEM, flow.crm_resource), raw_table(MC_SYSTEM, flow.mc_resource)]
    if flow.derived is not None:  # owners are read from the raw orders and quotes
        tables += [raw_table(CRM_SYSTEM, flow_by_name(name).crm_resource) for name in flow.derived.through]
    deps = [keys.raw_key(t) for t in dict.fromkeys(tables)] + [keys.COUNTRIES_KEY]
    for name in flow.depends_on:
        deps += [keys.writeback_key(flow_by_name(name), d) for d in keys.DIRECTIONS]
    return deps


def links_asset(flow: Flow) -> dg.AssetsDefinition:
    @dg.asset(
        key=keys.links_key(flow), group_name=flow.name, kinds={"python", "duckdb"}, deps=links_deps(flow),
        description=flow_description(flow, "links (`sync.links`, one-to-one per flow) and the three-way merge of "
                                           "linked pairs, planned into the outbox."),
    )
    def _links(context: dg.AssetExecutionContext, config: PlanConfig, sync: SyncEngineResource) -> dg.MaterializeResult:
        if config.acknowledge_breaker:
            acknowledged = sync.acknowledge_breaker(flow)
            context.log.info(f"breaker of {flow.name}: {'acknowledged' if acknowledged else 'not tripped'}")
        plan = sync.plan(flow)
        counts = qa.link_counts(sync.con, flow)
        conflicts = [{"crm_id": c.crm_id, "mc_id": c.mc_id, "field": c.conflict.field,
                      "winner": c.conflict.winner} for c in plan.conflict_preview[:PREVIEW_ROWS]]
        return dg.MaterializeResult(metadata={
            "dagster/row_count": counts["active"], "ended": counts["ended"], "new_links": plan.new_links,
            "planned": plan.operations, "creates": plan.count(CREATE), "updates": plan.count(UPDATE),
            "deletes": plan.count(DELETE), "conflicts": plan.conflicts, "rejects": plan.rejects,
            "waiting": plan.waiting, "ambiguous": counts["ambiguous"], "open_rejects": counts["open_rejects"],
            "conflicts_preview": dg.MetadataValue.md(markdown_table(conflicts)),
        })

    return _links


# --- change sets, with their blocking checks -------------------------------------------------------------

BREAKER_CHECK, PAYLOAD_CHECK = "circuit_breaker", "change_set_validates"


def changes_asset(flow: Flow, direction: str) -> dg.AssetsDefinition:
    key = keys.changes_key(flow, direction)
    target = "MemberCare" if keys.TARGET[direction] == "membercare" else "CustomCRM"

    @dg.asset(
        key=key, group_name=flow.name, kinds={"python", "duckdb"}, deps=[keys.links_key(flow)],
        description=flow_description(flow, f"the open operations `{direction}` in `sync.outbox`: what the next "
                                           f"writeback will do to {target}."),
        check_specs=[
            dg.AssetCheckSpec(BREAKER_CHECK, asset=key, blocking=True,
                              description="Circuit breaker (DESIGN C10): the flow's removals stay under "
                                          "max(minimum, share of its links), or an operator acknowledged them."),
            dg.AssetCheckSpec(PAYLOAD_CHECK, asset=key, blocking=True,
                              description=f"Every pending payload validates for {target} (no write it would "
                                          "reject for a reason visible in advance)."),
        ],
    )
    def _changes(sync: SyncEngineResource) -> dg.MaterializeResult:
        status = sync.hold_for_breaker(flow)
        changes = qa.change_set(sync.con, flow, direction, PREVIEW_ROWS)
        held = [r[0] for r in sync.con.execute(
            "SELECT coalesce(crm_id::VARCHAR, mc_id) FROM sync.outbox WHERE flow = ? AND status = 'held' ORDER BY id",
            [flow.name]).fetchall()]
        breaker_result = dg.AssetCheckResult(
            check_name=BREAKER_CHECK, passed=not status.blocks,
            description=None if not status.blocks else
            f"{status.destructive} removals > threshold {status.threshold}: held until acknowledged "
            f"(`crm-membercare breaker ack {flow.name}`, or run config acknowledge_breaker on "
            f"{keys.links_key(flow).to_user_string()})",
            metadata={"destructive": status.destructive, "threshold": status.threshold,
                      "tripped": status.tripped, "acknowledged": status.acknowledged,
                      "held_record_ids": dg.MetadataValue.json(held[:100])},
        )
        problems = qa.change_set_problems(sync.con, flow, direction, sync.qa_context())
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": changes.total, **{f"{op}s": n for op, n in changes.by_operation.items()},
                "pending": changes.by_status.get("pending", 0), "held": changes.by_status.get("held", 0),
                "preview": dg.MetadataValue.md(markdown_table(changes.preview)),
            },
            check_results=[breaker_result, finding_result(PAYLOAD_CHECK, problems)],
        )

    return _changes


def finding_result(check_name: str, finding: qa.Finding, *, explained_severity: dg.AssetCheckSeverity | None = None,
                   severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    """A QA finding as a check result that names the failing (and the explained) record ids."""
    explained = sum(len(ids) for ids in finding.explained.values())
    passed = finding.passed and not (explained_severity and explained)
    metadata = {
        "checked": finding.checked, "failing": len(finding.failing), "explained": explained,
        "failing_ids": dg.MetadataValue.json(list(finding.failing[:100])),
        "explained_ids": dg.MetadataValue.json({k: list(v[:50]) for k, v in finding.explained.items()}),
    }
    if finding.details:
        metadata["details"] = dg.MetadataValue.md("\n".join(f"- {line}" for line in finding.details[:25]))
    return dg.AssetCheckResult(
        check_name=check_name, passed=passed, metadata=metadata,
        severity=severity if finding.failing else (explained_severity or severity),
    )


# --- writeback ------------------------------------------------------------------------------------------

def writeback_spec(flow: Flow, direction: str) -> dg.AssetSpec:
    system = "MemberCare" if keys.TARGET[direction] == "membercare" else "CustomCRM"
    return dg.AssetSpec(
        keys.writeback_key(flow, direction), group_name=flow.name, deps=[keys.changes_key(flow, direction)],
        kinds={"python", "duckdb", keys.SYSTEM_KIND[direction]},
        description=flow_description(flow, f"the change set applied to {system} over HTTP (creates first; "
                                           "retryable failures stay pending, permanent ones become rejects)."),
    )


def writeback_assets(flow: Flow) -> dg.AssetsDefinition:
    """Both writebacks of a flow, as one step when both are selected.

    A create in one system leaves a follow-up in the other (stamping the source with the new record's
    identity, sending a server-assigned number back), so with both directions selected they are applied
    in turn, and the MemberCare side once more for the follow-ups of the CRM creates: a full run leaves
    nothing of its own behind. A sensor's run selects one direction; its follow-ups wait for the other's.
    """

    @dg.multi_asset(name=f"writeback_{flow.name}", specs=[writeback_spec(flow, d) for d in keys.DIRECTIONS],
                    can_subset=True)
    def _writeback(context: dg.AssetExecutionContext, sync: SyncEngineResource):
        selected = [d for d in keys.DIRECTIONS if keys.writeback_key(flow, d) in context.selected_asset_keys]
        rounds = [*selected, TO_MEMBERCARE] if len(selected) == 2 else selected
        totals = {d: ApplyCounts() for d in selected}
        for direction in rounds:
            counts = sync.writeback(flow, direction)
            totals[direction] = ApplyCounts(*(a + b for a, b in zip(astuple(totals[direction]), astuple(counts),
                                                                    strict=True)))
        for direction in selected:
            counts = totals[direction]
            yield dg.MaterializeResult(asset_key=keys.writeback_key(flow, direction), metadata={
                "dagster/row_count": counts.created + counts.updated + counts.deleted, "created": counts.created,
                "updated": counts.updated, "deleted": counts.deleted, "rejects": counts.rejected,
                "pending": qa.change_set(sync.con, flow, direction, 0).total, "cycle": sync.cycle_id,
            })

    return _writeback


RAW_ASSETS = [raw_asset(table) for table in RAW_TABLES]
FLOW_ASSETS = [
    asset
    for flow in FLOWS
    for asset in (links_asset(flow), *(changes_asset(flow, d) for d in keys.DIRECTIONS),
                  writeback_assets(flow))
]

assets = [*RAW_ASSETS, membercare_countries, *FLOW_ASSETS]
