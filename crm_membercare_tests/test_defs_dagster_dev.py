"""End to end: `dagster dev` (webserver + daemon) with the sensors running syncs an edit from one sandbox to the
other, then shuts down cleanly. Temp DAGSTER_HOME and state file; sandboxes on free ports."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from crm_membercare.demo import prepare_dagster_home, start_dagster_dev, stop
from crm_membercare.mapping.flows import FLOWS
from crm_membercare.sandbox.serving import free_port

TINY = {"users": 2, "customers": 4, "contacts": 8, "products": 3, "orders": 4, "quotes": 2}
CRM_AUTH = {"Authorization": "Bearer sandbox-crm-token"}


def wait_for(what: str, probe, timeout_s: float, log_path):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = probe()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}; dagster dev log tail:\n{log_path.read_text()[-3000:]}")


CHECKS_QUERY = """{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks {
    name executionForLatestMaterialization { status } } } } } }"""


def _link_check_statuses(port: int) -> dict[str, dict[str, str | None]] | None:
    """Each link table's checks and the status of their evaluation for its latest materialization."""
    nodes = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": CHECKS_QUERY}, timeout=10).json()
    found = {}
    for node in nodes["data"]["assetNodes"]:
        if node["assetKey"]["path"][0] == "links":
            checks = node["assetChecksOrError"]["checks"]
            found[node["assetKey"]["path"][-1]] = {
                c["name"]: (c["executionForLatestMaterialization"] or {}).get("status") for c in checks}
    settled = found and all(s not in (None, "IN_PROGRESS") for c in found.values() for s in c.values())
    return found if settled else None


@pytest.mark.slow
def test_dagster_dev_sensors_carry_an_edit_from_the_crm_to_membercare(customcrm_server, membercare_server, tmp_path):
    for server in (customcrm_server, membercare_server):
        httpx.post(f"{server.root_url}/_sandbox/seed", json={"seed": 3, "scale": TINY, "overlap": 0.5},
                   timeout=60).raise_for_status()
    env = {
        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
        "DAGSTER_HOME": str(prepare_dagster_home(tmp_path / "dagster_home")),
        "CRM_MEMBERCARE_DB": str(tmp_path / "state.duckdb"), "CRM_MEMBERCARE_SENSOR_INTERVAL": "2",
        "CRM_MEMBERCARE_ANALYTICS_DB": str(tmp_path / "analytics.duckdb"),
        "CUSTOMCRM_BASE_URL": customcrm_server.api_url, "CUSTOMCRM_TOKEN": "sandbox-crm-token",
        "MEMBERCARE_BASE_URL": membercare_server.api_url, "MEMBERCARE_API_KEY": "sandbox-membercare-key",
    }
    port = free_port()
    log_path = tmp_path / "dagster-dev.log"
    with log_path.open("wb") as log:
        dagster = start_dagster_dev(env, port, log=log)
        try:
            crm = httpx.Client(base_url=customcrm_server.api_url, headers=CRM_AUTH, timeout=10)
            contact_id = crm.get("/contacts", params={"limit": 1}).json()["data"][0]["id"]

            def linked_person() -> str | None:
                ref = crm.get(f"/contacts/{contact_id}").json()["external_ref"]
                return ref.rsplit(":", 1)[1] if ref and ref.startswith("membercare:persons:") else None

            person_id = wait_for("the first sync to link the contact", linked_person, 240, log_path)

            graph = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ assetNodes { id } }"}).json()
            assert len(graph["data"]["assetNodes"]) == 10 + 1 + 5 * len(FLOWS) + 2

            crm.patch(f"/contacts/{contact_id}", json={"last_name": "Edited-In-CRM"}).raise_for_status()
            edited_at = time.monotonic()
            mc = httpx.Client(base_url=membercare_server.api_url, timeout=10)
            token = mc.get("/token", params={"clientApiKey": "sandbox-membercare-key"}).json()["value"]
            mc.headers["token"] = token
            wait_for("the edit to reach MemberCare",
                     lambda: mc.get(f"/persons/{person_id}").json()["lastname"] == "Edited-In-CRM", 120, log_path)
            print(f"edit propagated in {time.monotonic() - edited_at:.1f} s")
            # What the UI shows: after the sensors' runs, every link table's checks are evaluated against its
            # latest materialization (never "not evaluated").
            statuses = wait_for("the sensor run's checks", lambda: _link_check_statuses(port), 60, log_path)
            assert set(statuses) == {f"{flow.name}_links" for flow in FLOWS}
            for label, checks in statuses.items():
                assert len(checks) == 7 and None not in checks.values(), (label, checks)
            # Every run materializes every asset: none looks out of date behind a newer upstream ("Unsynced").
            def all_fresh() -> bool:
                nodes = httpx.post(f"http://127.0.0.1:{port}/graphql", timeout=10, json={
                    "query": "{ assetNodes { staleStatus } }"}).json()["data"]["assetNodes"]
                return {n["staleStatus"] for n in nodes} == {"FRESH"}

            wait_for("every asset fresh once the runs settle", all_fresh, 60, log_path)
        finally:
            stop(dagster, timeout_s=240)  # a run may be finishing: under CI load 90 s was seen too short
    assert dagster.returncode is not None  # stopped within stop()'s deadline, like Ctrl-C in a terminal
    assert dagster.returncode != -signal.SIGKILL, "the dev server had to be killed"
    # Stopped in order: the daemon said so. (Its parent's own last line, "Dagster services shut down", was seen
    # missing once under CI load although the process ended on Ctrl-C: its log line is not waited for.)
    log = log_path.read_text()
    assert "Dagster services shut down" in log or "Daemon threads shut down" in log
