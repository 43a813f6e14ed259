"""Files that hold personal data are readable by their owner only (issue 12, item 9; DESIGN Part E "Security").

What `test_security.py` and `test_state_lock.py` already hold: a new state file, its WAL and the analysts' copy
are 0600 after CLI and Dagster runs, the acks file too. Here, what they did not: a state file an earlier release
left 0644 is tightened when the sync opens it (the CLI's takeover of `data/sync.duckdb` included), and the
sandboxes' SQLite stores (with their -wal and -shm) and their data directory are owner-only, even under a
permissive umask.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crm_membercare.engine.state import open_state
from crm_membercare.sandbox.serving import free_port, serve_in_thread
from crm_membercare_tests.process_support import cli


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The umask a fresh login shell has: files 0644, directories 0755 unless the code says otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _world_readable_state(path: Path) -> None:
    """A state file as the first release created it: 0644, with a record in it."""
    with open_state(path) as con:
        con.execute("INSERT INTO sync.cycles (finished_at, status) VALUES (now(), 'completed')")
    os.chmod(path, 0o644)


def test_a_state_file_readable_by_others_is_made_owner_only_when_the_sync_opens_it(
        tmp_path, permissive_umask, caplog) -> None:
    path = tmp_path / "state.duckdb"
    _world_readable_state(path)
    with open_state(path, read_only=True):
        pass
    assert _mode(path) == 0o644  # a reader changes nothing
    with open_state(path):
        pass
    assert _mode(path) == 0o600
    assert any("made owner-only" in record.getMessage() for record in caplog.records)


def test_the_cli_takes_over_the_first_release_s_file_owner_only(tmp_path, permissive_umask) -> None:
    _world_readable_state(tmp_path / "data" / "sync.duckdb")
    run = cli("breaker", "ack", "contacts_persons", env={"CRM_MEMBERCARE_DB": "data/sync.duckdb"}, cwd=tmp_path)
    assert run.returncode == 1, run.stderr  # nothing tripped: it only opened the state for writing
    assert _mode(tmp_path / "data" / "state.duckdb") == 0o600


def test_a_sandbox_store_and_its_directory_are_owner_only(tmp_path, permissive_umask) -> None:
    from crm_membercare.sandbox.customcrm.app import create_app

    store = tmp_path / "new" / "customcrm.sqlite"
    server = serve_in_thread(create_app(store))
    try:
        response = httpx.post(f"{server.api_url}/contacts", json={"first_name": "Kari", "last_name": "Nordmann"},
                              headers={"Authorization": "Bearer sandbox-crm-token"})
        assert response.status_code == 201
        files = {path.name: _mode(path) for path in store.parent.iterdir()}
    finally:
        server.stop()
    assert {"customcrm.sqlite", "customcrm.sqlite-wal", "customcrm.sqlite-shm"} <= set(files)
    assert {name: oct(mode) for name, mode in files.items() if mode != 0o600} == {}
    assert _mode(store.parent) == 0o700


def test_a_sandbox_store_left_readable_by_others_is_tightened(tmp_path, permissive_umask) -> None:
    from crm_membercare.sandbox.membercare.app import create_app

    store = tmp_path / "membercare.sqlite"
    store.touch(mode=0o644)
    server = serve_in_thread(create_app(store))
    server.stop()
    assert _mode(store) == 0o600


def test_the_sandbox_command_creates_its_data_directory_owner_only(tmp_path) -> None:
    data_dir = tmp_path / "data" / "sandbox"
    crm_port, mc_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "crm_membercare.cli", "sandbox", "--data-dir", str(data_dir),
         "--crm-port", str(crm_port), "--membercare-port", str(mc_port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.umask(0o022))
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        assert all("sandbox:" in line for line in lines), lines + [process.stderr.read()]
        modes = {path.name: oct(_mode(path)) for path in data_dir.iterdir()}
        assert _mode(data_dir) == 0o700
        assert {name: mode for name, mode in modes.items() if mode != oct(0o600)} == {}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
