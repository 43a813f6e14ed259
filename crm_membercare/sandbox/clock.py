"""A settable clock, so tests can place writes at chosen instants (e.g. inside the autumn DST hour)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """Real UTC time, optionally shifted so that 'now' starts at a chosen instant and runs on from there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def set(self, instant: datetime | None) -> None:
        """Make now() return `instant` at this moment (None: back to real time)."""
        with self._lock:
            self._offset = timedelta(0) if instant is None else instant - datetime.now(UTC)
