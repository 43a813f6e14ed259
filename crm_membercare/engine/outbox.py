"""The outbox (`sync.outbox`): every write is recorded and committed before it is attempted (DESIGN C5).

Rows move pending -> applied | rejected | dropped (superseded or re-planned), or pending -> held (behind a
tripped circuit breaker). `attempts` is raised and committed *before* each HTTP call, so after a crash a
create with attempts > 0 is looked up by its stamped identity before it is tried again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from crm_membercare.engine.operations import CREATE, TO_MEMBERCARE, Operation

OPEN_STATES = ("pending", "held")


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    attempts: int
    operation: Operation


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def enqueue(con: duckdb.DuckDBPyConnection, operations: list[Operation], cycle_id: int) -> None:
    """Record operations as pending; an open operation for the same target and direction is superseded.

    A superseded create hands its attempt count on, so a create that may have happened is still looked up.
    """
    for op in operations:
        source = "crm_id" if op.direction == TO_MEMBERCARE else "mc_id"
        source_id = op.crm_id if op.direction == TO_MEMBERCARE else op.mc_id
        key_sql = f"flow = ? AND direction = ? AND {source} = ? AND status IN ('pending', 'held')"
        key = [op.flow, op.direction, source_id if source == "crm_id" else str(source_id)]
        previous = con.execute(f"SELECT coalesce(max(attempts), 0) FROM sync.outbox WHERE {key_sql} AND operation = ?",
                               [*key, op.kind]).fetchone()[0]
        con.execute(f"UPDATE sync.outbox SET status = 'dropped', reason = 'superseded', updated_at = now() "
                    f"WHERE {key_sql}", key)
        con.execute(
            """INSERT INTO sync.outbox (cycle_id, flow, direction, operation, crm_id, mc_id, payload, fields,
                                        based_on, attempts, reason)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)""",
            [cycle_id, op.flow, op.direction, op.kind, op.crm_id, None if op.mc_id is None else str(op.mc_id),
             _dump(_payload(op)), _dump(list(op.fields)), op.based_on, previous if op.kind == CREATE else 0],
        )


def _payload(op: Operation) -> dict:
    return {"target_resource": op.target_resource, "values": op.values, "stamp": op.stamp,
            "crm_values": op.crm_values, "mc_values": op.mc_values, "mc_id_type": type(op.mc_id).__name__}


def pending(con: duckdb.DuckDBPyConnection, flow: str, *, include_held: bool = False) -> list[OutboxEntry]:
    states = ["pending", "held"] if include_held else ["pending"]
    rows = con.execute(
        """SELECT id, attempts, flow, direction, operation, crm_id, mc_id, payload, fields, based_on
           FROM sync.outbox WHERE flow = ? AND status IN (SELECT unnest(?)) ORDER BY id""",
        [flow, states],
    ).fetchall()
    return [_entry(row) for row in rows]


def _entry(row: tuple) -> OutboxEntry:
    entry_id, attempts, flow, direction, kind, crm_id, mc_id, payload, fields, based_on = row
    body = json.loads(payload)
    if mc_id is not None and body.get("mc_id_type") == "int":
        mc_id = int(mc_id)
    op = Operation(flow, direction, kind, body["target_resource"], crm_id, mc_id, body["values"] or {},
                   tuple(json.loads(fields) or ()), based_on, body["stamp"], body["crm_values"], body["mc_values"])
    return OutboxEntry(entry_id, attempts, op)


def mark_attempts(con: duckdb.DuckDBPyConnection, ids: list[int]) -> None:
    if ids:
        con.execute("UPDATE sync.outbox SET attempts = attempts + 1, updated_at = now() "
                    "WHERE id IN (SELECT unnest(?))", [ids])


def finish(con: duckdb.DuckDBPyConnection, entry_id: int, status: str, reason: str | None = None) -> None:
    con.execute("UPDATE sync.outbox SET status = ?, reason = ?, updated_at = now() WHERE id = ?",
                [status, reason, entry_id])


def hold(con: duckdb.DuckDBPyConnection, ids: list[int], reason: str) -> None:
    if ids:
        con.execute("UPDATE sync.outbox SET status = 'held', reason = ?, updated_at = now() "
                    "WHERE id IN (SELECT unnest(?))", [reason, ids])


def release_held(con: duckdb.DuckDBPyConnection, flow: str) -> None:
    con.execute("UPDATE sync.outbox SET status = 'pending', reason = NULL, updated_at = now() "
                "WHERE flow = ? AND status = 'held'", [flow])


def count_open(con: duckdb.DuckDBPyConnection, flow: str) -> int:
    return con.execute("SELECT count(*) FROM sync.outbox WHERE flow = ? AND status IN ('pending', 'held')",
                       [flow]).fetchone()[0]
