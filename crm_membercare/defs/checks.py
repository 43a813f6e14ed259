"""The QA checklist of DESIGN Part C as asset checks on each flow's link table.

They are evaluated in every run that materializes the link table (the sensors' runs too), after the flow's
writebacks (`additional_deps`), so they judge the state a cycle leaves behind and the UI never shows a
current link table "not evaluated". A run tagged `crm_membercare/qa: incremental` (the sensors') looks at the
records its cycle touched plus those failing before; any other run (the schedule, a launch from the UI)
sweeps every record. Each result says which it was (`scope`), names the failing and explained record ids,
and gives a line per item with the field and the reason. The blocking checks on the change sets (circuit
breaker, payload validation) live with those assets in `assets.py`: they must decide before the writeback.
"""

import dagster as dg

from crm_membercare.defs import keys
from crm_membercare.defs.assets import finding_result
from crm_membercare.defs.resources import SyncEngineResource
from crm_membercare.engine import qa
from crm_membercare.engine.operations import CRM_SIDE, DIRECTIONS, MC_SIDE
from crm_membercare.engine.state import transaction
from crm_membercare.mapping.flows import FLOWS, Flow

WARN, ERROR = dg.AssetCheckSeverity.WARN, dg.AssetCheckSeverity.ERROR
QA_SCOPE_TAG, INCREMENTAL = "crm_membercare/qa", "incremental"

QA_CHECKS: dict[str, str] = {
    "crm_records_linked": "Every live CRM record is linked, or has an open reject or an ambiguous match "
                          "(a derived flow: every pair its source links imply is linked).",
    "membercare_records_linked": "Every live MemberCare record is linked, or has an open reject or an ambiguous "
                                 "match.",
    "links_one_to_one": "No record is in two active links of the flow, and no invoice is linked from two flows.",
    "no_dangling_links": "No active link points at a record that no longer exists or is gone (those end).",
    "pairs_equal_under_mapping": "Every linked pair is equal under the mapping: unexplained drift is an ERROR, "
                                 "drift explained by an open reject a WARN; work still in flight passes.",
    "membercare_types_conform": "Linked MemberCare records conform to the flow's MemberCare data types.",
    "outbox_not_stale": "Nothing pending in the outbox for longer than the configured number of cycles.",
}


def qa_checks(flow: Flow) -> dg.AssetChecksDefinition:
    target = keys.links_key(flow)
    after = [keys.writeback_key(flow, d) for d in DIRECTIONS]

    @dg.multi_asset_check(
        name=f"qa_{flow.name}",
        specs=[dg.AssetCheckSpec(name, asset=target, description=text, additional_deps=after)
               for name, text in QA_CHECKS.items()],
        description=f"QA checklist of {flow.title}",
    )
    def _qa(context: dg.AssetCheckExecutionContext, sync: SyncEngineResource):
        con, ctx, cycle = sync.con, sync.qa_context(), sync.cycle_id
        incremental = context.run.tags.get(QA_SCOPE_TAG) == INCREMENTAL
        scope = qa.touched(con, flow, cycle) if incremental else None
        scoped = {
            "crm_records_linked": (qa.linked_coverage(con, flow, CRM_SIDE, scope), CRM_SIDE),
            "membercare_records_linked": (qa.linked_coverage(con, flow, MC_SIDE, scope), MC_SIDE),
            "no_dangling_links": (qa.dangling_links(con, flow, scope), None),
            "pairs_equal_under_mapping": (qa.pair_drift(con, flow, ctx, scope), None),
            "membercare_types_conform": (qa.membercare_type_problems(con, flow, ctx.countries, scope), MC_SIDE),
        }
        with transaction(con):
            for name, (finding, side) in scoped.items():
                qa.remember(con, flow, name, finding, cycle, side)
        for name, (finding, _) in scoped.items():
            if name == "pairs_equal_under_mapping":
                yield finding_result(name, finding, asset_key=target,
                                     explained_severity=WARN if "open reject" in finding.explained else None)
            else:
                yield finding_result(name, finding, asset_key=target)
        yield finding_result("links_one_to_one", qa.one_to_one(con, flow), asset_key=target)
        yield finding_result("outbox_not_stale", qa.stale_outbox(con, flow, cycle, sync.stale_outbox_cycles),
                             asset_key=target, severity=WARN)

    return _qa


checks = [qa_checks(flow) for flow in FLOWS]
