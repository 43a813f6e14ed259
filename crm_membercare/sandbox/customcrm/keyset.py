"""The opaque list cursor: the (updated_at, id) of the last record a page returned, as URL-safe text."""

from __future__ import annotations

import base64
from dataclasses import dataclass

_VERSION = "k1"


@dataclass(frozen=True)
class Position:
    updated_ms: int
    record_id: int


def encode(position: Position) -> str:
    raw = f"{_VERSION}:{position.updated_ms}:{position.record_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> Position:
    """Raises ValueError for text this server did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, updated_ms, record_id = raw.split(":")
        if version != _VERSION:
            raise ValueError
        return Position(int(updated_ms), int(record_id))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("not a cursor this server handed out") from error
