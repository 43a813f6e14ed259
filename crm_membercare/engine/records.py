"""Writing the plan's findings to the state: rejects, conflicts, ambiguous matches (DESIGN C3, C11)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import duckdb

from crm_membercare.engine.operations import Ambiguous, RecordedConflict, Reject

MAX_VALUE_TEXT = 500  # a reject keeps a preview of the offending value, not a 10 MB string


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_VALUE_TEXT else text[:MAX_VALUE_TEXT] + f"… ({len(text)} characters)"


def record_rejects(con: duckdb.DuckDBPyConnection, rejects: Iterable[Reject], cycle_id: int) -> None:
    """Open a reject per (flow, side, record, field); the same one again only refreshes its reason."""
    for reject in rejects:
        record_id = None if reject.record_id is None else str(reject.record_id)
        key = [reject.flow, reject.side, record_id, reject.field]
        updated = con.execute(
            """UPDATE sync.rejects SET reason = ?, value = ?, cycle_id = ?, "at" = now()
               WHERE flow = ? AND side = ? AND record_id IS NOT DISTINCT FROM ? AND field = ? AND open
               RETURNING id""",
            [reject.reason, _preview(reject.value), cycle_id, *key],
        ).fetchall()
        if not updated:
            con.execute(
                """INSERT INTO sync.rejects (cycle_id, flow, side, record_id, field, reason, value)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [cycle_id, *key, reject.reason, _preview(reject.value)],
            )


def close_rejects(con: duckdb.DuckDBPyConnection, flow: str, side: str, record_ids: Iterable[Any]) -> None:
    """A record that synced cleanly has no open rejects any more."""
    ids = [str(i) for i in record_ids]
    if ids:
        con.execute(
            "UPDATE sync.rejects SET open = false WHERE flow = ? AND side = ? AND record_id IN (SELECT unnest(?))",
            [flow, side, ids],
        )


def record_conflicts(con: duckdb.DuckDBPyConnection, conflicts: Iterable[RecordedConflict], cycle_id: int) -> None:
    for item in conflicts:
        c = item.conflict
        con.execute(
            """INSERT INTO sync.conflicts (cycle_id, flow, crm_id, mc_id, field, crm_value, membercare_value,
                                           base_value, winner, policy)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [cycle_id, item.flow, item.crm_id, str(item.mc_id), c.field, _json(c.crm_value),
             _json(c.membercare_value), _json(c.base_value), c.winner, c.policy],
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
