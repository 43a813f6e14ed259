"""Writing the systems' records into the raw tables: one row per id, typed columns plus the raw JSON.

Stored in bulk: the records of a batch that are new or changed (compared with the stored rows of their ids)
go to DuckDB as lists (the record as JSON text, its gone state, its previous instant), and every column is
derived there from the JSON in one statement over the whole batch. Per record, Python only serialises it
(orjson), compares the text and reads the flag that says whether it is gone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb
import orjson

from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.engine.vocabulary import Side


def change_marker(table: RawTable, record: dict) -> str:
    return str(record["updated_at"] if table.system == Side.CRM else record["lastChange"])


def gone_state(table: RawTable, record: dict) -> str | None:
    if table.system == Side.CRM:
        return "archived" if record.get("archived") else None
    return "closed" if record.get("closeDate") else None


def json_text(record: dict) -> str:
    """The record as the raw column stores it: compact JSON, non-ASCII kept. orjson, but for what it refuses
    (an integer past 64 bits, a lone surrogate), which the standard library writes."""
    try:
        return orjson.dumps(record).decode()
    except TypeError:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _changed_at_sql(table: RawTable) -> str:
    """`changed_at` from the row's `marker` and `known` (the stored instant of the record's previous version).

    MemberCare's local time in the repeated autumn hour names two instants; `resolve_local`'s rule picks the
    first unless it precedes `known` while the second does not. DuckDB names one of them (`at`); the instant an
    hour away that renders as the same wall-clock time is the other.
    """
    if table.system == Side.CRM:
        return "TRY_CAST(marker AS TIMESTAMPTZ)"
    local = "TRY_CAST(left(marker, 19) AS TIMESTAMP)"
    at = f"timezone('Europe/Oslo', {local})"

    def occurrence(shift: str) -> str:  # `at` shifted an hour, when that renders as the same local time
        return f"CASE WHEN timezone('Europe/Oslo', {at} {shift}) = {local} THEN {at} {shift} ELSE {at} END"

    first, second = occurrence("- INTERVAL 1 HOUR"), occurrence("+ INTERVAL 1 HOUR")
    return (f"CASE WHEN known IS NULL OR ({first}) >= known THEN {first} "
            f"WHEN ({second}) >= known THEN {second} ELSE {first} END")


def _fields(table: RawTable) -> tuple[str, ...]:
    """The fields read as text into the list `v`: id, change marker, version, external identity, then the
    typed columns' fields (so `v[5]` is the first typed column's)."""
    crm = table.system == Side.CRM
    return (table.id_field, "updated_at" if crm else "lastChange", "version", "external_ref" if crm else "externalId",
            *(field for _, _, field in table.columns))


def _derive_sql(table: RawTable) -> str:
    """The SELECT list that turns a changed row (v, gone, raw, known) into the raw table's columns."""
    typed = ", ".join(f"TRY_CAST(v[{n}] AS {kind}) AS {column}"
                      for n, (column, kind, _) in enumerate(table.columns, start=5))
    version = "TRY_CAST(v[3] AS BIGINT)" if table.system == Side.CRM else "NULL"
    return f"""CAST(v[1] AS {table.id_type}) AS id, {_changed_at_sql(table)} AS changed_at, marker AS change_marker,
               {version} AS version, v[4] AS external_id, gone, {typed}, CAST(raw AS JSON) AS raw,
               now() AS extracted_at"""


@dataclass(frozen=True)
class Upserted:
    changed: list  # ids new or changed, in the order given
    replaced: list  # of those, the ids that had a stored row


def upsert_records(con: duckdb.DuckDBPyConnection, table: RawTable, records: list[dict]) -> list:
    """Store the records (the last copy of an id wins); return the ids that are new or changed."""
    return upsert(con, table, records).changed


def upsert(con: duckdb.DuckDBPyConnection, table: RawTable, records: list[dict]) -> Upserted:
    """Store the records (the last copy of an id wins): the ids new or changed, and which of them replaced a row.

    Called inside the caller's transaction. A value that does not fit its typed column is stored as NULL
    there (TRY_CAST) and stays intact in `raw`: one odd record must not stop the extract.
    """
    latest = {record[table.id_field]: record for record in records}
    if not latest:
        return Upserted([], [])
    texts = {record_id: json_text(record) for record_id, record in latest.items()}
    # Compared with the stored rows of these ids alone (read by list, inside the scan): most pages of an
    # incremental read are the records re-read at the cursor, unchanged.
    stored = {row[0]: row[1:] for row in con.execute(
        f"""SELECT id, CAST(raw AS VARCHAR), gone, changed_at FROM {table.name}
            WHERE id IN (SELECT unnest(?))""", [list(latest)]).fetchall()}
    changed = [record_id for record_id, record in latest.items()
               if record_id not in stored or stored[record_id][1] != gone_state(table, record)
               # MemberCare's lastChange has second precision: a second edit within that second keeps the
               # marker, so the content decides (as JSON: text an earlier release wrote is spaced otherwise).
               or stored[record_id][0] != texts[record_id] and json.loads(stored[record_id][0]) != latest[record_id]]
    if not changed:
        return Upserted([], [])
    replaced = [record_id for record_id in changed if record_id in stored]
    con.execute(
        """CREATE OR REPLACE TEMP TABLE raw_changed AS
           SELECT raw, gone, known, v, v[2] AS marker
           FROM (SELECT raw, gone, CAST(known AS TIMESTAMPTZ) AS known, json_extract_string(raw, ?) AS v
                 FROM (SELECT unnest(?) AS raw, unnest(?) AS gone, unnest(?) AS known))""",
        [[f'$."{field}"' for field in _fields(table)], [texts[i] for i in changed],
         [gone_state(table, latest[i]) for i in changed], [stored[i][2] if i in stored else None for i in changed]])
    if replaced:
        # Replaced by delete + insert of the changed rows only: INSERT OR REPLACE costs several times more on
        # a large table.
        con.execute(f"DELETE FROM {table.name} WHERE id IN (SELECT unnest(?))", [replaced])
    con.execute(f"INSERT INTO {table.name} BY NAME SELECT {_derive_sql(table)} FROM raw_changed")
    return Upserted(changed, replaced)


def mark_deleted(con: duckdb.DuckDBPyConnection, table: RawTable, ids: list) -> None:
    if ids:
        con.execute(f"UPDATE {table.name} SET gone = 'deleted' WHERE id IN (SELECT unnest(?))", [ids])
