"""Circuit-breaker acknowledgements, told to whoever watches without opening DuckDB.

`crm-membercare breaker ack FLOW` records the acknowledgement in the state (engine.breaker) and then appends
a line here, `<state file>.acks`. Dagster's sensor, which must never open the state file (DuckDB allows one
process at a time), watches `acks_digest` and launches a run when it changes, so the held removals are
applied without anyone launching a job.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

OWNER_ONLY = 0o600


def acks_path(state_path: str | Path) -> Path:
    return Path(f"{state_path}.acks")


def record_ack(state_path: str | Path, flow: str) -> None:
    """Append `{"flow": ..., "at": ...}` as one JSON line (the file is created owner-only)."""
    line = json.dumps({"flow": flow, "at": datetime.now(UTC).isoformat(timespec="seconds")}) + "\n"
    fd = os.open(acks_path(state_path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, OWNER_ONLY)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def acks_digest(state_path: str | Path) -> str | None:
    """A short digest of every acknowledgement recorded so far; None when there has been none."""
    try:
        content = acks_path(state_path).read_bytes()
    except FileNotFoundError:
        return None
    return hashlib.sha256(content).hexdigest()[:16]
