"""The opaque list cursor: the (updated_at, id) of the last record a page returned, as URL-safe text."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from crm_membercare.sandbox.sqlite_store import storable

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
        position = Position(int(updated_ms), int(record_id))
        if version != _VERSION or not (storable(position.updated_ms) and storable(position.record_id)):
            raise ValueError
        return position
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("not a cursor this server handed out") from error
