"""Writing the systems' records into the raw tables: one row per id, typed columns plus the raw JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import pandas as pd

from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.engine.state import registered
from crm_membercare.engine.vocabulary import Side
from crm_membercare.systems.oslo_time import resolve_local


def change_marker(table: RawTable, record: dict) -> str:
    return str(record["updated_at"] if table.system == Side.CRM else record["lastChange"])


def changed_at(table: RawTable, record: dict, known: datetime | None = None) -> datetime | None:
    """The record's last change as an instant. A MemberCare time in the repeated autumn hour is its first
    occurrence unless that is earlier than `known`, the stored instant of the record's previous version
    (`oslo_time.resolve_local`; docs/sync.md, "The repeated autumn hour")."""
    try:
        if table.system == Side.CRM:
            return datetime.fromisoformat(record["updated_at"].replace("Z", "+00:00")).astimezone(UTC)
        return resolve_local(record["lastChange"], known)
    except (KeyError, TypeError, ValueError):
        return None


def gone_state(table: RawTable, record: dict) -> str | None:
    if table.system == Side.CRM:
        return "archived" if record.get("archived") else None
    return "closed" if record.get("closeDate") else None


def record_id(table: RawTable, record: dict) -> str | int:
    return record[table.id_field]


def _row(table: RawTable, record: dict, known: datetime | None = None) -> dict:
    row = {
        "id": record[table.id_field],
        "changed_at": changed_at(table, record, known),
        "change_marker": change_marker(table, record),
        "version": record.get("version") if table.system == Side.CRM else None,
        "external_id": record.get("external_ref" if table.system == Side.CRM else "externalId"),
        "gone": gone_state(table, record),
        "raw": json.dumps(record, ensure_ascii=False),
    }
    for column, _, field in table.columns:
        value = record.get(field)
        row[column] = None if value is None else (value if isinstance(value, bool | int | float) else str(value))
    return row


def upsert_records(con: duckdb.DuckDBPyConnection, table: RawTable, records: list[dict]) -> list:
    """Store the records (the last copy of an id wins); return the ids that are new or changed.

    Called inside the caller's transaction. A value that does not fit its typed column is stored as NULL
    there (TRY_CAST) and stays intact in `raw`: one odd record must not stop the extract.
    """
    if not records:
        return []
    latest = {record[table.id_field]: record for record in records}
    # Compared here, on the stored rows of these ids alone (read by list, inside the scan): most pages of an
    # incremental read are the few records re-read at the cursor, unchanged.
    found = con.execute(
        f"""SELECT id, change_marker, gone, CAST(raw AS VARCHAR), changed_at FROM {table.name}
            WHERE id IN (SELECT unnest(?))""", [list(latest)]).fetchall()
    stored = {row[0]: row[1:4] for row in found}
    known = {row[0]: row[4] for row in found}  # the previous version's instant: dates a repeated-hour time
    rows = {record_id: _row(table, record, known.get(record_id)) for record_id, record in latest.items()}
    changed = [record_id for record_id, row in rows.items() if stored.get(record_id) is None
               # MemberCare's lastChange has second precision: a second edit within that second keeps the
               # marker, so the content decides.
               or stored[record_id] != (row["change_marker"], row["gone"], row["raw"])]
    if not changed:
        return []
    frame = pd.DataFrame([rows[record_id] for record_id in changed], dtype=object)
    typed = ", ".join(f"TRY_CAST({c} AS {t}) AS {c}" for c, t, _ in table.columns)
    with registered(con, "incoming", frame):
        # Replaced by delete + insert of the changed rows only: INSERT OR REPLACE costs several times more on
        # a large table.
        con.execute(f"DELETE FROM {table.name} WHERE id IN (SELECT unnest(?))", [changed])
        con.execute(f"""
            INSERT INTO {table.name} BY NAME
            SELECT CAST(id AS {table.id_type}) AS id, CAST(changed_at AS TIMESTAMPTZ) AS changed_at,
                   CAST(change_marker AS VARCHAR) AS change_marker, CAST(version AS BIGINT) AS version,
                   CAST(external_id AS VARCHAR) AS external_id, CAST(gone AS VARCHAR) AS gone, {typed},
                   CAST(raw AS JSON) AS raw, now() AS extracted_at
            FROM incoming
        """)
    return changed


def mark_deleted(con: duckdb.DuckDBPyConnection, table: RawTable, ids: list) -> None:
    if ids:
        con.execute(f"UPDATE {table.name} SET gone = 'deleted' WHERE id IN (SELECT unnest(?))", [ids])
