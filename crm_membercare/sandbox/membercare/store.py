"""MemberCare's persistent store: one SQLite table per resource, the record kept as JSON.

Each table holds `(id, changed_at, external_id, unique_key, body)`: `changed_at` is the last write as UTC epoch
seconds (what `lastChange` renders and `changedAfter` compares), `unique_key` the product number (NULL
elsewhere; SQLite lets NULLs repeat under UNIQUE). Debtor numbers are stored as integers, so ordering by id is
numeric, and rendered as digit strings. One connection, one lock, one transaction at a time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crm_membercare.sandbox.admin import Scale
from crm_membercare.sandbox.clock import SandboxClock
from crm_membercare.sandbox.membercare.oslo_time import epoch_seconds, local_to_epoch, render_local
from crm_membercare.sandbox.sqlite_store import SqliteStore, storable

RESOURCES = ("companies", "persons", "products", "invoices")
DEBTOR_RESOURCES = frozenset({"companies", "persons"})
_to_json = json.JSONEncoder(ensure_ascii=False).encode
FIRST_VALUES = {"debtor": 10001, "products": 1, "invoices": 1, "invoice_number": 1, "address": 1}


def id_field(resource: str) -> str:
    return "debtorAccountNumber" if resource in DEBTOR_RESOURCES else "id"


def record_id(resource: str, record: dict) -> int:
    return int(record[id_field(resource)])


def _schema(resources: tuple[str, ...] = RESOURCES) -> str:
    tables = "".join(
        f"""
        CREATE TABLE IF NOT EXISTS {name} (
            id INTEGER PRIMARY KEY, changed_at INTEGER NOT NULL, external_id TEXT,
            unique_key TEXT UNIQUE, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS {name}_changed ON {name} (changed_at, id);
        CREATE INDEX IF NOT EXISTS {name}_external ON {name} (external_id);"""
        for name in resources
    )
    return tables + "\nCREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, next INTEGER NOT NULL);"


def _table(resource: str, resources: tuple[str, ...]) -> str:
    """The table of a resource; table names cannot be SQL parameters, so only known names get through."""
    if resource not in resources:
        raise ValueError(f"unknown resource {resource!r}")
    return resource


def _rendered(changed_at: int, body: str) -> dict:
    record = json.loads(body)
    record["lastChange"] = render_local(changed_at)
    return record


class Transaction:
    """The operations a request performs, all inside one SQLite transaction stamped with one instant."""

    def __init__(self, connection: sqlite3.Connection, now: int, resources: tuple[str, ...] = RESOURCES) -> None:
        self._db = connection
        self.now = now
        self._resources = resources

    def _table(self, resource: str) -> str:
        return _table(resource, self._resources)

    def get(self, resource: str, key: int) -> dict | None:
        if not storable(key):
            return None
        row = self._db.execute(f"SELECT changed_at, body FROM {self._table(resource)} WHERE id = ?", (key,)).fetchone()
        return _rendered(*row) if row else None

    def exists(self, resource: str, key: int) -> bool:
        return storable(key) and \
            self._db.execute(f"SELECT 1 FROM {self._table(resource)} WHERE id = ?", (key,)).fetchone() is not None

    def unique_key_owner(self, resource: str, unique_key: str) -> int | None:
        row = self._db.execute(f"SELECT id FROM {self._table(resource)} WHERE unique_key = ?", (unique_key,)).fetchone()
        return row[0] if row else None

    def write(self, resource: str, record: dict, unique_key: str | None = None) -> dict:
        """Insert or replace `record` (without `lastChange`), stamped now; return it as GET shows it."""
        body = {k: v for k, v in record.items() if k != "lastChange"}
        text = _to_json(body)
        # An upsert, not INSERT OR REPLACE: a clash on unique_key must fail, never delete the other row.
        self._db.execute(
            f"INSERT INTO {self._table(resource)} (id, changed_at, external_id, unique_key, body) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET changed_at = excluded.changed_at, "
            "external_id = excluded.external_id, unique_key = excluded.unique_key, body = excluded.body",
            (record_id(resource, body), self.now, body.get("externalId"), unique_key, text),
        )
        return _rendered(self.now, text)

    def delete(self, resource: str, key: int) -> None:
        self._db.execute(f"DELETE FROM {self._table(resource)} WHERE id = ?", (key,))

    def next_value(self, sequence: str) -> int:
        """Take the next number of `sequence` (debtor numbers, ids, invoice numbers, address ids)."""
        (value,) = self._db.execute("SELECT next FROM sequences WHERE name = ?", (sequence,)).fetchone()
        self._db.execute("UPDATE sequences SET next = ? WHERE name = ?", (value + 1, sequence))
        return value


class MemberCareStore(SqliteStore):
    def __init__(self, db_path: Path, clock: SandboxClock, resources: tuple[str, ...] = RESOURCES) -> None:
        """`resources`: the tables to hold (`RESOURCES`, and any a caller added to the app)."""
        first_values = {**FIRST_VALUES, **{name: 1 for name in resources if name not in RESOURCES}}
        super().__init__(db_path, clock, _schema(resources), first_values, resources)
        self.resources = resources

    def _table(self, resource: str) -> str:
        return _table(resource, self.resources)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._transaction(lambda db: Transaction(db, epoch_seconds(self.clock.now()), self.resources)) as tx:
            yield tx

    def page(
        self, resource: str, after: int | None, external_id: str | None, offset: int, limit: int
    ) -> tuple[int, list[dict]]:
        """The total matching now and one page of it, ascending by (changed_at, id), located by OFFSET.

        OFFSET on purpose: like the real API, pages are recomputed per request, so a record written between two
        page requests moves to the end and the records behind it shift forward one place.
        """
        where, params = [], []
        if after is not None:
            where.append("changed_at > ?")
            params.append(after)
        if external_id is not None:
            where.append("external_id = ?")
            params.append(external_id)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            (total,) = self._db.execute(f"SELECT COUNT(*) FROM {self._table(resource)} {clause}", params).fetchone()
            if offset >= total:  # past the last page (an offset beyond SQLite's integers included): empty
                return total, []
            rows = self._db.execute(
                f"SELECT changed_at, body FROM {self._table(resource)} {clause} "
                "ORDER BY changed_at, id LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return total, [_rendered(*row) for row in rows]

    def ids(self, resource: str) -> list[int]:
        with self._lock:
            return [row[0] for row in self._db.execute(f"SELECT id FROM {self._table(resource)} ORDER BY id")]

    def seed(self, seed: int, scale: Scale, overlap: float, stamped: bool = False) -> dict[str, int]:
        """Reset, then bulk-insert the generated records straight into SQLite and move the sequences past them."""
        from crm_membercare.sandbox.seeding import generate

        counts = dict.fromkeys(RESOURCES, 0)
        highest = dict.fromkeys(FIRST_VALUES, 0)
        with self._lock:
            self._drop_everything()
            self._db.execute("BEGIN")
            try:
                for resource, chunk in generate("membercare", seed, scale, overlap, self.clock.now(), stamped=stamped):
                    self._db.executemany(
                        f"INSERT INTO {self._table(resource)} (id, changed_at, external_id, unique_key, body) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [_seed_row(resource, record, highest) for record in chunk],
                    )
                    counts[resource] += len(chunk)
                self._db.executemany(
                    "UPDATE sequences SET next = MAX(next, ?) WHERE name = ?",
                    [(value + 1, name) for name, value in highest.items()],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return counts



def _seed_row(resource: str, record: dict, highest: dict[str, int]) -> tuple:
    """One generated record as a table row; notes the highest numbers seen for the sequences."""
    key = record_id(resource, record)
    sequence = "debtor" if resource in DEBTOR_RESOURCES else resource
    highest[sequence] = max(highest[sequence], key)
    for address in record.get("addresses") or ():
        highest["address"] = max(highest["address"], address["id"])
    if record.get("invoiceNumber") is not None:
        highest["invoice_number"] = max(highest["invoice_number"], record["invoiceNumber"])
    body = {k: v for k, v in record.items() if k != "lastChange"}
    unique_key = record.get("productNumber") if resource == "products" else None
    return (
        key,
        local_to_epoch(record["lastChange"]),
        record.get("externalId"),
        unique_key,
        _to_json(body),
    )
