"""The analysts' file (DESIGN C13): a consistent copy of the state, published after every run.

DuckDB lets one process write a file and nobody else open it meanwhile, not even read-only; an analyst who
holds the state file open for an afternoon would stop every run. So analysts get their own file, with the
same schemas and table names (`select * from sync.links` works as written), replaced as a whole after each
run.

How: `CHECKPOINT` the state through the sync's own connection (the WAL is folded into the file, so the file
alone is the state as of the last commit), copy the file byte for byte to a temporary file beside the
analytics path (created owner-only), check that the copy opens and reads, fsync it, and `os.replace` it onto
the analytics path. The rename is atomic: a new reader gets either the old copy or the new one, never a
half-written file; a reader that holds the old copy open keeps its inode (and DuckDB's shared lock on it,
which never touches the new file), and sees the new copy when it reconnects.

Why a file copy and not `COPY FROM DATABASE` into a fresh file: the byte copy costs what reading the file
costs (the kernel's copy, no decoding, no memory beyond the page cache), where a logical copy rewrites every
row through DuckDB, which at scale large is seconds and hundreds of MB of memory in the sync's own process
(docs/analysts.md has the figures). The price of the byte copy: the copy has the state's storage version, so
only a DuckDB that reads this version opens it (the `duckdb` Python package the project installs does).

The caller publishes between transactions, from the process that holds the state, with nothing else in that
process writing meanwhile: a sync run is the only writer (DESIGN Part D), and it publishes when its cycle
is done.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

OWNER_ONLY = 0o600


@dataclass(frozen=True)
class PublishResult:
    path: Path
    bytes: int
    seconds: float  # the whole publish
    checkpoint_seconds: float  # of which the state's CHECKPOINT
    copy_seconds: float  # of which the copy and its fsync
    cycle_id: int | None  # the last finished cycle the copy holds
    published_at: datetime

    def metadata(self) -> dict[str, object]:
        """Plain values for a run's metadata or a log line."""
        return {"analytics_path": str(self.path), "analytics_bytes": self.bytes,
                "publish_seconds": round(self.seconds, 3), "checkpoint_seconds": round(self.checkpoint_seconds, 3),
                "copy_seconds": round(self.copy_seconds, 3), "analytics_cycle_id": self.cycle_id,
                "published_at": self.published_at.isoformat(timespec="seconds")}


class PublishError(Exception):
    """The analysts' file could not be published; the previous copy stays in place."""


def publish(con: duckdb.DuckDBPyConnection, state_path: str | Path, analytics_path: str | Path) -> PublishResult:
    """Replace the analysts' file by a copy of the state as of its last commit."""
    state, target = Path(state_path), Path(analytics_path)
    started = time.monotonic()
    catalog = _catalog_of(con, state).replace('"', '""')
    con.execute(f'CHECKPOINT "{catalog}"')
    wal = Path(f"{state}.wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise PublishError(f"the state's WAL {wal} is not empty after CHECKPOINT: another write is under way")
    checkpointed = time.monotonic()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.publishing")
    try:
        _copy_owner_only(state, partial)
        copied = time.monotonic()
        cycle_id = _last_cycle(partial)
        # A WAL left beside the analytics file (someone opened it read-write) would be replayed onto the
        # new copy by the next reader.
        Path(f"{target}.wal").unlink(missing_ok=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _fsync_directory(target.parent)
    return PublishResult(path=target, bytes=target.stat().st_size, seconds=time.monotonic() - started,
                         checkpoint_seconds=checkpointed - started, copy_seconds=copied - checkpointed,
                         cycle_id=cycle_id, published_at=datetime.now(UTC))


def _catalog_of(con: duckdb.DuckDBPyConnection, state: Path) -> str:
    """The catalog under which `con` has the state file: `state` after `open_state`, the stem when direct."""
    for name, path in con.execute("SELECT database_name, path FROM duckdb_databases() WHERE path IS NOT NULL")\
            .fetchall():
        if Path(path).resolve() == state.resolve():
            return name
    raise PublishError(f"the connection has no catalog on {state}: publish through the sync's own connection")


def _copy_owner_only(source: Path, destination: Path) -> None:
    destination.unlink(missing_ok=True)  # a copy left by a killed run
    os.close(os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY))
    shutil.copyfile(source, destination)  # into the existing owner-only inode, by the kernel's copy
    os.chmod(destination, OWNER_ONLY)
    fd = os.open(destination, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_cycle(copy: Path) -> int | None:
    """Open the copy as a reader will, and read from it: a copy that does not open is never published."""
    try:
        with duckdb.connect() as probe:
            probe.execute("ATTACH ? AS published (READ_ONLY)", [str(copy)])
            return probe.execute("SELECT max(id) FROM published.sync.cycles WHERE finished_at IS NOT NULL")\
                .fetchall()[0][0]
    except duckdb.Error as error:
        raise PublishError(f"the copy of the state does not read back: {error}") from None


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
