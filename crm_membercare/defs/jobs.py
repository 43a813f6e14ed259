"""Jobs: a full sync, and one per direction (what the sensors launch). All run in one process, one at a time."""

from __future__ import annotations

import dagster as dg

from crm_membercare.defs import keys
from crm_membercare.defs.assets import RAW_ASSETS
from crm_membercare.engine.operations import TO_CRM, TO_MEMBERCARE
from crm_membercare.mapping.flows import FLOWS

# Sync runs write one DuckDB file: the instance's dagster.yaml allows one run at a time, and this tag names
# them so a deployment that shares its instance can limit just these (tag_concurrency_limits).
SYNC_TAGS = {"crm_membercare/writer": "state"}


def direction_selection(direction: str) -> dg.AssetSelection:
    """Both systems refreshed, every flow planned, the writebacks of one direction.

    Only the blocking checks on the change sets come along: the QA checklist reads every linked pair, which
    costs more than a sensor-triggered edit should wait for; `sync_all` runs it.
    """
    refreshed = [key for asset in RAW_ASSETS for key in asset.keys] + [keys.COUNTRIES_KEY]
    change_sets = [keys.changes_key(flow, direction) for flow in FLOWS]
    flows = [k for flow in FLOWS for k in (keys.links_key(flow), keys.writeback_key(flow, direction))]
    selected = dg.AssetSelection.assets(*refreshed, *flows, *change_sets).without_checks()
    return selected | dg.AssetSelection.checks_for_assets(*change_sets)


sync_all = dg.define_asset_job(
    "sync_all", selection=dg.AssetSelection.all(), tags=SYNC_TAGS,
    description="One full cycle: refresh both systems, plan every flow, write back both ways, run the QA checks.",
)
sync_to_membercare = dg.define_asset_job(
    "sync_to_membercare", selection=direction_selection(TO_MEMBERCARE), tags=SYNC_TAGS,
    description="Refresh both systems, plan every flow, write the changes to MemberCare (launched by the "
                "CustomCRM sensor).",
)
sync_to_crm = dg.define_asset_job(
    "sync_to_crm", selection=direction_selection(TO_CRM), tags=SYNC_TAGS,
    description="Refresh both systems, plan every flow, write the changes to CustomCRM (launched by the "
                "MemberCare sensor).",
)

jobs = [sync_all, sync_to_membercare, sync_to_crm]

# The QA checklist runs with a full cycle every quarter of an hour, so the UI always shows a recent verdict
# while the sensors keep individual edits fast.
qa_schedule = dg.ScheduleDefinition(
    name="full_sync_with_qa", job=sync_all, cron_schedule="*/15 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="A full cycle both ways with the QA checklist, every 15 minutes.",
)
schedules = [qa_schedule]
