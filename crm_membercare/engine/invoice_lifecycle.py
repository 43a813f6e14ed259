"""MemberCare's invoice lifecycle (DESIGN A3): which calls move an invoice from one status to another.

`Draft` -> `Sent` -> `Paid` by PUT, one step at a time; a status reached through an action endpoint
(`Credited`, by `/credit`) only from `Sent` or `Paid`; a `Draft` that should be credited is deleted instead.
"""

from __future__ import annotations

from dataclasses import dataclass

PUT_ORDER = ("Draft", "Sent", "Paid")
CREATABLE = ("Draft", "Sent")


class InvalidTransition(ValueError):
    pass


@dataclass(frozen=True)
class Step:
    kind: str  # 'put' | 'action' | 'delete'
    status: str | None = None
    action: str | None = None


def steps(current: str | None, desired: str | None, actions: dict[str, str]) -> list[Step]:
    """The calls that take an invoice from `current` to `desired` status (none when they are equal)."""
    if desired is None or desired == current:
        return []
    if desired in actions:
        if current == "Draft":
            return [Step("delete")]
        if current in PUT_ORDER:
            return [Step("action", desired, actions[desired])]
        raise InvalidTransition(f"cannot move an invoice from {current} to {desired}")
    if current in PUT_ORDER and desired in PUT_ORDER and PUT_ORDER.index(desired) > PUT_ORDER.index(current):
        return [Step("put", status) for status in PUT_ORDER[PUT_ORDER.index(current) + 1: PUT_ORDER.index(desired) + 1]]
    raise InvalidTransition(f"MemberCare cannot move an invoice from {current} back to {desired}")


def creation_status(desired: str | None) -> str | None:
    """The status to POST with: the furthest creatable status on the way to `desired`."""
    if desired is None or desired in CREATABLE:
        return desired
    return "Sent"
