"""The DuckDB state file: schemas `crm`, `membercare`, `sync`, created and upgraded by versioned migrations.

One file holds everything. DuckDB allows one writer process, so callers keep connections short-lived and a
sync run is the only writer (DESIGN Part D). The file is the sync's alone (DESIGN C13): while one process
holds it nobody else can even read it, so `open_state` waits, bounded, for the holder to let go, and analysts
read their own copy (`engine.analytics`).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from crm_membercare.engine.raw_schema import RAW_TABLES, RawTable

CATALOG = "state"
OWNER_ONLY = 0o600  # the state holds personal data of both systems (docs/security.md)
DEFAULT_WAIT_S = 60.0
_FIRST_DELAY_S, _MAX_DELAY_S = 0.05, 1.0
_LOCKED = "Could not set lock"

log = logging.getLogger("crm_membercare.state")


class StateLocked(Exception):
    """Another process held the state file for longer than the caller was willing to wait."""

    def __init__(self, path: str | Path, waited_s: float) -> None:
        self.path, self.waited_s = Path(path), waited_s
        super().__init__(f"the state file {self.path} is in use by another process (waited {waited_s:.0f} s)")


def _raw_table_ddl(table: RawTable) -> str:
    typed = ",\n".join(f"    {column} {kind}" for column, kind, _ in table.columns)
    return f"""
