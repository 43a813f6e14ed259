"""Incremental extract: each resource's changes since its cursor into its raw table (DESIGN C1).

Every page is committed together with the cursor that follows it, so a cursor never runs ahead of the
records it covers; the clients re-read an overlap at the cursor and the upsert de-duplicates by change marker.
Records that changed are marked dirty for every flow that reads their resource: planning then looks only
at those.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd

from crm_membercare.engine.cursors import get_cursor, ids_checked_within, ids_digest, record_ids_check, set_cursor
from crm_membercare.engine.dirty import mark_dirty
from crm_membercare.engine.match_keys import store_gone, store_records
from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.engine.state import registered, transaction
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.flows import Flow

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ExtractResult:
    system: str
    resource: str
    read: int
    changed: int
    deleted: int
    cursor: str | None


def flows_reading(system: str, resource: str, flows: Iterable[Flow]) -> list[str]:
    """Those of `flows` whose planning depends on a change to this resource."""
    return [f.name for f in flows if (f.crm_resource if system == Side.CRM else f.mc_resource) == resource]


def _reading(table: RawTable, flows: Iterable[Flow]) -> tuple[Flow, ...]:
    return tuple(f for f in flows if (f.crm if table.system == Side.CRM else f.mc) == table)


def extract_changes(
    con: duckdb.DuckDBPyConnection,
    client,
    table: RawTable,
    flows: Iterable[Flow],
    *,
    cycle_id: int = 0,
    progress: Progress | None = None,
) -> ExtractResult:
    """Read what changed since the stored cursor, page by page, each page committed with its cursor; the
    records are marked dirty for those of `flows` that read the table."""
    flows = _reading(table, flows)
    names = [f.name for f in flows]
    read = changed = 0
    cursor = get_cursor(con, table.system, table.resource)
    for page in client.iter_changes(table.resource, cursor, id_field=table.id_field):
        with transaction(con):
            ids = store_records(con, table, page.records, flows)
            mark_dirty(con, names, table.system, ids, cycle_id)
            set_cursor(con, table.system, table.resource, page.cursor)
        read += len(page.records)
        changed += len(ids)
        cursor = page.cursor
        if progress and read and read % 5000 < len(page.records):
            progress(f"{table.name}: {read} read")
    return ExtractResult(table.system, table.resource, read, changed, 0, cursor)


class IdsAnswer:
    """One `/ids` answer: recognised by a digest of its bytes, parsed only when it has to be compared."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.digest = hashlib.sha256(body).hexdigest()
        self._ids: list | None = None

    @property
    def ids(self) -> list:
        if self._ids is None:
            self._ids = json.loads(self.body)["result"]
        return self._ids


def ids_due(con: duckdb.DuckDBPyConnection, table: RawTable, interval_s: float) -> bool:
    """Whether the `/ids` comparison is due (always, unless an interval is set and has not passed)."""
    if interval_s <= 0:
        return True
    return not ids_checked_within(con, table.system, table.resource, interval_s)


def read_ids(client, resource: str) -> IdsAnswer:
    """The `/ids` answer and its digest (safe to run on another thread: no DuckDB)."""
    return IdsAnswer(client.list_ids_body(resource))


def reconcile_ids(
    con: duckdb.DuckDBPyConnection, client, table: RawTable, flows: Iterable[Flow], *, cycle_id: int = 0,
    interval_s: float = 0.0, listed: IdsAnswer | None = None,
) -> tuple[int, int]:
    """Compare the system's `/ids` with the stored ids (MemberCare only).

    Stored ids the system no longer has were hard-deleted; ids it has that we never stored were missed by
    the incremental read (see docs/clients.md) and are fetched one by one. Returns (deleted, fetched).

    Every cycle by default; `interval_s` > 0 runs it at most that often (DESIGN C1). `listed`: the answer
    already read, after this resource's extract, by a caller that checked `ids_due`.

    An answer byte for byte the one that last matched the stored ids exactly, while as many stored ids are
    live as it held, means the stored ids are that list still: nothing was stored since that the system no
    longer has, and nothing the system has is missing. The comparison is then skipped.
    """
    flows = _reading(table, flows)
    names = [f.name for f in flows]
    if listed is None:
        if not ids_due(con, table, interval_s):
            return 0, 0
        listed = read_ids(client, table.resource)
    checked = ids_digest(con, table.system, table.resource)
    live = con.execute(f"SELECT count(*) FROM {table.name} WHERE gone IS DISTINCT FROM 'deleted'").fetchall()[0][0]
    if checked == f"{listed.digest}:{live}":
        record_ids_check(con, table.system, table.resource, checked)
        return 0, 0
    ids = listed.ids
    present = pd.DataFrame({"id": ids}, dtype=object)
    with registered(con, "present_ids", present):
        # Compared in DuckDB: at a million records, Python sets of ids cost more than the request.
        deleted = [r[0] for r in con.execute(
            f"""SELECT id FROM {table.name} WHERE gone IS DISTINCT FROM 'deleted'
                AND id NOT IN (SELECT CAST(id AS {table.id_type}) FROM present_ids)""").fetchall()]
        missing = [r[0] for r in con.execute(
            f"""SELECT CAST(p.id AS {table.id_type}) AS id FROM present_ids p
                ANTI JOIN {table.name} t ON t.id = CAST(p.id AS {table.id_type})""").fetchall()]
    fetched = [record for record in (client.find(table.resource, i) for i in missing) if record]
    with transaction(con):
        store_gone(con, table, deleted, "deleted", flows)
        mark_dirty(con, names, table.system, deleted, cycle_id)
        stored = store_records(con, table, fetched, flows)
        mark_dirty(con, names, table.system, stored, cycle_id)
        # Kept only when the stored ids now are exactly the list (every missing one found), with its length.
        record_ids_check(con, table.system, table.resource,
                         f"{listed.digest}:{len(ids)}" if len(fetched) == len(missing) else None)
    return len(deleted), len(fetched)
