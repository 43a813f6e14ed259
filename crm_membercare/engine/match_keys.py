"""Every live record's match keys per flow (`sync.match_keys`), kept current as records are stored.

First-sight matching needs to know whether a key is unique among *all* live records of both sides. Reading
every record's JSON for that each cycle would cost as much as the data; instead each stored record's keys are
computed once, when it is stored, and matching asks only about the keys of the records it is matching.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from crm_membercare.engine.matching import KeyIndex
from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.engine.raw_store import gone_state, mark_deleted, upsert
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.flows import Flow


def flows_matching(table: RawTable, flows: Iterable[Flow]) -> list[Flow]:
    """Those of `flows` that match records of this table on first sight."""
    return [f for f in flows if f.match is not None and (f.crm if table.system == Side.CRM else f.mc) == table]


def refresh(con: duckdb.DuckDBPyConnection, table: RawTable, records: Iterable[dict], flows: Iterable[Flow],
            *, replacing: Iterable | None = None) -> None:
    """Store the keys of these records in `flows` (live ones; a gone record, or one of another part of a split
    resource, has none). One copy per id: the last one given. `replacing`: the ids that may have keys stored
    already (None: any of them); the others' are only added."""
    latest = {str(record[table.id_field]): record for record in records}
    flows = flows_matching(table, flows)
    if not latest or not flows:
        return
    side = table.system
    names, ids, primaries, fallbacks = [], [], [], []
    for flow in flows:
        rule = flow.match
        primary = rule.crm_key if side == Side.CRM else rule.mc_key
        fallback = (rule.fallback.crm_key if side == Side.CRM else rule.fallback.mc_key) if rule.fallback else None
        for record_id, record in latest.items():
            if gone_state(table, record) is None and (side == Side.CRM or table.in_part(record, flow.mc_part)):
                keys = primary(record), fallback(record) if fallback else None
                if keys != (None, None):
                    names.append(flow.name)
                    ids.append(record_id)
                    primaries.append(keys[0])
                    fallbacks.append(keys[1])
    # Every key of these records in these flows is replaced: deleted by lists, which DuckDB reads inside
    # the scan (a join with the new keys would read the whole table).
    stale = list(latest) if replacing is None else [str(i) for i in replacing]
    if stale:
        con.execute("""DELETE FROM sync.match_keys WHERE side = ? AND flow IN (SELECT unnest(?))
                         AND record_id IN (SELECT unnest(?))""", [side, [flow.name for flow in flows], stale])
    if names:
        con.execute("""INSERT INTO sync.match_keys (flow, side, record_id, primary_key, fallback_key)
                       SELECT unnest(?), ?, unnest(?), CAST(unnest(?) AS VARCHAR), CAST(unnest(?) AS VARCHAR)""",
                    [names, side, ids, primaries, fallbacks])


def forget(con: duckdb.DuckDBPyConnection, table: RawTable, ids: list, flows: Iterable[Flow]) -> None:
    """Records that are gone match nothing."""
    flows = [f.name for f in flows_matching(table, flows)]
    if ids and flows:
        con.execute(
            """DELETE FROM sync.match_keys
               WHERE side = ? AND record_id IN (SELECT unnest(?)) AND flow IN (SELECT unnest(?))""",
            [table.system, [str(i) for i in ids], flows],
        )


def store_records(con: duckdb.DuckDBPyConnection, table: RawTable, records: list[dict], flows: Iterable[Flow]) -> list:
    """Upsert records into their raw table and keep their match keys in `flows` current; return the changed ids."""
    upserted = upsert(con, table, records)
    if upserted.changed:
        changed = set(upserted.changed)
        refresh(con, table, [r for r in records if r[table.id_field] in changed], flows, replacing=upserted.replaced)
    return upserted.changed


def store_gone(con: duckdb.DuckDBPyConnection, table: RawTable, ids: list, state: str, flows: Iterable[Flow]) -> None:
    """Mark records archived / closed / deleted without re-reading them."""
    if not ids:
        return
    if state == "deleted":
        mark_deleted(con, table, ids)
    else:
        con.execute(f"UPDATE {table.name} SET gone = ? WHERE id IN (SELECT unnest(?))", [state, ids])
    forget(con, table, ids, flows)


def indexes_for(
    con: duckdb.DuckDBPyConnection, flow: Flow, keys: set[str], crm_id_type, mc_id_type
) -> tuple[KeyIndex, KeyIndex]:
    """Key indexes of both sides restricted to the records sharing one of `keys` (primary or fallback)."""
    indexes = {"crm": KeyIndex(), "membercare": KeyIndex()}
    if keys:
        rows = con.execute(
            """SELECT side, record_id, primary_key, fallback_key FROM sync.match_keys
               WHERE flow = ? AND (primary_key IN (SELECT unnest(?)) OR fallback_key IN (SELECT unnest(?)))""",
            [flow.name, sorted(keys), sorted(keys)],
        ).fetchall()
        for side, record_id, primary, fallback in rows:
            record_key = crm_id_type(record_id) if side == "crm" else mc_id_type(record_id)
            indexes[side].add(record_key, primary, fallback)
    return indexes["crm"], indexes["membercare"]
