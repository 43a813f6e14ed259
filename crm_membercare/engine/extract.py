"""Incremental extract: each resource's changes since its cursor into its raw table (DESIGN C1).

Resources are read side by side, each by a reader thread (at most `per_system` at a time per system), and a
reader fetches its next page while the pages before it are stored. One thread, the caller's, owns the DuckDB
connection: it stores whatever pages have arrived, of any resources, in one transaction that also moves each
resource's cursor to the end of its last page in it, so a cursor never runs ahead of the records it covers.
The clients re-read an overlap at the cursor and the store de-duplicates by content. Records that changed are
marked dirty for every flow that reads their resource: planning then looks only at those.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
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
BATCH_WINDOW_S = 0.05  # pages arriving this soon after a batch's first one are stored with it...
BULK_PAGE = 200  # ...when that one holds this many records or more
BULK_READ = 10_000  # records changed by a read that it checkpoints itself (see `_restore_settings`)
BATCH_RECORDS = 30_000  # stored in one transaction at most; more waiting is stored in the next
PAGES_AHEAD = 4  # pages a reader may fetch ahead of the store (bounds memory when storing is the slower part)


@dataclass(frozen=True)
class ExtractResult:
    system: str
    resource: str
    read: int
    changed: int
    deleted: int
    cursor: str | None


@dataclass(frozen=True)
class _Page:
    table: RawTable
    records: list[dict]
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
    """One resource's changes since its stored cursor (`extract_tables` with one table)."""
    results, _ = extract_tables(con, {table.system: client}, [table], flows, cycle_id=cycle_id, progress=progress)
    return results[0]


def extract_tables(
    con: duckdb.DuckDBPyConnection,
    clients: Mapping[str, object],
    tables: Iterable[RawTable],
    flows: Iterable[Flow],
    *,
    cycle_id: int = 0,
    per_system: int = 8,
    page_size: int = 0,
    list_ids: Iterable[str] = (),
    progress: Progress | None = None,
) -> tuple[list[ExtractResult], dict[str, IdsAnswer]]:
    """Read what changed since each table's stored cursor, the tables side by side, and store it.

    `clients`: system -> its client. `page_size`: records per request (0, or above the API's maximum: the
    maximum). `list_ids`: names of the tables whose `/ids` answer is read by their reader
    once its last page is in (never before: a record created in between would look deleted); returned by
    table name for `reconcile_ids`. The first reader's failure is raised once every page read before it is
    stored.
    """
    tables, flows = list(tables), tuple(flows)
    cursors = {table.name: get_cursor(con, table.system, table.resource) for table in tables}
    totals = {table.name: [0, 0] for table in tables}  # read, changed
    _settings_for_the_read(con)
    readers = _Readers(clients, tables, cursors, per_system=per_system, page_size=page_size,
                       list_ids=set(list_ids))
    try:
        for batch in readers.batches():
            with transaction(con):
                for table, pages in _by_table(batch):
                    reading = _reading(table, flows)
                    records = [record for page in pages for record in page.records]
                    ids = store_records(con, table, records, reading)
                    mark_dirty(con, [f.name for f in reading], table.system, ids, cycle_id)
                    set_cursor(con, table.system, table.resource, pages[-1].cursor)
                    cursors[table.name] = pages[-1].cursor
                    counted = totals[table.name]
                    if progress and (counted[0] + len(records)) // 5000 > counted[0] // 5000:
                        progress(f"{table.name}: {counted[0] + len(records)} read")
                    counted[0] += len(records)
                    counted[1] += len(ids)
    finally:
        readers.close()
        _restore_settings(con, bulk=sum(changed for _, changed in totals.values()) >= BULK_READ)
    listed = readers.answers()
    results = [ExtractResult(t.system, t.resource, *totals[t.name], 0, cursors[t.name]) for t in tables]
    return results, listed


def _settings_for_the_read(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB's settings while a read stores pages. At the default checkpoint threshold (16 MB of WAL) a bulk
    read checkpoints every few batches, each writing the growing tables' indexes anew; one DuckDB thread,
    because the readers and the systems' answers want the other cores (with two, DuckDB's second thread cost
    more CPU than it saved time). The state's connection sets neither, so the defaults are restored after."""
    con.execute("SET checkpoint_threshold = '256MB'")  # bounded: what is not checkpointed stays in memory
    con.execute("SET threads = 1")


