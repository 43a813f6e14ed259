"""What both sandbox stores share: one SQLite file in WAL mode behind one lock, a `sequences` table, and
transactions that commit or roll back as a whole. Each store adds its own tables, records and paging."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from crm_membercare.sandbox.clock import SandboxClock

T = TypeVar("T")
OWNER_ONLY = 0o600
# SQLite's INTEGER is 64-bit: a Python int outside it cannot even be compared with a column (OverflowError),
# so an id outside it names no record, and the stores answer so before asking SQLite.
SQLITE_MIN_INTEGER, SQLITE_MAX_INTEGER = -(2**63), 2**63 - 1


def storable(value: int) -> bool:
    """True when SQLite can hold `value`; an id that is not storable names no record."""
    return SQLITE_MIN_INTEGER <= value <= SQLITE_MAX_INTEGER


class SqliteStore:
    def __init__(self, db_path: Path, clock: SandboxClock, schema: str, first_values: dict[str, int],
                 tables: tuple[str, ...]) -> None:
        self.clock = clock
        self._schema = schema
        self._first_values = first_values
        self._tables = tables
        # uvicorn runs sync endpoints on a thread pool: one connection, one writer at a time.
        self._lock = threading.Lock()
        # Owner-only like the sync's own files (docs/security.md): SQLite gives the -wal and -shm files the
        # database file's mode, so creating that one 0600 is enough.
        db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(db_path, os.O_WRONLY | os.O_CREAT, OWNER_ONLY))
        os.chmod(db_path, OWNER_ONLY)
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._create_schema()

    def _create_schema(self) -> None:
        self._db.executescript(self._schema)
        self._db.executemany("INSERT OR IGNORE INTO sequences (name, next) VALUES (?, ?)",
                             self._first_values.items())

    @contextmanager
    def _transaction(self, begin: Callable[[sqlite3.Connection], T]) -> Iterator[T]:
        """BEGIN IMMEDIATE under the lock; `begin(db)` makes the store's own transaction object."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield begin(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def reset(self) -> None:
        with self._lock:
            self._drop_everything()

    def _drop_everything(self) -> None:
        self._db.executescript("".join(f"DROP TABLE IF EXISTS {name};" for name in (*self._tables, "sequences")))
        self._create_schema()

    def close(self) -> None:
        with self._lock:
            self._db.close()
