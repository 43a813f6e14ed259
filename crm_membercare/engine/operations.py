"""The values the planner produces and the outbox stores: operations, rejects, conflicts, link changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_membercare.engine.merge import FieldConflict
from crm_membercare.engine.vocabulary import Direction, OpKind, Side

TO_MEMBERCARE, TO_CRM = Direction.TO_MEMBERCARE, Direction.TO_CRM
DIRECTIONS: tuple[Direction, ...] = tuple(Direction)  # both, MemberCare first
CREATE, UPDATE, DELETE = OpKind.CREATE, OpKind.UPDATE, OpKind.DELETE
CRM_SIDE, MC_SIDE = Side.CRM, Side.MEMBERCARE


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
    """A record that cannot be written until a record it references is linked.

    The reference: `through` the flow(s) whose links it needs ("a or b" for a debtor), `reference_id` the
    referenced record's id on `reference_side`. Whether it can ever be linked is for the state to say.
    """

    flow: str
    side: str
    record_id: Any
    field: str
    reason: str
    through: str = ""
    reference_id: Any = None
    reference_side: str = ""


@dataclass(frozen=True)
class Ambiguous:
    flow: str
    side: str
    record_id: Any
    key: str
    candidates: tuple


@dataclass(frozen=True)
class Claim:
    """A stamped identity naming a record of the other system, found on an unlinked record (DESIGN C2).

    `crm_claims`: the CRM record's `external_ref` names the MemberCare record; `mc_claims`: the other way
    round. `written_by_sync`: the outbox shows the sync itself wrote one of these stamps (a create whose
    outcome was not recorded). A claim alone is typed text: it links only when corroborated.
    """

    crm_id: int
    mc_id: Any
    crm_claims: bool
    mc_claims: bool
    written_by_sync: bool = False


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

    def count(self, kind: str) -> int:
        return sum(1 for op in self.operations if op.kind == kind)


@dataclass
class PlanSummary:
    """What planning a flow came to, in counts and a short preview of its conflicts.

    A flow is planned a chunk at a time and each chunk's plan is committed and let go: at a million records
    the plans themselves (values, bases) would not fit in memory, their counts do.
    """

    flow: str
    operations: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    new_links: int = 0
    conflicts: int = 0
    rejects: int = 0
    waiting: int = 0
    ambiguous: int = 0
    conflict_preview: list[RecordedConflict] = field(default_factory=list)

    PREVIEW = 20

    def add(self, plan: FlowPlan) -> None:
        self.operations += len(plan.operations)
        for op in plan.operations:
            self.kinds[op.kind] = self.kinds.get(op.kind, 0) + 1
        self.new_links += len(plan.new_links)
        self.conflicts += len(plan.conflicts)
        self.rejects += len(plan.rejects)
        self.waiting += len(plan.waiting)
        self.ambiguous += len(plan.ambiguous)
        self.conflict_preview += plan.conflicts[:self.PREVIEW - len(self.conflict_preview)]

    def count(self, kind: str) -> int:
        return self.kinds.get(kind, 0)