def _restore_settings(con: duckdb.DuckDBPyConnection, *, bulk: bool) -> None:
    """DuckDB's defaults again; after a bulk read, what it wrote checkpointed once (so the read pays for its
    own). A small read's few records wait for DuckDB's next checkpoint, as every other write does."""
    con.execute("RESET checkpoint_threshold")
    con.execute("RESET threads")
    if bulk:
        con.execute("CHECKPOINT")


def _by_table(batch: list[_Page]) -> list[tuple[RawTable, list[_Page]]]:
    """The batch's pages grouped by table, each group in the order its pages were read."""
    grouped: dict[RawTable, list[_Page]] = {}
    for page in batch:
        grouped.setdefault(page.table, []).append(page)
    return list(grouped.items())


class _Readers:
    """A reader thread per table, handing pages to the storing thread through a bounded queue."""

    def __init__(self, clients: Mapping[str, object], tables: list[RawTable], cursors: Mapping[str, str | None],
                 *, per_system: int, page_size: int, list_ids: set[str]) -> None:
        self._pages: queue.Queue[_Page] = queue.Queue(maxsize=PAGES_AHEAD * max(1, len(tables)))
        self._stop = threading.Event()
        self._list_ids = list_ids
        self._page_size = page_size
        self._slots = {system: threading.BoundedSemaphore(max(1, per_system)) for system in clients}
        # The cursors were read on the storing thread: the reader threads never touch DuckDB.
        # Daemon threads: a process told to stop (Ctrl-C, SIGTERM) must not wait at exit for a reader in the
        # middle of a request; what they read is only ever stored by the storing thread.
        self._futures: dict[str, Future] = {}
        for table in tables:
            future: Future = Future()
            self._futures[table.name] = future
            threading.Thread(target=self._run, args=(future, clients[table.system], table, cursors[table.name]),
                             name=f"extract-{table.name}", daemon=True).start()

    def _run(self, future: Future, client, table: RawTable, cursor: str | None) -> None:
        try:
            future.set_result(self._read(client, table, cursor))
        except BaseException as error:  # handed to the storing thread, which raises it
            future.set_exception(error)

    def _read(self, client, table: RawTable, cursor: str | None) -> IdsAnswer | None:
        size = min(self._page_size or client.max_page, client.max_page)
        with self._slots[table.system]:
            for page in client.iter_changes(table.resource, cursor, page_size=size, id_field=table.id_field):
                if not self._offer(_Page(table, page.records, page.cursor)):
                    return None
            return read_ids(client, table.resource) if table.name in self._list_ids else None

    def _offer(self, page: _Page) -> bool:
        """Queue a page; False once the extract is stopping (another reader failed)."""
        while not self._stop.is_set():
            try:
                self._pages.put(page, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def batches(self):
        """Lists of pages as they arrive: whatever is waiting, up to BATCH_RECORDS, until every reader ended.
        A reader that fails stops the others (the pages they queued before are still stored)."""
        while True:
            try:
                batch = [self._pages.get(timeout=0.05)]
            except queue.Empty:
                if any(f.done() and f.exception() for f in self._futures.values()):
                    self._stop.set()
                if all(f.done() for f in self._futures.values()) and self._pages.empty():
                    return
                continue
            # A transaction's fixed costs (its commit above all) are paid per batch: in a bulk read, pages that
            # arrive soon after the first share it. A small page (an incremental read) is not kept waiting.
            count = len(batch[0].records)
            closes = time.monotonic() + (BATCH_WINDOW_S if count >= BULK_PAGE else 0.0)
            while count < BATCH_RECORDS:
                try:
                    batch.append(self._pages.get(timeout=max(0.0, closes - time.monotonic())))
                except queue.Empty:
                    break
                count += len(batch[-1].records)
            yield batch

    def close(self) -> None:
        """Stop whatever still reads (the storing thread failed or was interrupted): a reader ends at its next
        page; nothing waits for it (a daemon thread, it never holds up the process's exit)."""
        self._stop.set()

    def answers(self) -> dict[str, IdsAnswer]:
        """The `/ids` answers read, by table name; raises the first reader's failure."""
        for future in self._futures.values():
            if future.exception() is not None:
                raise future.exception()
        return {name: future.result() for name, future in self._futures.items() if future.result() is not None}


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
