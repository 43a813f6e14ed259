"""The production deployment's files (deploy/, docs/deploy.md) say what the code needs, and Dagster's own CLI
loads the project (`dg check defs`, `dg list defs`).

`make deploy-check` runs the topology for real; these tests read the files: the services of the compose file,
the instance's storage, run coordinator and launcher, the variables each process gets (the ones
`Settings.from_env` reads), and that no credential is written in any of them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import class_from_code_pointer

from crm_membercare.config import ENVIRONMENT
from crm_membercare.definitions import defs
from crm_membercare.defs.jobs import SYNC_TAGS

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SERVICES = {"postgresql", "code-location", "dagster-webserver", "dagster-daemon"}
POSTGRES_VARIABLES = {"DAGSTER_POSTGRES_HOST", "DAGSTER_POSTGRES_PORT", "DAGSTER_POSTGRES_USER",
                      "DAGSTER_POSTGRES_PASSWORD", "DAGSTER_POSTGRES_DB"}
SECRET_NAMES = re.compile(r"TOKEN|API_KEY|PASSWORD|SECRET", re.IGNORECASE)
REQUIRED_FROM_ENVIRONMENT = re.compile(r"^\$\{(\w+):\?[^}]*\}$")  # compose refuses to start without it


def load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return load("compose.yaml")


@pytest.fixture(scope="module")
def instance() -> dict:
    return load("dagster.yaml")


def test_compose_runs_dagsters_pieces_as_separate_services(compose):
    services = compose["services"]
    assert set(services) == SERVICES
    assert services["code-location"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert services["dagster-webserver"]["command"][0] == "dagster-webserver"
    assert services["dagster-daemon"]["command"][:2] == ["dagster-daemon", "run"]
    for name in ("dagster-webserver", "dagster-daemon"):
        assert "./workspace.yaml:/opt/dagster/workspace.yaml:ro" in services[name]["volumes"]
        assert services[name]["depends_on"]["code-location"] == {"condition": "service_healthy"}
    # The UI is published on the host's loopback only.
    assert all(port.startswith("127.0.0.1:") for port in services["dagster-webserver"]["ports"])


def test_the_image_serves_the_code_location_from_the_lock():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -c requirements.lock '.[deploy]'" in dockerfile
    assert ('CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000", "-m", "crm_membercare.definitions"]'
            in dockerfile)
    workspace = load("workspace.yaml")["load_from"]
    assert workspace == [{"grpc_server": {"host": "code-location", "port": 4000, "location_name": "crm_membercare"}}]


def test_every_setting_the_code_reads_reaches_the_code_location_the_daemon_and_the_runs(compose, instance):
    launcher_variables = set(instance["run_launcher"]["config"]["env_vars"])
    for name in ("code-location", "dagster-daemon"):
        environment = compose["services"][name]["environment"]
        ours = {variable for variable in environment if not variable.startswith("DAGSTER_")}
        assert ours == set(ENVIRONMENT), name
        assert POSTGRES_VARIABLES <= set(environment), name
    # The launcher reads each name from the daemon's environment, and fails a run whose variable is unset.
    assert launcher_variables == set(ENVIRONMENT) | POSTGRES_VARIABLES
    assert launcher_variables <= set(compose["services"]["dagster-daemon"]["environment"])
    assert set(compose["services"]["dagster-webserver"]["environment"]) == POSTGRES_VARIABLES


def test_no_credential_is_written_in_the_deployment_files(compose, instance):
    for name, service in compose["services"].items():
        for variable, value in service.get("environment", {}).items():
            if SECRET_NAMES.search(variable) or variable.endswith("_USER"):
                assert REQUIRED_FROM_ENVIRONMENT.match(str(value)), (name, variable)
    postgres_db = instance["run_storage"]["config"]["postgres_db"]
    for key in ("hostname", "port", "username", "password", "db_name"):
        assert set(postgres_db[key]) == {"env"}, key
    helm = load("helm/values.yaml")
    assert "postgresqlPassword" not in helm["postgresql"] and helm["generatePostgresqlPasswordSecret"] is False
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.suffix in {".yaml", ".py", ""}:
            text = path.read_text()
            assert "sandbox-crm-token" not in text and "sandbox-membercare-key" not in text, path


def test_instance_storage_is_postgresql_and_sync_runs_one_at_a_time(instance):
    assert {instance[kind]["module"]: instance[kind]["class"]
            for kind in ("run_storage", "event_log_storage", "schedule_storage")} == {
        "dagster_postgres.run_storage": "PostgresRunStorage",
        "dagster_postgres.event_log": "PostgresEventLogStorage",
        "dagster_postgres.schedule_storage": "PostgresScheduleStorage"}
    coordinator = instance["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert coordinator["config"]["max_concurrent_runs"] == 1
    writer = {"key": "crm_membercare/writer", "value": "state", "limit": 1}
    assert writer in coordinator["config"]["tag_concurrency_limits"]
    assert SYNC_TAGS[writer["key"]] == writer["value"]  # the tag the limit counts is the one sync runs carry
    assert instance["run_retries"]["enabled"] and instance["run_retries"]["max_retries"] >= 1
    assert instance["run_monitoring"]["enabled"]
    assert (instance["run_launcher"]["module"], instance["run_launcher"]["class"]) == (
        "dagster_docker", "DockerRunLauncher")


def test_runs_mount_the_volumes_and_network_compose_creates(compose, instance):
    launcher = instance["run_launcher"]["config"]
    named = {volume["name"]: key for key, volume in compose["volumes"].items()}
    mounts = dict(volume.split(":")[:2] for volume in launcher["container_kwargs"]["volumes"])
    assert set(mounts) <= set(named)
    environment = compose["services"]["dagster-daemon"]["environment"]
    assert Path(environment["CRM_MEMBERCARE_DB"]).parent == Path(mounts["crm-membercare-state"])
    assert Path(environment["CRM_MEMBERCARE_ANALYTICS_DB"]).parent == Path(mounts["crm-membercare-analytics"])
    assert f"{named['crm-membercare-state']}:/data" in compose["services"]["code-location"]["volumes"]
    assert launcher["network"] == compose["networks"]["default"]["name"]


def test_dagster_validates_the_production_instance_file(tmp_path):
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    settings, _ = dagster_instance_config(str(tmp_path))  # the instance's own schema; raises when invalid
    for kind in ("run_storage", "event_log_storage", "schedule_storage", "run_coordinator", "run_launcher",
                 "scheduler"):
        section = settings[kind]
        configured = class_from_code_pointer(section["module"], section["class"])
        result = validate_config(configured.config_type(), section.get("config") or {})
        assert result.success, (kind, [error.message for error in result.errors])


def dg(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Dagster's own CLI in the project, as a user with the project's venv activated runs it."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")  # telemetry off
    venv = Path(sys.prefix)  # the project's .venv, whose pytest runs this (make test)
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "DAGSTER_HOME": str(home)}
    return subprocess.run([str(venv / "bin" / "dg"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_dg_check_defs_passes(tmp_path):
    result = dg("check", "defs", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully." in result.stdout


def test_dg_list_defs_lists_the_code_locations_definitions(tmp_path):
    result = dg("list", "defs", "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert {s["name"] for s in listed["sensors"]} == {s.name for s in defs.sensors}
    assert [j["name"] for j in listed["jobs"]] == ["sync_all"]
    assert {s["name"] for s in listed["schedules"]} == {"full_sync_with_qa"}
    assert len(listed["assets"]) == len(list(defs.resolve_all_asset_keys()))
