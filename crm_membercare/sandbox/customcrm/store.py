"""CustomCRM's persistent store: one SQLite table per resource, each record kept whole as JSON.

Each table holds `(id, updated_ms, external_ref, archived, unique_key, body)`. `updated_ms` (UTC epoch
milliseconds) orders lists and answers `updated_since`; `external_ref` is UNIQUE across live and archived
records; `unique_key` is the sku (unique among live products) or the lower-cased email (unique among users).
SQLite lets NULLs repeat under UNIQUE. One connection, one lock, one transaction at a time: uvicorn runs the
sync endpoints on a thread pool.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from crm_membercare.sandbox.admin import Scale
from crm_membercare.sandbox.clock import SandboxClock
from crm_membercare.sandbox.customcrm.fields import NUMBERING, RESOURCES, unique_key
from crm_membercare.sandbox.customcrm.keyset import Position
from crm_membercare.sandbox.customcrm.timestamps import epoch_ms, render
from crm_membercare.sandbox.sqlite_store import SqliteStore, storable

FIRST_VALUES = {**dict.fromkeys(RESOURCES, 1), **{field: first for field, _, first in NUMBERING.values()}}
# A clock set back by more than this is taken at its word; a smaller step back is the same instant, see stamp().
CLOCK_STEP_BACK_MS = 1000


def _schema(resources: tuple[str, ...] = RESOURCES) -> str:
    tables = "".join(
        f"""
        CREATE TABLE IF NOT EXISTS {name} (
            id INTEGER PRIMARY KEY, updated_ms INTEGER NOT NULL, external_ref TEXT UNIQUE,
            archived INTEGER NOT NULL, unique_key TEXT, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS {name}_updated ON {name} (updated_ms, id);
        CREATE UNIQUE INDEX IF NOT EXISTS {name}_unique ON {name} (unique_key)
            {"WHERE archived = 0" if name == "products" else ""};"""
        for name in resources
    )
    return tables + "\nCREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, next INTEGER NOT NULL);"


def _row(resource: str, record: dict, updated_ms: int) -> tuple:
    return (
        record["id"],
        updated_ms,
        record["external_ref"],
        int(record["archived"]),
        unique_key(resource, record),
        json.dumps(record, ensure_ascii=False),
    )


_COLUMNS = "(id, updated_ms, external_ref, archived, unique_key, body) VALUES (?, ?, ?, ?, ?, ?)"
_UPSERT = "INSERT OR REPLACE INTO {} " + _COLUMNS
# Seeding fills empty tables: a plain INSERT is faster, and a repeated id is the generator's bug, not an update.
_INSERT = "INSERT INTO {} " + _COLUMNS


class Transaction:
    """The reads and writes of one request, inside one SQLite transaction."""

    def __init__(self, connection: sqlite3.Connection, now_ms: int) -> None:
        self._db = connection
        self._now_ms = now_ms

    def get(self, resource: str, record_id: int) -> dict | None:
        if not storable(record_id):
            return None
        row = self._db.execute(f"SELECT body FROM {resource} WHERE id = ?", (record_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def exists(self, resource: str, record_id: int) -> bool:
        return storable(record_id) and \
            self._db.execute(f"SELECT 1 FROM {resource} WHERE id = ?", (record_id,)).fetchone() is not None

    def holder_of_external_ref(self, resource: str, external_ref: str) -> int | None:
        row = self._db.execute(f"SELECT id FROM {resource} WHERE external_ref = ?", (external_ref,)).fetchone()
        return row[0] if row else None

    def holder_of_unique_key(self, resource: str, key: str) -> int | None:
        """The live product with this sku, or the user (live or archived) with this email."""
        live_only = " AND archived = 0" if resource == "products" else ""
        row = self._db.execute(f"SELECT id FROM {resource} WHERE unique_key = ?{live_only}", (key,)).fetchone()
        return row[0] if row else None

    def next_value(self, sequence: str) -> int:
        """Take the next number of `sequence` (a resource's ids, order numbers, quote numbers)."""
        (value,) = self._db.execute("SELECT next FROM sequences WHERE name = ?", (sequence,)).fetchone()
        self._db.execute("UPDATE sequences SET next = ? WHERE name = ?", (value + 1, sequence))
        return value

    def stamp(self, resource: str) -> int:
        """The write's instant: now, but always after the newest record of the resource.

        Two writes in the same millisecond would otherwise share `updated_at`, and one with a lower id could
        land behind a cursor already handed out for that millisecond and be skipped by a keyset iteration.
        """
        (newest,) = self._db.execute(f"SELECT MAX(updated_ms) FROM {resource}").fetchone()
        if newest is not None and newest - CLOCK_STEP_BACK_MS < self._now_ms <= newest:
            return newest + 1
        return self._now_ms

    def write(self, resource: str, record: dict) -> dict:
        """Insert or replace `record`, stamping `updated_at` (and `created_at` on a new one); return it."""
        updated_ms = self.stamp(resource)
        stamped = {**record, "updated_at": render(updated_ms)}
        stamped.setdefault("created_at", stamped["updated_at"])
        self._db.execute(_UPSERT.format(resource), _row(resource, stamped, updated_ms))
        return stamped


class CustomCrmStore(SqliteStore):
    def __init__(self, db_path: Path, clock: SandboxClock, resources: tuple[str, ...] = RESOURCES) -> None:
        """`resources`: the tables to hold (`RESOURCES`, and any a caller added to the app)."""
        first_values = {**FIRST_VALUES, **{name: 1 for name in resources if name not in FIRST_VALUES}}
        super().__init__(db_path, clock, _schema(resources), first_values, resources)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._transaction(lambda db: Transaction(db, epoch_ms(self.clock.now()))) as tx:
            yield tx

    def get(self, resource: str, record_id: int) -> dict | None:
        if not storable(record_id):
            return None
        with self._lock:
            row = self._db.execute(f"SELECT body FROM {resource} WHERE id = ?", (record_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def page(
        self, resource: str, *, since_ms: int | None, after: Position | None, include_archived: bool,
        external_ref: str | None, limit: int,
    ) -> tuple[list[dict], Position | None]:
        """Up to `limit` records ascending by (updated_ms, id) past `after`, and the position to go on from
        when more exist right now (None when this page is the last)."""
        where, params = [], []
        if since_ms is not None:
            where.append("updated_ms >= ?")
            params.append(since_ms)
        if after is not None:
            where.append("(updated_ms, id) > (?, ?)")
            params += [after.updated_ms, after.record_id]
        if not include_archived:
            where.append("archived = 0")
        if external_ref is not None:
            where.append("external_ref = ?")
            params.append(external_ref)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT updated_ms, id, body FROM {resource} {clause} ORDER BY updated_ms, id LIMIT ?",
                [*params, limit + 1],
            ).fetchall()
        records = [json.loads(body) for _, _, body in rows[:limit]]
        more = len(rows) > limit
        return records, Position(rows[limit - 1][0], rows[limit - 1][1]) if more else None

    def seed(self, seed: int, scale: Scale, overlap: float, stamped: bool = False) -> dict[str, int]:
        """Reset, then bulk-insert the generated records straight into SQLite and move the sequences past them."""
        from crm_membercare.sandbox.seeding import generate

        counts = dict.fromkeys(RESOURCES, 0)
        highest = {name: first - 1 for name, first in FIRST_VALUES.items()}
        with self._lock:
            self._drop_everything()
            self._db.execute("BEGIN")
            try:
                for resource, chunk in generate("customcrm", seed, scale, overlap, self.clock.now(), stamped=stamped):
                    self._db.executemany(_INSERT.format(resource), [_seed_row(resource, r, highest) for r in chunk])
                    counts[resource] += len(chunk)
                self._db.executemany(
                    "UPDATE sequences SET next = ? WHERE name = ?",
                    [(value + 1, name) for name, value in highest.items()],
                )
            except sqlite3.IntegrityError as error:
                self._db.execute("ROLLBACK")
                raise ValueError(f"generated records break a uniqueness rule: {error}") from error
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return counts



def _seed_row(resource: str, record: dict, highest: dict[str, int]) -> tuple:
    """One generated record as a table row; notes the highest id and document number for the sequences."""
    highest[resource] = max(highest[resource], record["id"])
    if resource in NUMBERING:
        field, prefix, _ = NUMBERING[resource]
        highest[field] = max(highest[field], int(record[field].removeprefix(prefix)))
    return _row(resource, record, epoch_ms(datetime.fromisoformat(record["updated_at"])))
