"""The oracle's own history of what users did: every write of a tracked row (value, when it was sent, the
instant the system stamped on the record), every delete with the counterpart the user could see, and every
problem the actor provoked on purpose (a reject, an ambiguous match), which alone may excuse a divergence.

The rows themselves and what they must read as on the other side are `chaos.expect`'s (Part B, golden.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from crm_membercare_tests.chaos.expect import CRM, MC, TRACKED_ROWS, Row, tracked_rows

__all__ = ["CRM", "MC", "TRACKED_ROWS", "Provoked", "Removal", "Row", "UserWrite", "WriteLog", "tracked_rows"]
TrackedRow = Row


@dataclass(frozen=True)
class UserWrite:
    side: str  # CRM | MC
    resource: str
    record_id: str
    row: str  # the row's key (its CRM field); for users the user field
    value: Any
    at: float  # wall-clock time the request was sent
    step: int  # the actor's operation number
    changed_at: float | None = None  # the record's updated_at / lastChange after the write, as epoch seconds


@dataclass(frozen=True)
class Removal:
    """A user delete (archive, close, hard delete, credit) and the counterpart linked at the last refresh."""

    flow: str
    side: str
    record_id: Any
    counterpart: Any | None
    step: int
    how: str = "delete"  # delete | credit


@dataclass(frozen=True)
class Provoked:
    """A problem the actor caused on purpose; `kind` "reject" or "ambiguous", on these records of a flow."""

    kind: str
    flow: str
    records: frozenset[tuple[str, str]]  # (side, record id)
    why: str


@dataclass
class WriteLog:
    """Last user write per (side, resource, record id, row), every write, deletes, provocations and counts."""

    last: dict[tuple[str, str, str, str], UserWrite] = field(default_factory=dict)
    operations: Counter[str] = field(default_factory=Counter)
    every: list[UserWrite] = field(default_factory=list)  # all of them, in order
    removals: list[Removal] = field(default_factory=list)
    provoked: list[Provoked] = field(default_factory=list)
    replaced_emails: dict[int, set[str]] = field(default_factory=dict)  # CRM user id -> emails the actor replaced

    def record(self, write: UserWrite) -> None:
        self.every.append(write)
        key = (write.side, write.resource, write.record_id, write.row)
        previous = self.last.get(key)
        if previous is None or previous.at <= write.at:
            self.last[key] = write

    def count(self, kind: str) -> None:
        self.operations[kind] += 1

    def provoke(self, kind: str, flow: str, records: list[tuple[str, Any]], why: str) -> None:
        self.provoked.append(Provoked(kind, flow, frozenset((s, str(i)) for s, i in records), why))

    def last_write(self, row: str, crm: tuple[str, Any], mc: tuple[str, Any]) -> UserWrite | None:
        """The latest user write of `row` on either record of a pair ((resource, id) per side)."""
        found = [self.last.get((CRM, crm[0], str(crm[1]), row)), self.last.get((MC, mc[0], str(mc[1]), row))]
        found = [w for w in found if w is not None]
        return max(found, key=lambda w: w.at) if found else None

    def writes_to(self, side: str, resource: str, record_id: Any) -> list[UserWrite]:
        return [w for w in self.every if (w.side, w.resource, w.record_id) == (side, resource, str(record_id))]

    @property
    def total_operations(self) -> int:
        return sum(self.operations.values())
