"""Conflicts and rejects as operators look at them: counts, the newest rows of each flow, lingering rejects.

Reads over `sync.conflicts` and `sync.rejects`; values are returned as stored (the caller makes them
printable).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb


@dataclass(frozen=True)
class EventTable:
    total: int  # conflicts: every one recorded; rejects: the open ones
    this_cycle: int
    by_flow: dict[str, int]
    newest: dict[str, tuple[dict[str, Any], ...]]  # flow -> its newest rows


def _value(raw: str | None) -> Any:
    return None if raw is None else json.loads(raw)


def conflicts(con: duckdb.DuckDBPyConnection, cycle_id: int, per_flow: int = 5) -> EventTable:
    total, this_cycle = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE cycle_id = ?) FROM sync.conflicts", [cycle_id]).fetchall()[0]
    rows = con.execute(
        """SELECT flow, crm_id, mc_id, field, crm_value, membercare_value, base_value, winner, policy, "at"
           FROM sync.conflicts QUALIFY row_number() OVER (PARTITION BY flow ORDER BY id DESC) <= ?
           ORDER BY flow, id DESC""", [per_flow]).fetchall()
    newest: dict[str, list[dict]] = {}
    for flow, crm_id, mc_id, field, crm_value, mc_value, base, winner, policy, at in rows:
        newest.setdefault(flow, []).append({
            "crm_id": crm_id, "mc_id": mc_id, "field": field, "crm_value": _value(crm_value),
            "membercare_value": _value(mc_value), "base_value": _value(base), "winner": winner,
            "policy": policy, "at": at.isoformat(timespec="seconds")})
    by_flow = dict(con.execute("SELECT flow, count(*) FROM sync.conflicts GROUP BY 1 ORDER BY 1").fetchall())
    return EventTable(total, this_cycle, by_flow, {f: tuple(r) for f, r in newest.items()})


def open_rejects(con: duckdb.DuckDBPyConnection, cycle_id: int, per_flow: int = 5) -> EventTable:
    total, this_cycle = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE cycle_id = ?) FROM sync.rejects WHERE open", [cycle_id]).fetchall()[0]
    rows = con.execute(
        """SELECT flow, side, record_id, field, reason, value, cycle_id, "at" FROM sync.rejects WHERE open
           QUALIFY row_number() OVER (PARTITION BY flow ORDER BY id DESC) <= ? ORDER BY flow, id DESC""",
        [per_flow]).fetchall()
    newest: dict[str, list[dict]] = {}
    for flow, side, record_id, field, reason, value, since, at in rows:
        newest.setdefault(flow, []).append({
            "side": side, "record_id": record_id, "field": field, "reason": reason, "value": value,
            "since_cycle": since, "at": at.isoformat(timespec="seconds")})
    by_flow = dict(con.execute("SELECT flow, count(*) FROM sync.rejects WHERE open GROUP BY 1 ORDER BY 1").fetchall())
    return EventTable(total, this_cycle, by_flow, {f: tuple(r) for f, r in newest.items()})


def lingering_rejects(con: duckdb.DuckDBPyConnection, cycle_id: int, max_cycles: int) -> list[dict[str, Any]]:
    """Open rejects first recorded more than `max_cycles` cycles ago: nobody fixed the record yet."""
    rows = con.execute(
        """SELECT flow, side, record_id, field, reason, cycle_id FROM sync.rejects
           WHERE open AND cycle_id IS NOT NULL AND ? - cycle_id > ? ORDER BY cycle_id, id""",
        [cycle_id, max_cycles]).fetchall()
    return [{"flow": f, "side": s, "record_id": r, "field": fld, "reason": reason, "since_cycle": c}
            for f, s, r, fld, reason, c in rows]
