"""The state file is the sync's alone (DESIGN C13, A0): a locked file is waited for, bounded; the CLI says in one
line what it could not do; the first release's file is taken over; names DuckDB would make ambiguous are refused.

Real parts only: real DuckDB files held by real other processes, the CLI as a subprocess, the sandboxes over HTTP.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from crm_membercare.config import (
    Settings,
    StatePathError,
    resolve_analytics_path,
    resolve_state_path,
)
from crm_membercare.engine import analytics
from crm_membercare.engine.acks import acks_digest, acks_path, record_ack
from crm_membercare.engine.state import StateLocked, open_state
from crm_membercare_tests.engine_support import CRM_TOKEN, MC_API_KEY, TINY_SCALE
from crm_membercare_tests.process_support import cli, holding, start_cli

READ_COMMANDS = (("status",), ("rejects", "--all"), ("conflicts",), ("status", "--json"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _state_with_one_cycle(path: Path) -> None:
    with open_state(path) as con:
        con.execute("INSERT INTO sync.cycles (finished_at, status) VALUES (now(), 'ok')")


def _env(tmp_path: Path) -> dict[str, str]:
    return {"CRM_MEMBERCARE_DB": str(tmp_path / "state.duckdb"),
            "CRM_MEMBERCARE_ANALYTICS_DB": str(tmp_path / "analytics.duckdb")}


# --- open_state ---------------------------------------------------------------------------------------------
def test_a_new_state_file_is_owner_only(tmp_path) -> None:
    path = tmp_path / "new" / "state.duckdb"
    with open_state(path):
        assert _mode(path) == 0o600
    assert _mode(path) == 0o600


def test_an_open_that_finds_the_state_locked_waits_and_succeeds_once_the_holder_lets_go(tmp_path, caplog) -> None:
    path = tmp_path / "state.duckdb"
    _state_with_one_cycle(path)
    with holding(path) as holder:
        threading.Timer(1.0, holder.release).start()
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="crm_membercare.state"), open_state(path, wait_s=20) as con:
            waited = time.monotonic() - started
            assert con.execute("SELECT count(*) FROM sync.cycles").fetchall() == [(1,)]
    assert 0.8 < waited < 10
    messages = [record.getMessage() for record in caplog.records if record.name == "crm_membercare.state"]
    assert any("in use by another process: waiting" in m for m in messages), messages
    assert any("after waiting" in m for m in messages), messages


@pytest.mark.parametrize("read_only", [False, True])
def test_an_open_gives_up_after_its_bound_with_a_one_line_error(tmp_path, read_only) -> None:
    path = tmp_path / "state.duckdb"
    _state_with_one_cycle(path)
    with holding(path):
        started = time.monotonic()
        with pytest.raises(StateLocked) as raised, open_state(path, read_only=read_only, wait_s=0.6):
            pass
        assert 0.6 <= time.monotonic() - started < 3
    assert raised.value.path == path and raised.value.waited_s >= 0.6
    assert "\n" not in str(raised.value) and "in use by another process" in str(raised.value)


# --- the CLI while another process holds the state -------------------------------------------------------------
def test_read_commands_without_an_analysts_copy_say_one_line_and_exit_3(tmp_path) -> None:
    env = _env(tmp_path)
    _state_with_one_cycle(tmp_path / "state.duckdb")
    with holding(tmp_path / "state.duckdb"):
        runs = [cli(*command, "--wait", "0.3", env=env) for command in READ_COMMANDS]
    for run in runs:
        assert run.returncode == 3, run.stderr
        assert "Traceback" not in run.stderr and run.stdout == ""
        assert len(run.stderr.strip().splitlines()) == 1
        assert "in use by a running cycle" in run.stderr and "no analysts' copy" in run.stderr


def test_read_commands_show_the_analysts_copy_and_say_so_in_one_line(tmp_path) -> None:
    env = _env(tmp_path)
    with open_state(tmp_path / "state.duckdb") as con:
        con.execute("INSERT INTO sync.cycles (finished_at, status) VALUES (now(), 'ok')")
        analytics.publish(con, tmp_path / "state.duckdb", tmp_path / "analytics.duckdb")
    with holding(tmp_path / "state.duckdb"):
        runs = [cli(*command, "--wait", "0.3", env=env) for command in READ_COMMANDS]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            "the state is in use by a running cycle: showing the analysts' copy as of "), lines
    assert "cycles:" in runs[0].stdout and '"cycles"' in runs[3].stdout


def test_read_commands_wait_for_a_cycle_that_ends_soon(tmp_path) -> None:
    env = _env(tmp_path)
    _state_with_one_cycle(tmp_path / "state.duckdb")
    with holding(tmp_path / "state.duckdb") as holder:
        threading.Timer(0.8, holder.release).start()
        run = cli("status", "--wait", "20", env=env)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert "cycles:" in run.stdout


def test_breaker_ack_waits_like_the_read_commands_and_records_the_ack_for_the_sensor(tmp_path) -> None:
    env, state = _env(tmp_path), tmp_path / "state.duckdb"
    with open_state(state) as con:
        con.execute("INSERT INTO sync.breakers VALUES ('products_products', now(), 30, 20, NULL)")
    with holding(state):
        locked = cli("breaker", "ack", "products_products", "--wait", "0.3", env=env)
    assert locked.returncode == 3 and "Traceback" not in locked.stderr
    assert len(locked.stderr.strip().splitlines()) == 1 and "nothing acknowledged" in locked.stderr
    assert acks_digest(state) is None

    done = cli("breaker", "ack", "products_products", env=env)
    assert done.returncode == 0, done.stderr
    first = acks_digest(state)
    assert first is not None and _mode(acks_path(state)) == 0o600
    assert '"flow": "products_products"' in acks_path(state).read_text()
    with open_state(state, read_only=True) as con:
        assert con.execute("SELECT acknowledged_at IS NOT NULL FROM sync.breakers").fetchall() == [(True,)]

    not_tripped = cli("breaker", "ack", "contacts_persons", env=env)
    assert not_tripped.returncode == 1 and acks_digest(state) == first


def test_acks_digest_changes_with_every_acknowledgement(tmp_path) -> None:
    state = tmp_path / "state.duckdb"
    assert acks_digest(state) is None
    record_ack(state, "contacts_persons")
    first = acks_digest(state)
    record_ack(state, "contacts_persons")
    assert first is not None and acks_digest(state) not in (None, first)
    assert len(acks_path(state).read_text().splitlines()) == 2


def test_two_syncs_at_once_the_second_waits_or_says_one_line(customcrm_server, membercare_server, tmp_path) -> None:
    for server in (customcrm_server, membercare_server):
        httpx.post(f"{server.root_url}/_sandbox/seed", json={"seed": 5, "scale": TINY_SCALE, "overlap": 0.3},
                   timeout=60).raise_for_status()
    env = {**_env(tmp_path), "CUSTOMCRM_BASE_URL": customcrm_server.api_url, "CUSTOMCRM_TOKEN": CRM_TOKEN,
           "MEMBERCARE_BASE_URL": membercare_server.api_url, "MEMBERCARE_API_KEY": MC_API_KEY}
    waiting = [start_cli("sync", "--once", env=env), start_cli("sync", "--once", env=env)]
    impatient = cli("sync", "--once", "--wait", "0", env=env) if _cycle_running(tmp_path, waiting) else None
    outcomes = [(process.wait(timeout=120), *process.communicate()) for process in waiting]
    for code, stdout, stderr in outcomes:
        assert code == 0, stderr
        assert "Traceback" not in stderr and "analysts' copy:" in stdout
    cycles = [int(stdout.split()[1]) for _, stdout, _ in outcomes]
    if impatient is not None:
        assert "Traceback" not in impatient.stderr
        if impatient.returncode == 0:  # it found the file free between the other two
            cycles.append(int(impatient.stdout.split()[1]))
        else:
            assert impatient.returncode == 3 and impatient.stdout == ""
            assert len(impatient.stderr.strip().splitlines()) == 1
            assert "sync could not run: the state file" in impatient.stderr
    assert sorted(cycles) == list(range(1, len(cycles) + 1))  # one after the other, never together


def _cycle_running(tmp_path: Path, processes: list[subprocess.Popen]) -> bool:
    """True once a state file exists while both syncs still run (the tiny world's cycle takes a few seconds)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and all(p.poll() is None for p in processes):
        if (tmp_path / "state.duckdb").exists():
            return True
        time.sleep(0.05)
    return False


# --- paths ----------------------------------------------------------------------------------------------------
def _legacy_with_uncheckpointed_wal(root: Path) -> None:
    """The first release's state file, left by a process that died with commits only in its WAL."""
    script = ("import os, sys; from crm_membercare.engine.state import open_state\n"
              "with open_state(sys.argv[1]) as con:\n"
              "    con.execute(\"INSERT INTO sync.cycles (finished_at, status) VALUES (now(), 'legacy')\")\n"
              "    os._exit(0)\n")
    subprocess.run([sys.executable, "-c", script, str(root / "data" / "sync.duckdb")], check=True)


def test_the_first_releases_state_file_and_its_wal_are_taken_over(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _legacy_with_uncheckpointed_wal(tmp_path)
    assert Path("data/sync.duckdb.wal").exists()
    taken = resolve_state_path(Settings())
    assert taken == Path("data/state.duckdb")
    assert not Path("data/sync.duckdb").exists() and not Path("data/sync.duckdb.wal").exists()
    with open_state(taken, read_only=True) as con:
        assert con.execute("SELECT status FROM sync.cycles").fetchall() == [("legacy",)]
    # The legacy name set explicitly means the same file; a second call finds it in place.
    assert resolve_state_path(Settings(db_path="data/sync.duckdb")) == taken
    assert resolve_analytics_path(Settings.from_env({})) == Path("data/analytics.duckdb")


def test_a_legacy_file_is_left_alone_when_the_new_one_exists(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _legacy_with_uncheckpointed_wal(tmp_path)
    _state_with_one_cycle(Path("data/state.duckdb"))
    assert resolve_state_path(Settings()) == Path("data/state.duckdb")
    assert Path("data/sync.duckdb").exists()
    with open_state("data/state.duckdb", read_only=True) as con:
        assert con.execute("SELECT status FROM sync.cycles").fetchall() == [("ok",)]


def test_the_cli_takes_over_the_legacy_file_too(tmp_path) -> None:
    _legacy_with_uncheckpointed_wal(tmp_path)
    run = cli("status", env={}, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "legacy" in run.stdout and (tmp_path / "data" / "state.duckdb").exists()


@pytest.mark.parametrize("stem", ["crm", "membercare", "sync", "SYNC"])
def test_a_state_or_analytics_file_named_like_a_schema_is_refused(tmp_path, stem) -> None:
    named = str(tmp_path / f"{stem}.duckdb")
    with pytest.raises(StatePathError, match="ambiguous") as raised:
        resolve_state_path(Settings(db_path=named))
    assert "\n" not in str(raised.value)
    with pytest.raises(StatePathError, match="ambiguous"):
        resolve_analytics_path(Settings(db_path=str(tmp_path / "state.duckdb"), analytics_db=named))
    run = cli("status", env={"CRM_MEMBERCARE_DB": named})
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [f"CRM_MEMBERCARE_DB={named} is refused: a file named "
                                               f"'{stem}.duckdb' would make `{stem}.…` ambiguous in DuckDB; "
                                               f"name it e.g. {tmp_path / 'state.duckdb'}"]
    assert not os.path.exists(named)


def test_the_analytics_file_must_not_be_the_state_itself(tmp_path) -> None:
    same = str(tmp_path / "state.duckdb")
    with pytest.raises(StatePathError, match="the state file itself"):
        resolve_analytics_path(Settings(db_path=same, analytics_db=same))


def test_the_analytics_default_is_beside_the_state(tmp_path) -> None:
    settings = Settings.from_env({"CRM_MEMBERCARE_DB": str(tmp_path / "x" / "state.duckdb")})
    assert settings.analytics_db == str(tmp_path / "x" / "analytics.duckdb")
    assert Settings().db_path == "data/state.duckdb" and Settings().analytics_db == "data/analytics.duckdb"
