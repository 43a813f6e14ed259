"""The values the planner produces and the outbox stores: operations, rejects, conflicts, link changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_membercare.engine.merge import FieldConflict

TO_MEMBERCARE, TO_CRM = "to_membercare", "to_crm"
CREATE, UPDATE, DELETE = "create", "update", "delete"
CRM_SIDE, MC_SIDE = "crm", "membercare"


@dataclass(frozen=True)
class Record:
    """One system record as the planner sees it."""

    id: Any
    raw: dict
    gone: str | None  # None while live; 'archived' | 'closed' | 'deleted'
    changed_at: datetime | None
    marker: str  # CRM version / MemberCare lastChange: what a later write is based on


@dataclass(frozen=True)
class Operation:
    """One write to one system. `values` are common values; `fields` the rows to write (all for a create).

    `target_resource` is the flow's resource on that side except for a derived flow's owner move.
    `based_on` is the target's marker an update or delete was computed against (for a create: the source's,
    carried on to the identity stamp that follows it); `stamp` an identity to set on the
    target; `crm_values` / `mc_values` the canonical values each side had when planned (the next bases).
    """

    flow: str
    direction: str
    kind: str
    target_resource: str
    crm_id: int | None
    mc_id: Any
    values: dict = field(default_factory=dict)
    fields: tuple[str, ...] = ()
    based_on: str | None = None
    stamp: str | None = None
    crm_values: dict | None = None
    mc_values: dict | None = None


@dataclass(frozen=True)
class Reject:
    flow: str
    side: str  # the side whose record could not be synced
    record_id: Any
    field: str
    reason: str
    value: Any = None


@dataclass(frozen=True)
class Waiting:
    """A record that cannot be written until a record it references is linked."""

    flow: str
    side: str
    record_id: Any
    field: str
    reason: str


@dataclass(frozen=True)
class Ambiguous:
    flow: str
    side: str
    record_id: Any
    key: str
    candidates: tuple


@dataclass(frozen=True)
class NewLink:
    flow: str
    crm_id: int
    mc_id: Any
    linked_by: str  # 'match' | 'external_id'


@dataclass(frozen=True)
class RecordedConflict:
    flow: str
    crm_id: int
    mc_id: Any
    conflict: FieldConflict


@dataclass
class FlowPlan:
    flow: str
    operations: list[Operation] = field(default_factory=list)
    new_links: list[NewLink] = field(default_factory=list)
    ended_links: list[tuple[int, Any, str]] = field(default_factory=list)  # (crm id, mc id, reason)
    bases: list[tuple[int, Any, dict, dict]] = field(default_factory=list)  # agreed pairs: new bases
    conflicts: list[RecordedConflict] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    ambiguous: list[Ambiguous] = field(default_factory=list)
    settled: list[tuple[str, Any, tuple[str, ...]]] = field(default_factory=list)  # (side, id, agreed rows)

    def extend(self, other: FlowPlan) -> None:
        """Add another chunk's plan of the same flow (for reporting totals)."""
        for name in ("operations", "new_links", "ended_links", "bases", "conflicts", "rejects", "waiting", "ambiguous",
                     "settled"):
            getattr(self, name).extend(getattr(other, name))

    def count(self, kind: str) -> int:
        return sum(1 for op in self.operations if op.kind == kind)
