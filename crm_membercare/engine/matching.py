"""First sight: which unlinked records are the same record on the other side (DESIGN C2). Pure.

A record is linked by a corroborated identity claim (`external_ref` / `externalId`; see `plan`), else by
its flow's match rule when the key is unique among the live records of *both* sides. A key shared by several
records links nothing and creates nothing: it is reported for a person to resolve.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from crm_membercare.mapping.flows import MatchRule


@dataclass
class KeyIndex:
    """key -> ids, over the live records of one side, for a rule and its fallback."""

    primary: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    fallback: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    primary_of: dict[Any, str | None] = field(default_factory=dict)
    fallback_of: dict[Any, str | None] = field(default_factory=dict)

    def add(self, record_id: Any, primary: str | None, fallback: str | None) -> None:
        self.primary_of[record_id] = primary
        self.fallback_of[record_id] = fallback
        if primary:
            self.primary[primary].append(record_id)
        if fallback:
            self.fallback[fallback].append(record_id)


@dataclass(frozen=True)
class MatchOutcome:
    pairs: list[tuple[Any, Any]]  # (crm id, mc id)
    ambiguous: list[tuple[str, Any, str, tuple]]  # (side, id, key, candidates)
    unmatched_crm: list
    unmatched_mc: list


def match_unlinked(
    rule: MatchRule | None,
    unlinked_crm: Iterable,
    unlinked_mc: Iterable,
    crm_keys: KeyIndex,
    mc_keys: KeyIndex,
    linked_crm: set,
    linked_mc: set,
) -> MatchOutcome:
    """Pair unlinked records by the rule. `linked_crm` / `linked_mc` are the candidates that already have a
    counterpart; a record whose only candidate is one of them is reported, like a shared key."""
    matcher = _Matcher(crm_keys, mc_keys, linked_crm, linked_mc)
    unlinked_crm, unlinked_mc = list(unlinked_crm), list(unlinked_mc)
    for level in ("primary", "fallback"):
        if rule is None or (level == "fallback" and rule.fallback is None):
            continue
        for crm_id in unlinked_crm:
            if matcher.open("crm", crm_id):
                matcher.consider("crm", crm_id, level)
        for mc_id in unlinked_mc:
            if matcher.open("membercare", mc_id):
                matcher.consider("membercare", mc_id, level)
    return MatchOutcome(matcher.pairs, matcher.ambiguous, [i for i in unlinked_crm if matcher.open("crm", i)],
                        [i for i in unlinked_mc if matcher.open("membercare", i)])


class _Matcher:
    """One matching pass: the pairs found so far, and the records held back as ambiguous."""

    def __init__(self, crm_keys: KeyIndex, mc_keys: KeyIndex, linked_crm: set, linked_mc: set) -> None:
        self.keys = {"crm": (crm_keys, mc_keys), "membercare": (mc_keys, crm_keys)}
        self.linked = {"crm": linked_crm, "membercare": linked_mc}
        self.paired: dict[str, set] = {"crm": set(), "membercare": set()}
        self.blocked: dict[str, set] = {"crm": set(), "membercare": set()}
        self.pairs: list[tuple[Any, Any]] = []
        self.ambiguous: list[tuple[str, Any, str, tuple]] = []

    def open(self, side: str, record_id: Any) -> bool:
        return record_id not in self.paired[side] and record_id not in self.blocked[side]

    def consider(self, side: str, record_id: Any, level: str) -> None:
        own, other = self.keys[side]
        key = (own.primary_of if level == "primary" else own.fallback_of).get(record_id)
        if not key:
            return
        mine = (own.primary if level == "primary" else own.fallback).get(key, [])
        theirs = (other.primary if level == "primary" else other.fallback).get(key, [])
        has_primary = bool(own.primary_of.get(record_id))
        if level == "fallback":
            # The fallback applies where either record of the pair has no primary key.
            theirs = [t for t in theirs if not (has_primary and other.primary_of.get(t))]
        # The key the record is known by is shared on its own side: nothing is linked or created for it.
        # (A record that has a primary key is known by that; its fallback only looks for candidates.)
        shared_here = len(mine) > 1 and (level == "primary" or not has_primary)
        if not theirs and not shared_here:
            return
        if shared_here or len(theirs) > 1:
            self._hold(side, record_id, key, tuple(sorted(set(mine) | set(theirs), key=str)))
            return
        counterpart = theirs[0]
        crm_id, mc_id = (record_id, counterpart) if side == "crm" else (counterpart, record_id)
        if crm_id in self.linked["crm"] or mc_id in self.linked["membercare"] \
                or crm_id in self.paired["crm"] or mc_id in self.paired["membercare"]:
            # Its one candidate already belongs to another record: creating a twin would duplicate the key.
            self._hold(side, record_id, key, (counterpart,))
            return
        self.pairs.append((crm_id, mc_id))
        self.paired["crm"].add(crm_id)
        self.paired["membercare"].add(mc_id)

    def _hold(self, side: str, record_id: Any, key: str, candidates: tuple) -> None:
        self.ambiguous.append((side, record_id, key, candidates))
        self.blocked[side].add(record_id)
