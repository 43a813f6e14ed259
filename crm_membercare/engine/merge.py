"""The three-way merge of one linked pair, field by field (DESIGN C3). Pure: no I/O.

Both sides' values are given in the mapping's common space, with a base per side: the values each side had
when the pair last agreed. A lossy row can agree while its two values differ (quote `accepted` vs proforma
`Paid`), so "changed" is always measured against that side's own base, and "equal" is the mapping's
judgement, not `==`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CRM, MEMBERCARE = "crm", "membercare"
POLICIES = ("newest", "crm", "membercare")

Equal = Callable[[str, Any, Any], bool]
Canonical = Callable[[str, Any], Any]


def _as_is(_field: str, value: Any) -> Any:
    return value


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


@dataclass(frozen=True)
class FieldConflict:
    field: str
    crm_value: Any
    membercare_value: Any
    base_value: Any
    winner: str  # "crm" | "membercare"
    policy: str


@dataclass(frozen=True)
class MergeResult:
    to_membercare: dict[str, Any] = field(default_factory=dict)  # common values to write to MemberCare
    to_crm: dict[str, Any] = field(default_factory=dict)  # common values to write to the CRM
    conflicts: tuple[FieldConflict, ...] = ()

    @property
    def is_noop(self) -> bool:
        return not self.to_membercare and not self.to_crm


def conflict_winner(policy: str, crm_changed_at: datetime | None, mc_changed_at: datetime | None) -> str:
    """'newest wins' by the records' change instants, ties (and unknowns) to the CRM; or a fixed side."""
    if policy == CRM or policy == MEMBERCARE:
        return policy
    if policy != "newest":
        raise ValueError(f"unknown conflict policy {policy!r}; expected one of {POLICIES}")
    if crm_changed_at is None or mc_changed_at is None:
        return CRM
    return MEMBERCARE if mc_changed_at > crm_changed_at else CRM


def merge_pair(
    fields: tuple[str, ...],
    crm_now: Mapping[str, Any],
    mc_now: Mapping[str, Any],
    base_crm: Mapping[str, Any] | None,
    base_mc: Mapping[str, Any] | None,
    *,
    equal: Equal,
    canonical: Canonical = _as_is,
    policy: str = "newest",
    crm_changed_at: datetime | None = None,
    mc_changed_at: datetime | None = None,
) -> MergeResult:
    """What to write where so that the pair agrees again.

    - one side changed since its base: that side's value propagates (a clear is a change like any other);
    - both changed, to values the mapping calls equal: nothing to do;
    - both changed to different values: a conflict; a filled value beats an empty one, otherwise the policy
      decides; either way the conflict is reported;
    - no base yet (first link): every differing field is treated as changed on both sides.

    Bases hold canonical values; `canonical(field, value)` puts a current value in that form.
    """
    to_mc: dict[str, Any] = {}
    to_crm: dict[str, Any] = {}
    conflicts: list[FieldConflict] = []
    winner_by_policy = conflict_winner(policy, crm_changed_at, mc_changed_at)
    for name in fields:
        c, m = crm_now.get(name), mc_now.get(name)
        if equal(name, c, m):
            continue
        crm_changed = base_crm is None or canonical(name, c) != base_crm.get(name)
        mc_changed = base_mc is None or canonical(name, m) != base_mc.get(name)
        if crm_changed and not mc_changed:
            to_mc[name] = c
        elif mc_changed and not crm_changed:
            to_crm[name] = m
        elif crm_changed and mc_changed:
            winner = _resolve(c, m, winner_by_policy)
            if winner == CRM:
                to_mc[name] = c
            else:
                to_crm[name] = m
            # A value filling an empty field on first sight is not a disagreement worth reporting.
            if not (base_crm is None and (is_empty(c) or is_empty(m))):
                base = None if base_crm is None else base_crm.get(name)
                conflicts.append(FieldConflict(name, c, m, base, winner, policy))
        # Neither changed but unequal: drift explained by a reject or lossy row; the checks report it.
    return MergeResult(to_mc, to_crm, tuple(conflicts))


def _resolve(crm_value: Any, mc_value: Any, winner_by_policy: str) -> str:
    if is_empty(crm_value) and not is_empty(mc_value):
        return MEMBERCARE
    if is_empty(mc_value) and not is_empty(crm_value):
        return CRM
    return winner_by_policy
