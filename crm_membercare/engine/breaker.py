"""The circuit breaker (DESIGN C10): a change set that would remove too much waits for an operator.

A flow trips when its open operations would delete, close or credit more than `max(minimum, share x the
flow's linked records)`. Its destructive operations are then held (nothing of them is written) until an
operator acknowledges (`crm-membercare breaker ack FLOW`); the acknowledgement covers the held change set
once, and the breaker re-arms after it is applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb

from crm_membercare.engine import outbox

DEFAULT_SHARE = 0.10
DEFAULT_MINIMUM = 20


@dataclass(frozen=True)
class BreakerStatus:
    flow: str
    destructive: int
    threshold: int
    tripped: bool
    acknowledged: bool

    @property
    def blocks(self) -> bool:
        return self.tripped and not self.acknowledged


def evaluate(
    con: duckdb.DuckDBPyConnection, flow: str, *, share: float = DEFAULT_SHARE, minimum: int = DEFAULT_MINIMUM
) -> BreakerStatus:
    destructive = con.execute(
        "SELECT count(*) FROM sync.outbox WHERE flow = ? AND operation = 'delete' AND status IN ('pending', 'held')",
        [flow],
    ).fetchall()[0][0]
    linked = con.execute("SELECT count(*) FROM sync.links WHERE flow = ? AND state = 'active'", [flow]).fetchall()[0][0]
    threshold = max(minimum, math.ceil(share * linked))
    rows = con.execute("SELECT acknowledged_at FROM sync.breakers WHERE flow = ?", [flow]).fetchall()
    acknowledged = bool(rows and rows[0][0] is not None)
    return BreakerStatus(flow, destructive, threshold, destructive > threshold, acknowledged)


def guard(con: duckdb.DuckDBPyConnection, status: BreakerStatus) -> None:
    """Hold the flow's destructive operations while the breaker blocks; release them once acknowledged."""
    if status.blocks:
        ids = [r[0] for r in con.execute(
            "SELECT id FROM sync.outbox WHERE flow = ? AND operation = 'delete' AND status = 'pending'",
            [status.flow]).fetchall()]
        outbox.hold(con, ids, f"circuit breaker: {status.destructive} removals > threshold {status.threshold}")
        con.execute(
            """INSERT INTO sync.breakers (flow, tripped_at, destructive, threshold, acknowledged_at)
               VALUES (?, now(), ?, ?, NULL)
               ON CONFLICT (flow) DO UPDATE SET destructive = excluded.destructive, threshold = excluded.threshold,
                 tripped_at = coalesce(sync.breakers.tripped_at, now())""",
            [status.flow, status.destructive, status.threshold],
        )
    else:
        outbox.release_held(con, status.flow)


def rearm(con: duckdb.DuckDBPyConnection, flow: str) -> None:
    """After an acknowledged change set was applied, the next mass removal trips the breaker again."""
    con.execute("DELETE FROM sync.breakers WHERE flow = ? AND acknowledged_at IS NOT NULL", [flow])


def acknowledge(con: duckdb.DuckDBPyConnection, flow: str) -> bool:
    """Let the flow's held removals through once. Returns False when the breaker was not tripped."""
    rows = con.execute(
        "UPDATE sync.breakers SET acknowledged_at = now() WHERE flow = ? AND tripped_at IS NOT NULL RETURNING flow",
        [flow],
    ).fetchall()
    return bool(rows)


def tripped(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT flow, tripped_at, destructive, threshold, acknowledged_at FROM sync.breakers ORDER BY flow"
    ).fetchall()
