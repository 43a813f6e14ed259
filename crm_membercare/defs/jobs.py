"""The sync job and its schedule. Every run is a whole cycle: both systems read, every flow planned and
written back both ways, the QA checklist evaluated. Runs execute in one process, one at a time.

The sensors launch it for each change they see and tag the run `crm_membercare/qa: incremental`, so its
checks look at what the cycle touched (and what failed before); the schedule launches it untagged, which
makes the checks sweep every record. Since every run materializes every asset, no asset is left looking
out of date behind another.
"""

from __future__ import annotations

import dagster as dg

from crm_membercare.defs.checks import INCREMENTAL, QA_SCOPE_TAG

# Sync runs write one DuckDB file: the instance's dagster.yaml allows one run at a time, and this tag names
# them so a deployment that shares its instance can limit just these (tag_concurrency_limits). A retried
# run (run_retries in dagster.yaml) starts the cycle over: every step reads the state the last one left.
SYNC_TAGS = {"crm_membercare/writer": "state", "dagster/retry_strategy": "ALL_STEPS"}
INCREMENTAL_TAGS = {QA_SCOPE_TAG: INCREMENTAL}

sync_all = dg.define_asset_job(
    "sync_all", selection=dg.AssetSelection.all(), tags=SYNC_TAGS,
    description="One cycle: refresh both systems, plan every flow, write back both ways, evaluate the QA "
                "checklist (over what the cycle touched when a sensor launched it, over everything otherwise).",
)

jobs = [sync_all]

full_sweep = dg.ScheduleDefinition(
    name="full_sync_with_qa", job=sync_all, cron_schedule="*/15 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="A cycle both ways whose QA checklist sweeps every record, every 15 minutes.",
)
schedules = [full_sweep]
