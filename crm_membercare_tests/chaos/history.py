"""The oracle's own history of user writes: per record and mapped row, the last value a user wrote, and when.

Only rows the actor edits are tracked (`TRACKED_ROWS`): plain text rows whose CRM field and MemberCare field
are both top-level, so a user write is one field on one side and its value needs no mapping context.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

CRM, MC = "crm", "membercare"


@dataclass(frozen=True)
class TrackedRow:
    flow: str
    key: str  # the flow's row key
    crm_field: str
    mc_field: str


TRACKED_ROWS: tuple[TrackedRow, ...] = (
    TrackedRow("contacts_persons", "first_name", "first_name", "firstname"),
    TrackedRow("contacts_persons", "last_name", "last_name", "lastname"),
    TrackedRow("customers_companies", "name", "name", "companyName"),
    TrackedRow("products_products", "name", "name", "name"),
    TrackedRow("products_products", "description", "description", "description"),
    TrackedRow("orders_invoices", "notes", "notes", "text"),
)


def tracked_rows(flow: str) -> tuple[TrackedRow, ...]:
    return tuple(row for row in TRACKED_ROWS if row.flow == flow)


@dataclass(frozen=True)
class UserWrite:
    side: str  # CRM | MC
    resource: str
    record_id: str
    row: str
    value: Any
    at: float  # wall-clock time the request was sent
    step: int  # the actor's operation number


@dataclass
class WriteLog:
    """Last user write per (side, resource, record id, row), plus counts of every operation by kind."""

    last: dict[tuple[str, str, str, str], UserWrite] = field(default_factory=dict)
    operations: Counter[str] = field(default_factory=Counter)
    every: list[UserWrite] = field(default_factory=list)  # all of them, in order: for diagnosing a failure

    def record(self, write: UserWrite) -> None:
        self.every.append(write)
        key = (write.side, write.resource, write.record_id, write.row)
        previous = self.last.get(key)
        if previous is None or previous.at <= write.at:
            self.last[key] = write

    def count(self, kind: str) -> None:
        self.operations[kind] += 1

    def last_write(self, row: str, crm: tuple[str, Any], mc: tuple[str, Any]) -> UserWrite | None:
        """The latest user write of `row` on either record of a pair ((resource, id) per side)."""
        found = [self.last.get((CRM, crm[0], str(crm[1]), row)), self.last.get((MC, mc[0], str(mc[1]), row))]
        found = [w for w in found if w is not None]
        return max(found, key=lambda w: w.at) if found else None

    @property
    def total_operations(self) -> int:
        return sum(self.operations.values())
