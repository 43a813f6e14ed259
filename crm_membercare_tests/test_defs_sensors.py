"""The two sensors, evaluated with `dg.build_sensor_context` against real sandboxes (no DuckDB involved)."""

from __future__ import annotations

import dagster as dg
import httpx
import pytest

from crm_membercare.defs.resources import CustomCrmResource, MemberCareResource, SyncEngineResource, state_database
from crm_membercare.defs.sensors import build_sensors
from crm_membercare.engine.acks import record_ack

customcrm_changes, membercare_changes, breaker_acknowledgements = build_sensors(30)
TINY = {"users": 2, "customers": 4, "contacts": 8, "products": 3, "orders": 4, "quotes": 2}


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def seed(server) -> None:
    httpx.post(f"{server.root_url}/_sandbox/seed", json={"seed": 7, "scale": TINY, "overlap": 0.5},
               timeout=60).raise_for_status()


def evaluate(sensor, instance, cursor, **resources) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def test_customcrm_sensor_requests_one_run_per_change_and_never_twice(customcrm_server, instance):
    seed(customcrm_server)
    crm = CustomCrmResource(base_url=customcrm_server.api_url, token="sandbox-crm-token")

    first = evaluate(customcrm_changes, instance, None, crm=crm)
    assert len(first.run_requests) == 1 and first.cursor
    again = evaluate(customcrm_changes, instance, None, crm=crm)
    assert again.run_requests[0].run_key == first.run_requests[0].run_key  # a reset cursor: the same key

    quiet = evaluate(customcrm_changes, instance, first.cursor, crm=crm)
    assert quiet.run_requests == [] and quiet.skip_reason and quiet.cursor == first.cursor

    with httpx.Client(base_url=customcrm_server.api_url, headers={"Authorization": "Bearer sandbox-crm-token"}) as http:
        contact = http.get("/contacts", params={"limit": 1}).json()["data"][0]
        http.patch(f"/contacts/{contact['id']}", json={"city": "Tromsø"}).raise_for_status()
    changed = evaluate(customcrm_changes, instance, first.cursor, crm=crm)
    assert len(changed.run_requests) == 1 and changed.cursor != first.cursor
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key
    assert "contacts" in changed.run_requests[0].tags["crm_membercare/changed"]
    assert changed.run_requests[0].tags["crm_membercare/qa"] == "incremental"
    assert evaluate(customcrm_changes, instance, first.cursor, crm=crm).run_requests[0].run_key == \
        changed.run_requests[0].run_key
    assert evaluate(customcrm_changes, instance, changed.cursor, crm=crm).run_requests == []


def test_membercare_sensor_sees_edits_and_hard_deletes(membercare_server, instance):
    seed(membercare_server)
    mc = MemberCareResource(base_url=membercare_server.api_url, api_key="sandbox-membercare-key")
    first = evaluate(membercare_changes, instance, None, membercare=mc)
    assert len(first.run_requests) == 1
    assert evaluate(membercare_changes, instance, first.cursor, membercare=mc).run_requests == []

    with mc.client() as client:
        person = client.get("persons", client.list_ids("persons")[0])
        client.replace("persons", person["debtorAccountNumber"], person | {"firstname": "Edited"})
    edited = evaluate(membercare_changes, instance, first.cursor, membercare=mc)
    assert len(edited.run_requests) == 1
    assert evaluate(membercare_changes, instance, edited.cursor, membercare=mc).run_requests == []

    with mc.client() as client:
        client.delete("products", client.list_ids("products")[0])  # a hard delete: no lastChange moves
    deleted = evaluate(membercare_changes, instance, edited.cursor, membercare=mc)
    assert len(deleted.run_requests) == 1
    assert "products/ids" in deleted.run_requests[0].tags["crm_membercare/changed"]


def test_a_queued_run_absorbs_new_changes_and_an_unreachable_system_keeps_the_cursor(customcrm_server, instance):
    from crm_membercare.definitions import defs

    seed(customcrm_server)
    crm = CustomCrmResource(base_url=customcrm_server.api_url, token="sandbox-crm-token")
    first = evaluate(customcrm_changes, instance, None, crm=crm)
    job = defs.resolve_job_def("sync_all")
    run = instance.create_run_for_job(job, run_config={}, status=dg.DagsterRunStatus.NOT_STARTED)
    with httpx.Client(base_url=customcrm_server.api_url, headers={"Authorization": "Bearer sandbox-crm-token"}) as http:
        http.post("/users", json={"email": "new@example.com", "first_name": "N", "last_name": "U",
                                  "role": "sales"}).raise_for_status()
    absorbed = evaluate(customcrm_changes, instance, first.cursor, crm=crm)
    assert absorbed.run_requests == [] and run.run_id in absorbed.skip_reason.skip_message
    assert absorbed.cursor != first.cursor

    offline = CustomCrmResource(base_url="http://127.0.0.1:9/api/v1", token="secret-token-value")
    result = evaluate(customcrm_changes, instance, first.cursor, crm=offline)
    assert isinstance(result, dg.SkipReason) and "secret-token-value" not in result.skip_message


def test_an_acknowledgement_from_the_cli_requests_one_run_without_opening_the_state(tmp_path, instance):
    state = tmp_path / "state.duckdb"  # never created: the sensor must not need it
    sync = SyncEngineResource(crm=CustomCrmResource(token="t"), membercare=MemberCareResource(api_key="k"),
                              state=state_database(str(state)))
    quiet = evaluate(breaker_acknowledgements, instance, None, sync=sync)
    assert quiet.run_requests == [] and quiet.skip_reason

    record_ack(state, "contacts_persons")
    acked = evaluate(breaker_acknowledgements, instance, quiet.cursor, sync=sync)
    assert len(acked.run_requests) == 1 and acked.cursor
    assert acked.run_requests[0].tags["crm_membercare/qa"] == "incremental"
    assert evaluate(breaker_acknowledgements, instance, acked.cursor, sync=sync).run_requests == []
    record_ack(state, "contacts_persons")  # acknowledged again later: a new run
    again = evaluate(breaker_acknowledgements, instance, acked.cursor, sync=sync)
    assert len(again.run_requests) == 1 and again.run_requests[0].run_key != acked.run_requests[0].run_key
    assert not state.exists()


def test_the_sensor_interval_and_the_resources_come_from_the_one_settings_loader():
    from crm_membercare.config import Settings
    from crm_membercare.definitions import build_definitions

    settings = Settings.from_env({"CRM_MEMBERCARE_SENSOR_INTERVAL": "7", "CUSTOMCRM_TOKEN": "from-the-env",
                                  "CRM_MEMBERCARE_CONFLICT_POLICY": "contacts_persons=crm"})
    defs = build_definitions(settings)
    intervals = {s.name: s.minimum_interval_seconds for s in defs.sensors}
    assert intervals == {"customcrm_changes": 7, "membercare_changes": 7, "breaker_acknowledgements": 7}
    crm = defs.resources["crm"]
    # A value the environment gave is named, never carried: the UI shows the variable, not the token.
    assert "from-the-env" not in repr(crm) and "CUSTOMCRM_TOKEN" in repr(crm)
    assert "MEMBERCARE_API_KEY" not in repr(defs.resources["membercare"])  # unset: the sandbox default
    with pytest.raises(ValueError, match="bad policy"):
        Settings.from_env({"CRM_MEMBERCARE_CONFLICT_POLICY": "contacts_persons=loudest"})