CREATE TABLE IF NOT EXISTS {table.name} (
    id {table.id_type} PRIMARY KEY,
    changed_at TIMESTAMPTZ,          -- the change marker as an instant (UTC)
    change_marker VARCHAR NOT NULL,  -- updated_at / lastChange exactly as the system sent it
    version BIGINT,                  -- CustomCRM's version; NULL for MemberCare
    external_id VARCHAR,             -- external_ref / externalId
    gone VARCHAR,                    -- NULL while live; 'archived', 'closed' or 'deleted'
{typed},
    raw JSON NOT NULL,
    extracted_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


def _migration_1(con: duckdb.DuckDBPyConnection) -> None:
    for schema in ("crm", "membercare", "sync"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table in RAW_TABLES:
        con.execute(_raw_table_ddl(table))
    con.execute("""
        CREATE TABLE sync.cursors (
            system VARCHAR, resource VARCHAR, cursor VARCHAR, ids_checked_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ DEFAULT now(), PRIMARY KEY (system, resource))""")
    con.execute("""
        CREATE TABLE sync.dirty (
            flow VARCHAR, side VARCHAR, record_id VARCHAR, since_cycle BIGINT,
            reason VARCHAR,  -- why it is still here after planning: the reference it waits for
            PRIMARY KEY (flow, side, record_id))""")
    con.execute("""
        CREATE TABLE sync.match_keys (
            flow VARCHAR, side VARCHAR, record_id VARCHAR, primary_key VARCHAR, fallback_key VARCHAR,
            PRIMARY KEY (flow, side, record_id))""")
    con.execute("CREATE INDEX match_keys_primary ON sync.match_keys (flow, primary_key)")
    con.execute("""
        CREATE TABLE sync.links (
            flow VARCHAR NOT NULL,
            crm_id BIGINT NOT NULL,
            mc_id VARCHAR NOT NULL,
            state VARCHAR NOT NULL DEFAULT 'active',  -- 'active' | 'ended'
            linked_by VARCHAR NOT NULL,               -- 'match' | 'create' | 'external_id'
            base_crm JSON,                            -- mapped values of the CRM side as last agreed
            base_mc JSON,                             -- mapped values of the MemberCare side as last agreed
            crm_marker VARCHAR, mc_marker VARCHAR,    -- the versions the bases were taken from
            created_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now(),
            ended_at TIMESTAMPTZ, ended_reason VARCHAR,
            PRIMARY KEY (flow, crm_id, mc_id))""")
    con.execute("CREATE SEQUENCE sync.outbox_seq")
    con.execute("""
        CREATE TABLE sync.outbox (
            id BIGINT PRIMARY KEY DEFAULT nextval('sync.outbox_seq'),
            op_key VARCHAR NOT NULL,     -- what it is about: a create by its source, a change by the pair
            cycle_id BIGINT, flow VARCHAR NOT NULL,
            direction VARCHAR NOT NULL,  -- 'to_membercare' | 'to_crm'
            operation VARCHAR NOT NULL,  -- 'create' | 'update' | 'delete' | 'credit' | 'stamp'
            crm_id BIGINT, mc_id VARCHAR,
            payload JSON, fields JSON, based_on VARCHAR,
            status VARCHAR NOT NULL DEFAULT 'pending',  -- 'pending' | 'waiting' | 'applied' | 'rejected' | 'dropped'
            attempts INTEGER NOT NULL DEFAULT 0, reason VARCHAR,
            created_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now())""")
    con.execute("CREATE SEQUENCE sync.event_seq")
    con.execute("""
        CREATE TABLE sync.conflicts (
            id BIGINT PRIMARY KEY DEFAULT nextval('sync.event_seq'), cycle_id BIGINT, flow VARCHAR,
            crm_id BIGINT, mc_id VARCHAR, field VARCHAR, crm_value JSON, membercare_value JSON,
            base_value JSON, winner VARCHAR, policy VARCHAR, "at" TIMESTAMPTZ DEFAULT now())""")
    con.execute("""
        CREATE TABLE sync.rejects (
            id BIGINT PRIMARY KEY DEFAULT nextval('sync.event_seq'), cycle_id BIGINT, flow VARCHAR,
            side VARCHAR, record_id VARCHAR, field VARCHAR, reason VARCHAR, value VARCHAR,
            open BOOLEAN DEFAULT true, "at" TIMESTAMPTZ DEFAULT now())""")
    con.execute("""
        CREATE TABLE sync.ambiguous (
            flow VARCHAR, side VARCHAR, record_id VARCHAR, match_key VARCHAR, candidates JSON,
            "at" TIMESTAMPTZ DEFAULT now(), PRIMARY KEY (flow, side, record_id))""")
    con.execute("""
        CREATE TABLE sync.breakers (
            flow VARCHAR PRIMARY KEY, tripped_at TIMESTAMPTZ, destructive INTEGER, threshold INTEGER,
            acknowledged_at TIMESTAMPTZ)""")
    con.execute("CREATE SEQUENCE sync.cycle_seq")
    con.execute("""
        CREATE TABLE sync.cycles (
            id BIGINT PRIMARY KEY DEFAULT nextval('sync.cycle_seq'), started_at TIMESTAMPTZ DEFAULT now(),
            finished_at TIMESTAMPTZ, status VARCHAR DEFAULT 'running', counts JSON)""")
    con.execute("""
        CREATE TABLE sync.cycle_flows (
            cycle_id BIGINT, flow VARCHAR, created INTEGER, updated INTEGER, deleted INTEGER,
            conflicts INTEGER, rejects INTEGER, pending INTEGER, PRIMARY KEY (cycle_id, flow))""")


def _migration_2(con: duckdb.DuckDBPyConnection) -> None:
    # The digest of the last `/ids` list that matched the stored ids: an unchanged list skips the comparison.
    con.execute("ALTER TABLE sync.cursors ADD COLUMN ids_digest VARCHAR")


def _migration_3(con: duckdb.DuckDBPyConnection) -> None:
    # What the QA checklist last found failing, per flow and check: an incremental evaluation looks at the
    # records a cycle touched *and* these, so a failure stays reported until it is fixed.
    con.execute("""
        CREATE TABLE sync.qa_failing (
            flow VARCHAR NOT NULL, check_name VARCHAR NOT NULL, crm_id VARCHAR, mc_id VARCHAR,
            cycle_id BIGINT, "at" TIMESTAMPTZ DEFAULT now())""")


def _migration_4(con: duckdb.DuckDBPyConnection) -> None:
    # Why a cycle did not complete: a failed cycle's exception kind and one-line message, or what the next
    # cycle found of one whose process died while it was `running` (then 'interrupted').
    con.execute("ALTER TABLE sync.cycles ADD COLUMN error VARCHAR")


def _migration_5(con: duckdb.DuckDBPyConnection) -> None:
    # One spelling of a side (`engine.vocabulary.Side`): dirty marks and cursors said "customcrm" where rejects,
    # ambiguous matches and match keys said "crm". The identity stamps in the systems keep "customcrm:".
    con.execute("UPDATE sync.dirty SET side = 'crm' WHERE side = 'customcrm'")
    con.execute("UPDATE sync.cursors SET system = 'crm' WHERE system = 'customcrm'")


MIGRATIONS: tuple[Callable[[duckdb.DuckDBPyConnection], None], ...] = (
    _migration_1, _migration_2, _migration_3, _migration_4, _migration_5)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute("CREATE SCHEMA IF NOT EXISTS sync")
    con.execute("CREATE TABLE IF NOT EXISTS sync.schema_version (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM sync.schema_version").fetchall()[0]
    return row[0] or 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration the file has not seen, each in its own transaction, then create any declared raw
    table or column the file lacks (`ensure_raw_tables`); return the version."""
    current = schema_version(con)
    for version, migration in enumerate(MIGRATIONS[current:], start=current + 1):
        con.execute("BEGIN")
        try:
            migration(con)
            con.execute("INSERT INTO sync.schema_version VALUES (?)", [version])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        current = version
    ensure_raw_tables(con, RAW_TABLES)
    return current


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, tables: Iterable[RawTable]) -> None:
    """The raw tables of these declarations, as declared: a table the file lacks is created, a declared column a
    table lacks is added (NULL in the rows it has; the next change of a record fills it). Idempotent, run at
    every `migrate` for the declared resources and by the engine for its flows' own, so a new resource needs
    no migration written by hand. Writes nothing when the file has them all."""
    present: dict[str, set[str]] = {}
    for schema, table, column in con.execute(
            """SELECT schema_name, table_name, column_name FROM duckdb_columns()
               WHERE database_name = current_database()""").fetchall():
        present.setdefault(f"{schema}.{table}", set()).add(column)
    statements = []
    for table in tables:
        have = present.get(table.name)
        if have is None:
            statements += [f"CREATE SCHEMA IF NOT EXISTS {table.schema}", _raw_table_ddl(table)]
        else:
            statements += [f"ALTER TABLE {table.name} ADD COLUMN {column} {kind}"
                           for column, kind, _ in table.columns if column not in have]
    if statements:
        with transaction(con):
            for statement in statements:
                con.execute(statement)


# DuckDB's own memory (buffer pool, indexes, joins). Its default, 80 % of the machine, lets a large state's
# scans grow the process far past what a cycle needs; above the limit, joins and sorts spill to disk.
DEFAULT_MEMORY_LIMIT = "512MB"


@contextmanager
def open_state(path: str | Path, *, read_only: bool = False, memory_limit: str = DEFAULT_MEMORY_LIMIT,
               wait_s: float = DEFAULT_WAIT_S) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the state file, migrated to the current schema (read-only: as it is).

    When another process holds the file, waits up to `wait_s` seconds (backing off to one try a second), then
    raises `StateLocked`. A file opened for writing is readable by its owner only: one created here, and one
    an earlier release created readable by others (tightened, and said in the log)."""
    path = Path(path)
    created = not read_only and not path.exists()
    if created:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Attached under a fixed name: a file called sync.duckdb would otherwise be a catalog named "sync",
    # and "sync.links" would be ambiguous between that catalog and the schema. The connection itself is in
    # memory, so where to spill is said explicitly (next to the state file).
    con = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": f"{path}.tmp"})
    try:
        _attach_waiting(con, path, read_only, wait_s)
        if not read_only and stat.S_IMODE(path.stat().st_mode) != OWNER_ONLY:
            if not created:
                log.warning("the state file %s was readable by others: made owner-only", path)
            os.chmod(path, OWNER_ONLY)  # before the first migration writes a record into it
        con.execute(f"USE {CATALOG}")
        if not read_only:
            migrate(con)
        yield con
    finally:
        con.close()
        wal = Path(f"{path}.wal")
        if not read_only and wal.exists():
            os.chmod(wal, OWNER_ONLY)


def _attach_waiting(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool, wait_s: float) -> None:
    started, delay = time.monotonic(), _FIRST_DELAY_S
    while True:
        try:
            con.execute(f"ATTACH ? AS {CATALOG}{' (READ_ONLY)' if read_only else ''}", [str(path)])
        except duckdb.IOException as error:
            waited = time.monotonic() - started
            if _LOCKED not in str(error):
                raise
            if waited >= wait_s:
                log.info("gave up on the state file %s: another process held it for %.1f s", path, waited)
                raise StateLocked(path, waited) from None
            if delay == _FIRST_DELAY_S:
                log.info("the state file %s is in use by another process: waiting up to %.0f s", path, wait_s)
            time.sleep(min(delay, wait_s - waited))
            delay = min(2 * delay, _MAX_DELAY_S)
        else:
            if delay > _FIRST_DELAY_S:
                log.info("got the state file %s after waiting %.1f s", path, time.monotonic() - started)
            return


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> Iterator[None]:
    """A DataFrame visible to the connection's SQL as `name` for the block (bulk writes join against it)."""
    con.register(name, frame)
    try:
        yield
    finally:
        con.unregister(name)


def json_text(value: Any) -> str | None:
    """A value as the state stores JSON: keys sorted (equal values, equal text), non-ASCII kept."""
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
