"""Sensors, one per direction: probe a system's API for changes since the cursor, request a sync run.

They never open the DuckDB file (a run may hold it). The run key is derived from the new cursor, so the same
changes never launch two runs, even if a cursor is reset. While a run of the same job is still queued, a tick
only advances its cursor: that run has not read anything yet and will pick the changes up.
"""

import os

import dagster as dg

from crm_membercare.defs.jobs import sync_to_crm, sync_to_membercare
from crm_membercare.defs.probes import Probe, decode, probe_customcrm, probe_membercare
from crm_membercare.defs.resources import CustomCrmResource, MemberCareResource
from crm_membercare.systems import SystemApiError
from crm_membercare.systems.retry import RetryPolicy

INTERVAL_S = int(os.environ.get("CRM_MEMBERCARE_SENSOR_INTERVAL", "30"))
PROBE_OPTIONS = {"timeout": 10.0, "retry": RetryPolicy(attempts=2)}  # a tick must end well inside 60 s
NOT_YET_RUNNING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING]


def _decide(context: dg.SensorEvaluationContext, probe: Probe, job_name: str, direction: str):
    if not probe.any:
        return dg.SensorResult(skip_reason=dg.SkipReason("no changes since the cursor"), cursor=probe.encoded)
    changed = {k: v for k, v in probe.changed.items() if v}
    waiting = context.instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=NOT_YET_RUNNING), limit=1)
    if waiting:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"changes {changed} will be read by queued run {waiting[0].run_id}"),
            cursor=probe.encoded)
    context.log.info(f"changes since the cursor: {changed}")
    request = dg.RunRequest(run_key=probe.run_key(direction), tags={"crm_membercare/changed": str(changed)[:200]})
    return dg.SensorResult(run_requests=[request], cursor=probe.encoded)


def _unreachable(system: str, error: Exception) -> dg.SkipReason:
    # The exception's text may carry a URL with a credential in it: only its kind is shown.
    return dg.SkipReason(f"{system} could not be probed ({type(error).__name__}); the cursor stays")


@dg.sensor(
    job=sync_to_membercare, minimum_interval_seconds=INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING,
    description="Probes CustomCRM for records changed since the cursor and requests a sync to MemberCare.",
)
def customcrm_changes(context: dg.SensorEvaluationContext, crm: CustomCrmResource):
    try:
        with crm.client(**PROBE_OPTIONS) as client:
            probe = probe_customcrm(client, decode(context.cursor))
    except (SystemApiError, OSError) as error:
        return _unreachable("CustomCRM", error)
    return _decide(context, probe, sync_to_membercare.name, "to_membercare")


@dg.sensor(
    job=sync_to_crm, minimum_interval_seconds=INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING,
    description="Probes MemberCare for records changed (or hard-deleted) since the cursor and requests a sync "
                "to CustomCRM.",
)
def membercare_changes(context: dg.SensorEvaluationContext, membercare: MemberCareResource):
    try:
        with membercare.client(**PROBE_OPTIONS) as client:
            probe = probe_membercare(client, decode(context.cursor))
    except (SystemApiError, OSError) as error:
        return _unreachable("MemberCare", error)
    return _decide(context, probe, sync_to_crm.name, "to_crm")


sensors = [customcrm_changes, membercare_changes]
