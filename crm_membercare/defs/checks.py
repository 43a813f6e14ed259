"""The QA checklist of DESIGN Part C as asset checks on each flow's `links/<flow>` asset.

They run after the flow's writebacks in the same run (`additional_deps`), so they judge the state a cycle
leaves behind. Each is a query in `engine.qa`; failing results name the record ids in their metadata. The
blocking checks on the change sets (circuit breaker, payload validation) live with those assets in
`assets.py`, because they must decide before the writeback.
"""

import dagster as dg

from crm_membercare.defs import keys
from crm_membercare.defs.assets import finding_result
from crm_membercare.defs.resources import SyncEngineResource
from crm_membercare.engine import qa
from crm_membercare.engine.operations import CRM_SIDE, MC_SIDE
from crm_membercare.mapping.flows import FLOWS, Flow

WARN, ERROR = dg.AssetCheckSeverity.WARN, dg.AssetCheckSeverity.ERROR

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
    after = [keys.writeback_key(flow, d) for d in keys.DIRECTIONS]

    @dg.multi_asset_check(
        name=f"qa_{flow.name}",
        specs=[dg.AssetCheckSpec(name, asset=target, description=text, additional_deps=after)
               for name, text in QA_CHECKS.items()],
        description=f"QA checklist of {flow.title}",
    )
    def _qa(sync: SyncEngineResource):
        con, ctx = sync.con, sync.qa_context()
        yield finding_result("crm_records_linked", qa.linked_coverage(con, flow, CRM_SIDE))
        yield finding_result("membercare_records_linked", qa.linked_coverage(con, flow, MC_SIDE))
        yield finding_result("links_one_to_one", qa.one_to_one(con, flow))
        yield finding_result("no_dangling_links", qa.dangling_links(con, flow))
        drift = qa.pair_drift(con, flow, ctx)
        yield finding_result("pairs_equal_under_mapping", drift, explained_severity=WARN if
                             "open reject" in drift.explained else None)
        yield finding_result("membercare_types_conform", qa.membercare_type_problems(con, flow, ctx.countries))
        yield finding_result("outbox_not_stale", qa.stale_outbox(con, flow, sync.cycle_id, sync.stale_outbox_cycles),
                             severity=WARN)

    return _qa


checks = [qa_checks(flow) for flow in FLOWS]
