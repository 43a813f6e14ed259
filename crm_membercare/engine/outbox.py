"""The outbox (`sync.outbox`): every write is recorded and committed before it is attempted (DESIGN C5).

Rows move pending -> applied | rejected | dropped (superseded or re-planned), or pending -> held (behind a
tripped circuit breaker). `attempts` is raised and committed *before* each HTTP call, so after a crash a
create with attempts > 0 is looked up by its stamped identity before it is tried again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb
import pandas as pd

from crm_membercare.engine.operations import CREATE, TO_MEMBERCARE, Operation
from crm_membercare.engine.state import json_text, registered

OPEN_STATES = ("pending", "held")


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    attempts: int
    operation: Operation


def op_key(op: Operation) -> str:
    """What an operation is about: a create by its source record, an update or a delete by the linked pair.

    A newer operation supersedes an open one with the same key only: an update (an identity stamp, say)
    never supersedes a pending delete of the same pair.
    """
    if op.kind == CREATE:
        source = op.crm_id if op.direction == TO_MEMBERCARE else op.mc_id
        return f"{op.flow}|{op.direction}|create|{source}"
    return f"{op.flow}|{op.direction}|{op.kind}|{op.crm_id}|{op.mc_id}"


def enqueue(con: duckdb.DuckDBPyConnection, operations: list[Operation], cycle_id: int) -> None:
    """Record operations as pending; an open operation with the same key is superseded.

    A superseded create hands its attempt count on, so a create that may have happened is still looked up.
    """
    if not operations:
        return
    latest = {op_key(op): op for op in operations}
    frame = pd.DataFrame(
        [(key, cycle_id, op.flow, op.direction, op.kind, op.crm_id, None if op.mc_id is None else str(op.mc_id),
          json_text(_payload(op)), json_text(list(op.fields)), op.based_on) for key, op in latest.items()],
        columns=["op_key", "cycle_id", "flow", "direction", "operation", "crm_id", "mc_id", "payload", "fields",
                 "based_on"],
        dtype=object,
    )
    with registered(con, "new_ops", frame):
        con.execute(
            """CREATE OR REPLACE TEMP TABLE superseded AS
               SELECT o.op_key, max(o.attempts) AS attempts FROM sync.outbox o JOIN new_ops n USING (op_key)
               WHERE o.status IN ('pending', 'held') GROUP BY o.op_key"""
        )
        con.execute(
            """UPDATE sync.outbox SET status = 'dropped', reason = 'superseded', updated_at = now()
               WHERE status IN ('pending', 'held') AND op_key IN (SELECT op_key FROM superseded)"""
        )
        con.execute(
            """INSERT INTO sync.outbox (op_key, cycle_id, flow, direction, operation, crm_id, mc_id, payload, fields,
                                        based_on, attempts)
               SELECT n.op_key, CAST(n.cycle_id AS BIGINT), n.flow, n.direction, n.operation,
                      CAST(n.crm_id AS BIGINT), n.mc_id, CAST(n.payload AS JSON), CAST(n.fields AS JSON), n.based_on,
                      CASE WHEN n.operation = 'create' THEN coalesce(s.attempts, 0) ELSE 0 END
               FROM new_ops n LEFT JOIN superseded s USING (op_key)"""
        )


def _payload(op: Operation) -> dict:
    return {"target_resource": op.target_resource, "values": op.values, "stamp": op.stamp,
            "crm_values": op.crm_values, "mc_values": op.mc_values, "mc_id_type": type(op.mc_id).__name__}


def pending(
    con: duckdb.DuckDBPyConnection,
    flow: str,
    *,
    kinds: tuple[str, ...] = ("create", "update", "delete"),
    direction: str | None = None,
    after_id: int = 0,
    limit: int | None = None,
) -> list[OutboxEntry]:
    """The flow's pending operations in order, a page at a time (`after_id`, `limit`)."""
    rows = con.execute(
        f"""SELECT id, attempts, flow, direction, operation, crm_id, mc_id, payload, fields, based_on
           FROM sync.outbox WHERE flow = ? AND status = 'pending' AND operation IN (SELECT unnest(?))
             AND (? IS NULL OR direction = ?) AND id > ? ORDER BY id {"LIMIT ?" if limit else ""}""",
        [flow, list(kinds), direction, direction, after_id, *([limit] if limit else [])],
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


def finish(con: duckdb.DuckDBPyConnection, outcomes: list[tuple[int, str, str | None]]) -> None:
    """Set each (outbox id, status, reason)."""
    if not outcomes:
        return
    frame = pd.DataFrame(outcomes, columns=["id", "status", "reason"], dtype=object)
    with registered(con, "outcomes", frame):
        con.execute(
            """UPDATE sync.outbox o SET status = f.status, reason = f.reason, updated_at = now()
               FROM outcomes f WHERE o.id = CAST(f.id AS BIGINT)"""
        )


def rebase(con: duckdb.DuckDBPyConnection, markers: list[tuple[int, str]]) -> None:
    """Set each (outbox id, target marker): the version our own partial write left the target at."""
    for entry_id, marker in markers:
        con.execute("UPDATE sync.outbox SET based_on = ? WHERE id = ?", [marker, entry_id])


def hold(con: duckdb.DuckDBPyConnection, ids: list[int], reason: str) -> None:
    if ids:
        con.execute("UPDATE sync.outbox SET status = 'held', reason = ?, updated_at = now() "
                    "WHERE id IN (SELECT unnest(?))", [reason, ids])


def release_held(con: duckdb.DuckDBPyConnection, flow: str) -> None:
    con.execute("UPDATE sync.outbox SET status = 'pending', reason = NULL, updated_at = now() "
                "WHERE flow = ? AND status = 'held'", [flow])


def count_open(con: duckdb.DuckDBPyConnection, flow: str, direction: str | None = None) -> int:
    """Operations still to apply (pending or held), in one direction or both."""
    return con.execute(
        """SELECT count(*) FROM sync.outbox
           WHERE flow = ? AND status IN ('pending', 'held') AND (? IS NULL OR direction = ?)""",
        [flow, direction, direction],
    ).fetchall()[0][0]
