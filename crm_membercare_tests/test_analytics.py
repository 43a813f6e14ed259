"""The analysts' file (DESIGN C13): a copy of the state with the same table names, owner-only, published after
every `sync --once`; an analyst's process holding it open never stops a run and never sees a half-written file.

Real parts only: real DuckDB files, the analyst as another process, the CLI as a subprocess, the sandboxes over
HTTP.
"""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import httpx
import pytest

from crm_membercare.engine import analytics
from crm_membercare.engine.state import open_state
from crm_membercare_tests.engine_support import CRM_TOKEN, MC_API_KEY, TINY_SCALE
from crm_membercare_tests.hostile_support import CrmUser, McUser
from crm_membercare_tests.process_support import cli, holding

ANALYST_TABLES = ("sync.links", "crm.contacts", "membercare.persons", "sync.outbox", "sync.conflicts",
                  "sync.rejects", "sync.cycles")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _finish_cycle(con: duckdb.DuckDBPyConnection, status: str = "ok") -> None:
    con.execute("INSERT INTO sync.cycles (finished_at, status) VALUES (now(), ?)", [status])


def test_publish_through_open_state_copies_the_state_with_its_table_names(tmp_path) -> None:
    state, target = tmp_path / "state.duckdb", tmp_path / "out" / "analytics.duckdb"
    with open_state(state) as con:
        _finish_cycle(con)
        con.execute("INSERT INTO sync.rejects (flow, side, record_id, field, reason) "
                    "VALUES ('contacts_persons', 'crm', '42', 'email', 'not an email')")
        result = analytics.publish(con, state, target)
        assert not Path(f"{state}.wal").exists() or Path(f"{state}.wal").stat().st_size == 0
    assert result.path == target and result.bytes == target.stat().st_size > 0
    assert result.cycle_id == 1 and 0 <= result.checkpoint_seconds <= result.seconds
    assert result.metadata()["analytics_cycle_id"] == 1
    assert _mode(target) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["analytics.duckdb"]  # no temporary file left
    with duckdb.connect(str(target), read_only=True) as reader:  # as an analyst opens it: catalog "analytics"
        for table in ANALYST_TABLES:
            reader.execute(f"SELECT * FROM {table} LIMIT 1").fetchall()
        assert reader.execute("SELECT record_id, reason FROM sync.rejects").fetchall() == [("42", "not an email")]


def test_publish_through_a_direct_connection(tmp_path) -> None:
    state, target = tmp_path / "state.duckdb", tmp_path / "analytics.duckdb"
    with open_state(state) as con:
        _finish_cycle(con)
    with duckdb.connect(str(state)) as con:  # its default catalog is the file itself ("state")
        _finish_cycle(con)
        assert analytics.publish(con, state, target).cycle_id == 2


def test_publish_refuses_a_connection_without_the_state(tmp_path) -> None:
    with duckdb.connect() as con, pytest.raises(analytics.PublishError, match="no catalog"):
        analytics.publish(con, tmp_path / "state.duckdb", tmp_path / "analytics.duckdb")
    assert not (tmp_path / "analytics.duckdb").exists()


def test_a_reader_of_the_old_copy_does_not_stop_the_next_publish(tmp_path) -> None:
    state, target = tmp_path / "state.duckdb", tmp_path / "analytics.duckdb"
    with open_state(state) as con:
        _finish_cycle(con)
        analytics.publish(con, state, target)
        with holding(target, read_only=True) as analyst:
            assert analyst.ask("SELECT count(*) FROM sync.cycles") == [[1]]
            _finish_cycle(con)
            _finish_cycle(con)
            assert analytics.publish(con, state, target).cycle_id == 3
            assert analyst.ask("SELECT count(*) FROM sync.cycles") == [[1]]  # its copy, whole and unchanged
            with holding(target, read_only=True) as newcomer:  # a new reader gets the new copy
                assert newcomer.ask("SELECT count(*) FROM sync.cycles") == [[3]]
    assert _mode(target) == 0o600


def test_a_stale_analytics_wal_is_not_replayed_onto_a_new_copy(tmp_path) -> None:
    state, target = tmp_path / "state.duckdb", tmp_path / "analytics.duckdb"
    with open_state(state) as con:
        _finish_cycle(con)
        analytics.publish(con, state, target)
        Path(f"{target}.wal").write_bytes(b"left by someone who opened the copy read-write")
        _finish_cycle(con)
        analytics.publish(con, state, target)
    assert not Path(f"{target}.wal").exists()
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute("SELECT count(*) FROM sync.cycles").fetchall() == [(2,)]


def test_an_analyst_holding_the_file_open_through_three_syncs_stops_none(
        customcrm_server, membercare_server, tmp_path) -> None:
    for server in (customcrm_server, membercare_server):
        httpx.post(f"{server.root_url}/_sandbox/seed", json={"seed": 9, "scale": TINY_SCALE, "overlap": 0.3},
                   timeout=60).raise_for_status()
    state, target = tmp_path / "state.duckdb", tmp_path / "analytics.duckdb"
    env = {"CRM_MEMBERCARE_DB": str(state), "CRM_MEMBERCARE_ANALYTICS_DB": str(target),
           "CUSTOMCRM_BASE_URL": customcrm_server.api_url, "CUSTOMCRM_TOKEN": CRM_TOKEN,
           "MEMBERCARE_BASE_URL": membercare_server.api_url, "MEMBERCARE_API_KEY": MC_API_KEY}
    first = cli("sync", "--once", env=env)
    assert first.returncode == 0, first.stderr
    assert _mode(target) == 0o600 and _mode(state) == 0o600

    with holding(target, read_only=True) as analyst:
        tables = {f"{schema}.{name}" for schema, name in
                  analyst.ask("SELECT schema_name, table_name FROM duckdb_tables()")}
        assert set(ANALYST_TABLES) <= tables
        crm_id, mc_id = analyst.ask("SELECT crm_id, mc_id FROM sync.links WHERE flow = 'contacts_persons' "
                                    "AND state = 'active' ORDER BY crm_id LIMIT 1")[0]
        crm = CrmUser(customcrm_server, CRM_TOKEN)
        crm.update("contacts", crm_id, {"first_name": "Analystina"})
        crm.close()
        for _ in range(3):
            run = cli("sync", "--once", env=env)
            assert run.returncode == 0, run.stderr
            assert "analysts' copy:" in run.stdout
            # The analyst's open copy is the one it opened: whole, as of the first cycle.
            assert analyst.ask("SELECT max(id) FROM sync.cycles") == [[1]]
        assert analyst.process.poll() is None

    mc = McUser(membercare_server, MC_API_KEY)
    assert mc.get("persons", mc_id)["firstname"] == "Analystina"
    mc.close()
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute("SELECT max(id) FROM sync.cycles").fetchall() == [(4,)]
        assert reader.execute("SELECT first_name FROM crm.contacts WHERE id = ?", [crm_id]).fetchall() \
            == [("Analystina",)]
        assert reader.execute("SELECT firstname FROM membercare.persons WHERE id = ?", [mc_id]).fetchall() \
            == [("Analystina",)]
