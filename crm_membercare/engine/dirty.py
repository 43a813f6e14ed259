"""The dirty marks (`sync.dirty`): which records each flow must plan, and why one is planned again.

Extraction marks what changed, the executor what its writes touched, the planner what waits for a reference;
planning clears what it planned. This module is the only one that writes the table.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.engine.vocabulary import Side


def mark_dirty(
    con: duckdb.DuckDBPyConnection, flows: Iterable[str], side: Side, ids: list, cycle_id: int,
    reason: str | None = None,
) -> None:
    """Mark records for planning (with `reason`: why a planned record has to be planned again)."""
    flows = list(flows)
    if not ids or not flows:
        return
    # One statement for every flow: each flow's name beside each id.
    con.execute(
        """INSERT INTO sync.dirty (flow, side, record_id, since_cycle, reason)
           SELECT flow, ?, record_id, ?, ? FROM (SELECT unnest(?) AS flow) CROSS JOIN (SELECT unnest(?) AS record_id)
           ON CONFLICT (flow, side, record_id) DO UPDATE SET reason = excluded.reason""",
        [side, cycle_id, reason, flows, [str(i) for i in ids]],
    )


def marked(con: duckdb.DuckDBPyConnection, flow: str) -> list[tuple[Side, str]]:
    """(side, record id as text) of every record the flow has to plan."""
    rows = con.execute("SELECT side, record_id FROM sync.dirty WHERE flow = ?", [flow]).fetchall()
    return [(Side(side), record_id) for side, record_id in rows]


def clear(con: duckdb.DuckDBPyConnection, flow: str, side: Side, ids: Iterable) -> None:
    """Planned: these records' marks go."""
    ids = [str(i) for i in ids]
    if ids:
        con.execute("DELETE FROM sync.dirty WHERE flow = ? AND side = ? AND record_id IN (SELECT unnest(?))",
                    [flow, side, ids])


def keep_only(con: duckdb.DuckDBPyConnection, flow: str, side: Side, table: RawTable, where: str) -> None:
    """Drop the flow's marks on `side` for records of `table` that do not meet `where` (a constant of the flow,
    such as its invoice type: invoices of the other type were never this flow's)."""
    con.execute(
        f"""DELETE FROM sync.dirty WHERE flow = ? AND side = ? AND record_id NOT IN (
                SELECT CAST(id AS VARCHAR) FROM {table.name} WHERE true{where})""",
        [flow, side],
    )
