"""Reading the state for people: what the CLI's status, conflicts and rejects commands print (DESIGN A0)."""

from __future__ import annotations

import json
from typing import Any

import duckdb


def rejects(con: duckdb.DuckDBPyConnection, *, open_only: bool = True, limit: int | None = None) -> list[dict]:
    rows = con.execute(
        f"""SELECT flow, side, record_id, field, reason, value, "at" FROM sync.rejects
            {"WHERE open" if open_only else ""} ORDER BY "at" DESC, id DESC {"LIMIT ?" if limit else ""}""",
        [limit] if limit else [],
    ).fetchall()
    return [{"flow": f, "side": s, "record_id": r, "field": fld, "reason": reason, "value": value, "at": at.isoformat()}
            for f, s, r, fld, reason, value, at in rows]


def conflicts(con: duckdb.DuckDBPyConnection, *, limit: int | None = None) -> list[dict]:
    rows = con.execute(
        f"""SELECT flow, crm_id, mc_id, field, crm_value, membercare_value, winner, "at" FROM sync.conflicts
            ORDER BY "at" DESC, id DESC {"LIMIT ?" if limit else ""}""",
        [limit] if limit else [],
    ).fetchall()
    return [{"flow": f, "crm_id": c, "membercare_id": m, "field": fld, "crm_value": _value(cv),
             "membercare_value": _value(mv), "winner": w, "at": at.isoformat()}
            for f, c, m, fld, cv, mv, w, at in rows]


def flow_status(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per flow: active and ended links, open rejects, ambiguous matches, pending and held operations."""
    rows = con.execute("""
        WITH flows AS (
            SELECT flow FROM sync.links UNION SELECT flow FROM sync.outbox UNION SELECT flow FROM sync.rejects)
        SELECT f.flow,
            (SELECT count(*) FROM sync.links l WHERE l.flow = f.flow AND l.state = 'active'),
            (SELECT count(*) FROM sync.links l WHERE l.flow = f.flow AND l.state = 'ended'),
            (SELECT count(*) FROM sync.rejects r WHERE r.flow = f.flow AND r.open),
            (SELECT count(*) FROM sync.ambiguous a WHERE a.flow = f.flow),
            (SELECT count(*) FROM sync.outbox o WHERE o.flow = f.flow AND o.status = 'pending'),
            (SELECT count(*) FROM sync.outbox o WHERE o.flow = f.flow AND o.status = 'held'),
            (SELECT count(*) FROM sync.dirty d WHERE d.flow = f.flow AND d.reason IS NOT NULL)
        FROM flows f ORDER BY f.flow""").fetchall()
    keys = ("flow", "linked", "ended", "open_rejects", "ambiguous", "pending", "held", "waiting")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def waiting(con: duckdb.DuckDBPyConnection, *, limit: int | None = None) -> list[dict]:
    """Records that wait for a reference to be linked, and which."""
    rows = con.execute(
        f"""SELECT flow, side, record_id, reason, since_cycle FROM sync.dirty WHERE reason IS NOT NULL
            ORDER BY flow, side, record_id {"LIMIT ?" if limit else ""}""",
        [limit] if limit else [],
    ).fetchall()
    return [{"flow": f, "side": s, "record_id": r, "reason": reason, "since_cycle": c} for f, s, r, reason, c in rows]


def last_cycles(con: duckdb.DuckDBPyConnection, limit: int = 5) -> list[dict]:
    rows = con.execute(
        "SELECT id, started_at, finished_at, status, error FROM sync.cycles ORDER BY id DESC LIMIT ?", [limit]
    ).fetchall()
    return [{"cycle": i, "started_at": s.isoformat() if s else None, "finished_at": f.isoformat() if f else None,
             "status": st, "error": e} for i, s, f, st, e in rows]


def _value(text: str | None) -> Any:
    return None if text is None else json.loads(text)
