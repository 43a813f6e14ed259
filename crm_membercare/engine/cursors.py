"""The read positions (`sync.cursors`): per system and resource, where the next incremental read starts and
when MemberCare's `/ids` were last compared; a derived flow's planning watermark under the `sync` system.

This module is the only one that writes the table: a cursor is moved in the same transaction as the page it
covers, never ahead of it (DESIGN C1).
"""

from __future__ import annotations

import duckdb


def get_cursor(con: duckdb.DuckDBPyConnection, system: str, resource: str) -> str | None:
    rows = con.execute(
        "SELECT cursor FROM sync.cursors WHERE system = ? AND resource = ?", [system, resource]
    ).fetchall()
    return rows[0][0] if rows else None


def set_cursor(con: duckdb.DuckDBPyConnection, system: str, resource: str, cursor: str | None) -> None:
    con.execute(
        """INSERT INTO sync.cursors (system, resource, cursor, updated_at) VALUES (?, ?, ?, now())
           ON CONFLICT (system, resource) DO UPDATE SET cursor = excluded.cursor, updated_at = now()""",
        [system, resource, cursor],
    )


def ids_digest(con: duckdb.DuckDBPyConnection, system: str, resource: str) -> str | None:
    """The digest of the last `/ids` answer that matched the stored ids exactly, with their count."""
    rows = con.execute("SELECT ids_digest FROM sync.cursors WHERE system = ? AND resource = ?",
                       [system, resource]).fetchall()
    return rows[0][0] if rows else None


def ids_checked_within(con: duckdb.DuckDBPyConnection, system: str, resource: str, seconds: float) -> bool:
    rows = con.execute(
        "SELECT ids_checked_at > now() - to_seconds(?) FROM sync.cursors WHERE system = ? AND resource = ?",
        [float(seconds), system, resource]).fetchall()
    return bool(rows and rows[0][0])


def record_ids_check(con: duckdb.DuckDBPyConnection, system: str, resource: str, digest: str | None) -> None:
    con.execute(
        """INSERT INTO sync.cursors (system, resource, ids_checked_at, ids_digest) VALUES (?, ?, now(), ?)
           ON CONFLICT (system, resource) DO UPDATE SET ids_checked_at = now(), ids_digest = excluded.ids_digest""",
        [system, resource, digest],
    )
