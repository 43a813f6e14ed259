"""Writing the plan's findings to the state: rejects, conflicts, ambiguous matches (DESIGN C3, C11)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import duckdb
import pandas as pd

from crm_membercare.engine.operations import Ambiguous, RecordedConflict, Reject
from crm_membercare.engine.state import registered

MAX_VALUE_TEXT = 500  # a reject keeps a preview of the offending value, not a 10 MB string


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_VALUE_TEXT else text[:MAX_VALUE_TEXT] + f"… ({len(text)} characters)"


def record_rejects(con: duckdb.DuckDBPyConnection, rejects: Iterable[Reject], cycle_id: int) -> None:
    """Open a reject per (flow, side, record, field); the same one again only refreshes its reason and time
    (its `cycle_id` stays the cycle that first recorded it, so a reject nobody fixes can be seen ageing)."""
    for reject in rejects:
        record_id = None if reject.record_id is None else str(reject.record_id)
        key = [reject.flow, reject.side, record_id, reject.field]
        updated = con.execute(
            """UPDATE sync.rejects SET reason = ?, value = ?, "at" = now()
               WHERE flow = ? AND side = ? AND record_id IS NOT DISTINCT FROM ? AND field = ? AND open
               RETURNING id""",
            [reject.reason, _preview(reject.value), *key],
        ).fetchall()
        if not updated:
            con.execute(
                """INSERT INTO sync.rejects (cycle_id, flow, side, record_id, field, reason, value)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [cycle_id, *key, reject.reason, _preview(reject.value)],
            )


def close_rejects(
    con: duckdb.DuckDBPyConnection, flow: str, settled: Iterable[tuple[str, Any, Iterable[str] | None]]
) -> None:
    """Close the open rejects of rows that now sync: (side, record id, rows) — rows None for all of them.

    A reject names a row (`lines`, or `lines[2].quantity` inside it); it closes when that row agrees or is
    written, never merely because its record was looked at again.
    """
    rows = [(side, str(record_id), name) for side, record_id, names in settled
            for name in (names if names is not None else [None])]
    if not rows:
        return
    frame = pd.DataFrame(rows, columns=["side", "record_id", "field"], dtype=object)
    with registered(con, "settled_rows", frame):
        con.execute(
            """UPDATE sync.rejects r SET open = false FROM settled_rows s
               WHERE r.open AND r.flow = ? AND r.side = s.side AND r.record_id = s.record_id
                 AND (s.field IS NULL OR r.field = s.field OR starts_with(r.field, s.field || '[')
                      OR starts_with(r.field, s.field || '.'))""",
            [flow],
        )


def record_conflicts(con: duckdb.DuckDBPyConnection, conflicts: Iterable[RecordedConflict], cycle_id: int) -> None:
    rows = [(cycle_id, item.flow, item.crm_id, str(item.mc_id), item.conflict.field, _json(item.conflict.crm_value),
             _json(item.conflict.membercare_value), _json(item.conflict.base_value), item.conflict.winner,
             item.conflict.policy) for item in conflicts]
    if not rows:
        return
    columns = ["cycle_id", "flow", "crm_id", "mc_id", "field", "crm_value", "membercare_value", "base_value",
               "winner", "policy"]
    with registered(con, "new_conflicts", pd.DataFrame(rows, columns=columns, dtype=object)):
        con.execute(
            """INSERT INTO sync.conflicts (cycle_id, flow, crm_id, mc_id, field, crm_value, membercare_value,
                                           base_value, winner, policy)
               SELECT CAST(cycle_id AS BIGINT), flow, CAST(crm_id AS BIGINT), mc_id, field, CAST(crm_value AS JSON),
                      CAST(membercare_value AS JSON), CAST(base_value AS JSON), winner, policy
               FROM new_conflicts"""
        )


def record_ambiguous(con: duckdb.DuckDBPyConnection, found: Iterable[Ambiguous]) -> None:
    for item in found:
        con.execute(
            """INSERT OR REPLACE INTO sync.ambiguous (flow, side, record_id, match_key, candidates, "at")
               VALUES (?, ?, ?, ?, ?, now())""",
            [item.flow, item.side, str(item.record_id), item.key, _json([str(c) for c in item.candidates])],
        )


def clear_ambiguous(con: duckdb.DuckDBPyConnection, flow: str, side: str, record_ids: Iterable[Any]) -> None:
    ids = [str(i) for i in record_ids]
    if ids:
        con.execute("DELETE FROM sync.ambiguous WHERE flow = ? AND side = ? AND record_id IN (SELECT unnest(?))",
                    [flow, side, ids])


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
