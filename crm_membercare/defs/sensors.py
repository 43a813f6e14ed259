"""Sensors: probe each system's API for changes since the cursor, and watch for breaker acknowledgements;
each requests a sync run.

They never open the DuckDB file (a run may hold it). The run key is derived from the new cursor, so the same
changes never launch two runs, even if a cursor is reset. While a sync run is still queued, a tick only
advances its cursor: that run has not read anything yet and will pick the changes up.
"""

import dagster as dg

from crm_membercare.defs.jobs import INCREMENTAL_TAGS, sync_all
from crm_membercare.defs.probes import Probe, decode, probe_customcrm, probe_membercare
from crm_membercare.defs.resources import CustomCrmResource, MemberCareResource, SyncEngineResource
from crm_membercare.engine.acks import acks_digest
from crm_membercare.systems import SystemApiError
from crm_membercare.systems.retry import RetryPolicy

PROBE_OPTIONS = {"timeout": 10.0, "retry": RetryPolicy(attempts=2)}  # a tick must end well inside 60 s
NOT_YET_RUNNING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING]


def _queued_run(context: dg.SensorEvaluationContext) -> str | None:
    waiting = context.instance.get_runs(dg.RunsFilter(job_name=sync_all.name, statuses=NOT_YET_RUNNING), limit=1)
    return waiting[0].run_id if waiting else None


def _decide(context: dg.SensorEvaluationContext, probe: Probe, direction: str):
    if not probe.any:
        return dg.SensorResult(skip_reason=dg.SkipReason("no changes since the cursor"), cursor=probe.encoded)
    changed = {k: v for k, v in probe.changed.items() if v}
    queued = _queued_run(context)
    if queued:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"changes {changed} will be read by queued run {queued}"),
                               cursor=probe.encoded)
    context.log.info(f"changes since the cursor: {changed}")
    request = dg.RunRequest(run_key=probe.run_key(direction),
                            tags={**INCREMENTAL_TAGS, "crm_membercare/changed": str(changed)[:200]})
    return dg.SensorResult(run_requests=[request], cursor=probe.encoded)


def _unreachable(system: str, error: Exception) -> dg.SkipReason:
    # The exception's text may carry a URL with a credential in it: only its kind is shown.
    return dg.SkipReason(f"{system} could not be probed ({type(error).__name__}); the cursor stays")


def customcrm_changes(context: dg.SensorEvaluationContext, crm: CustomCrmResource):
    try:
        with crm.client(**PROBE_OPTIONS) as client:
            probe = probe_customcrm(client, decode(context.cursor))
    except (SystemApiError, OSError) as error:
        return _unreachable("CustomCRM", error)
    return _decide(context, probe, "to_membercare")


def membercare_changes(context: dg.SensorEvaluationContext, membercare: MemberCareResource):
    try:
        with membercare.client(**PROBE_OPTIONS) as client:
            probe = probe_membercare(client, decode(context.cursor))
    except (SystemApiError, OSError) as error:
        return _unreachable("MemberCare", error)
    return _decide(context, probe, "to_crm")


def breaker_acknowledgements(context: dg.SensorEvaluationContext, sync: SyncEngineResource):
    # The CLI appends each acknowledgement to a small file beside the state; its digest is the cursor.
    digest = acks_digest(sync.db_path)
    if digest is None or digest == context.cursor:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new acknowledgement"), cursor=digest)
    # The run key is the digest: an acknowledgement already applied is never launched again.
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"ack-{digest}", tags={
        **INCREMENTAL_TAGS, "crm_membercare/changed": "breaker acknowledged"})], cursor=digest)


DESCRIPTIONS = {
    customcrm_changes: "Probes CustomCRM for records changed since the cursor and requests a sync run.",
    membercare_changes: "Probes MemberCare for records changed (or hard-deleted) since the cursor and requests a "
                        "sync run.",
    breaker_acknowledgements: "Requests a sync run when an operator acknowledged a circuit breaker "
                              "(`crm-membercare breaker ack FLOW`), so the held removals are applied without a "
                              "manual launch.",
}


def build_sensors(interval_s: int) -> list[dg.SensorDefinition]:
    """The three sensors, ticking every `interval_s` (`CRM_MEMBERCARE_SENSOR_INTERVAL`, read by `Settings`)."""
    return [dg.sensor(job=sync_all, minimum_interval_seconds=interval_s, description=description,
                      default_status=dg.DefaultSensorStatus.RUNNING)(evaluation)
            for evaluation, description in DESCRIPTIONS.items()]
