"""What `sync.cycles` says about cycles that did not complete (issue 12, item 10; DESIGN C13).

A cycle whose process is SIGKILLed mid-writeback used to stay `running` forever, and a failed cycle kept no
reason. Now the next cycle marks the dead one `interrupted`, a failed one keeps its error (kind and first line,
never a credential), and `crm-membercare status` shows both. Real parts: the CLI as a subprocess, the sandboxes
over HTTP (with latency, so the kill lands mid-cycle), real DuckDB files.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import duckdb
import httpx
import pytest

from crm_membercare.engine.state import MIGRATIONS, open_state, schema_version
from crm_membercare.engine.sync_engine import error_text
from crm_membercare.sandbox.serving import RunningServer
from crm_membercare_tests.clients_support import Admin
from crm_membercare_tests.engine_support import CRM_TOKEN, MC_API_KEY
from crm_membercare_tests.process_support import cli, start_cli

SCALE = {"users": 2, "customers": 4, "contacts": 8, "products": 3, "orders": 4, "quotes": 2}


def _env(tmp_path: Path, crm: RunningServer, mc: RunningServer) -> dict[str, str]:
    return {"CUSTOMCRM_BASE_URL": crm.api_url, "CUSTOMCRM_TOKEN": CRM_TOKEN, "MEMBERCARE_BASE_URL": mc.api_url,
            "MEMBERCARE_API_KEY": MC_API_KEY, "CRM_MEMBERCARE_DB": str(tmp_path / "state.duckdb"),
            "CRM_MEMBERCARE_ANALYTICS_DB": str(tmp_path / "analytics.duckdb")}


@pytest.fixture
def seeded(customcrm_server, membercare_server) -> tuple[RunningServer, RunningServer]:
    for server in (customcrm_server, membercare_server):
        httpx.post(f"{server.root_url}/_sandbox/seed", json={"seed": 4, "scale": SCALE, "overlap": 0.5},
                   timeout=60).raise_for_status()
    return customcrm_server, membercare_server


def _cycles(env: dict[str, str]) -> list[dict]:
    run = cli("status", "--json", env=env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)["cycles"]


def test_a_cycle_killed_mid_way_is_marked_interrupted_by_the_next(seeded, tmp_path) -> None:
    crm, mc = seeded
    env = _env(tmp_path, crm, mc)
    admins = [Admin(crm), Admin(mc)]
    for admin in admins:
        admin.faults(latency_ms=150)  # the cycle takes seconds: the kill lands inside it
    process = start_cli("sync", "--once", env=env)
    try:
        line = process.stderr.readline()
        assert line.strip().startswith("extracted"), line + process.stderr.read()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    for admin in admins:
        admin.faults(latency_ms=0)
        admin.close()
    with open_state(tmp_path / "state.duckdb", read_only=True) as con:  # what the killed process left
        assert con.execute("SELECT id, status FROM sync.cycles").fetchall() == [(1, "running")]

    run = cli("sync", "--once", env=env)
    assert run.returncode == 0, run.stderr
    cycles = _cycles(env)
    assert [(c["cycle"], c["status"]) for c in cycles] == [(2, "completed"), (1, "interrupted")]
    assert cycles[0]["error"] is None
    assert "ended before the cycle did" in cycles[1]["error"] and "cycle 2" in cycles[1]["error"]
    table = cli("status", env=env).stdout
    assert "interrupted" in table and "ended before the cycle did" in table


def test_a_failed_cycle_keeps_its_error_in_one_line_without_credentials(seeded, tmp_path) -> None:
    crm, mc = seeded
    env = _env(tmp_path, crm, mc)
    admin = Admin(crm)
    admin.faults(error_rate=1.0)
    try:
        run = cli("sync", "--once", env=env)
    finally:
        admin.faults(error_rate=0.0)
        admin.close()
    assert run.returncode == 1 and "Traceback" not in run.stderr
    (cycle,) = _cycles(env)
    assert cycle["status"] == "failed" and cycle["finished_at"] is not None
    error = cycle["error"]
    assert error.startswith("RetryableError: CustomCRM GET /") and "injected_fault" in error, error
    assert "\n" not in error and CRM_TOKEN not in error and MC_API_KEY not in error

    assert cli("sync", "--once", env=env).returncode == 0
    assert [(c["status"], c["error"]) for c in _cycles(env)][0] == ("completed", None)


def test_the_error_text_is_the_kind_and_the_first_line_bounded_and_redacted() -> None:
    assert error_text(ValueError("bad answer to GET /token?clientApiKey=k3y&x=1\nsecond line")) == \
        "ValueError: bad answer to GET /token?clientApiKey=[redacted]&x=1"
    assert error_text(KeyboardInterrupt()) == "KeyboardInterrupt"
    assert len(error_text(RuntimeError("x" * 10_000))) == 500


def test_a_state_from_before_gets_the_error_column(tmp_path) -> None:
    path = tmp_path / "state.duckdb"
    with duckdb.connect(str(path)) as con:  # a state file as the previous release left it (version 3)
        schema_version(con)
        for version, migration in enumerate(MIGRATIONS[:3], start=1):
            migration(con)
            con.execute("INSERT INTO sync.schema_version VALUES (?)", [version])
        con.execute("INSERT INTO sync.cycles (finished_at, status) VALUES (now(), 'completed')")
    with open_state(path) as con:
        assert schema_version(con) == len(MIGRATIONS) >= 4
        assert con.execute("SELECT status, error FROM sync.cycles").fetchall() == [("completed", None)]
