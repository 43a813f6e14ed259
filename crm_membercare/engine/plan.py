"""The planner: (CRM records, MemberCare records, links with their bases) -> operations. Pure: no I/O.

It sees the records that changed since the last cycle (and their counterparts) and decides, per flow:
links to make (by stamped identity or match rule), creates for records with no counterpart, merges for linked
pairs (DESIGN C3), deletes per the delete policy (C9), conflicts and rejects to record, and records that
must wait for a reference to be linked (C8). The executor (`apply`) carries the operations out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm_membercare.engine.identity import crm_identity, mc_identity
from crm_membercare.engine.links import LinkIndex, LinkView
from crm_membercare.engine.matching import KeyIndex, match_unlinked
from crm_membercare.engine.merge import merge_pair
from crm_membercare.engine.operations import (
    CREATE,
    CRM_SIDE,
    DELETE,
    MC_SIDE,
    TO_CRM,
    TO_MEMBERCARE,
    UPDATE,
    Ambiguous,
    Claim,
    FlowPlan,
    NewLink,
    Operation,
    Record,
    RecordedConflict,
    Reject,
    Waiting,
)
from crm_membercare.mapping.canonical import base_value, base_values, fields_agree
from crm_membercare.mapping.convert import crm_to_common, mc_to_common
from crm_membercare.mapping.flows import Flow
from crm_membercare.mapping.links import MappingContext
from crm_membercare.mapping.problems import MappingRejected, UnresolvedReference
from crm_membercare.mapping.validation import problems_for_crm, problems_for_membercare


@dataclass
class FlowInput:
    flow: Flow
    crm: dict[int, Record]  # the dirty CRM records and the counterparts of dirty MemberCare records
    mc: dict[Any, Record]
    dirty_crm: set
    dirty_mc: set
    links: LinkView | LinkIndex  # a view for the planner (no query); the derived planner's own index
    ctx: MappingContext
    crm_keys: KeyIndex = field(default_factory=KeyIndex)
    mc_keys: KeyIndex = field(default_factory=KeyIndex)
    conflict_policy: str | None = None
    delete_policy: str | None = None
    bases: dict = field(default_factory=dict)  # (crm id, mc id as text) -> (base_crm, base_mc)
    claims: list[Claim] = field(default_factory=list)  # stamped identities found on unlinked records
    mc_referenced: set = field(default_factory=set)  # MemberCare ids other records still reference (C9)


class _Planner:
    def __init__(self, given: FlowInput) -> None:
        self.given = given
        self.flow = given.flow
        self.plan = FlowPlan(given.flow.name)
        self.policy = given.conflict_policy or given.flow.conflict_policy
        self.delete_policy = given.delete_policy or given.flow.delete_policy

    # --- reading records into common values ------------------------------------------------------
    def read(self, side: str, record: Record) -> dict | None:
        """Common values of a record, or None after recording why it cannot be read now."""
        try:
            if side == CRM_SIDE:
                return crm_to_common(self.flow, record.raw, self.given.ctx)
            return mc_to_common(self.flow, record.raw, self.given.ctx)
        except UnresolvedReference as missing:
            self.plan.waiting.append(_waiting(self.flow.name, side, record.id, missing, side))
        except MappingRejected as rejected:
            for problem in rejected.problems:
                self.plan.rejects.append(
                    Reject(self.flow.name, side, record.id, problem.field, problem.reason, problem.value)
                )
        return None

    # --- the whole flow --------------------------------------------------------------------------
    def run(self) -> FlowPlan:
        links = self.given.links
        name = self.flow.name
        pairs: dict[tuple[int, Any], None] = {}
        unlinked_crm, unlinked_mc = [], []
        for crm_id in sorted(self.given.dirty_crm):
            link = links.by_crm(name, crm_id)
            if link:
                pairs[(link.crm_id, link.mc_id)] = None
            elif crm_id in self.given.crm:
                unlinked_crm.append(crm_id)
        for mc_id in sorted(self.given.dirty_mc, key=str):
            link = links.by_mc(name, mc_id)
            if link:
                pairs[(link.crm_id, link.mc_id)] = None
            elif mc_id in self.given.mc:
                unlinked_mc.append(mc_id)

        for crm_id, mc_id in pairs:
            link = links.by_crm(name, crm_id)
            if link.state == "active":
                self.plan_pair(crm_id, mc_id, *self.given.bases.get((crm_id, str(mc_id)), (None, None)))

        for crm_id, mc_id, linked_by in self.link_unlinked(unlinked_crm, unlinked_mc):
            self.plan.new_links.append(NewLink(name, crm_id, mc_id, linked_by))
            self.plan_pair(crm_id, mc_id, None, None)
        return self.plan

    # --- unlinked records: identity, match rule, create ----------------------------------------------
    def link_unlinked(self, unlinked_crm: list, unlinked_mc: list) -> list[tuple[int, Any, str]]:
        flow, given = self.flow, self.given
        found: list[tuple[int, Any, str]] = []
        taken_crm, taken_mc = set(), set()
        for claim in given.claims:
            crm_id, mc_id = claim.crm_id, claim.mc_id
            if crm_id in taken_crm or mc_id in taken_mc or crm_id not in given.crm or mc_id not in given.mc:
                continue
            crm_linked, mc_linked = given.links.by_crm(flow.name, crm_id), given.links.by_mc(flow.name, mc_id)
            if crm_linked and mc_linked:
                continue
            if not (crm_linked or mc_linked) and self.corroborated(claim):
                found.append((crm_id, mc_id, "external_id"))
                taken_crm.add(crm_id)
                taken_mc.add(mc_id)
                continue
            # Typed text naming a record: it links nothing, overwrites nothing, and the claiming record is
            # neither matched nor created until a person resolves it (as for a shared match key).
            for side, record_id, other, claims, linked in (
                (CRM_SIDE, crm_id, mc_id, claim.crm_claims, crm_linked),
                (MC_SIDE, mc_id, crm_id, claim.mc_claims, mc_linked),
            ):
                record = given.crm[record_id] if side == CRM_SIDE else given.mc[record_id]
                if claims and not linked and not record.gone:
                    self.plan.ambiguous.append(Ambiguous(flow.name, side, record_id, self.claim_reason(
                        side, record, other, taken=bool(crm_linked or mc_linked)), (other,)))
                    (taken_crm if side == CRM_SIDE else taken_mc).add(record_id)

        live_crm = [i for i in unlinked_crm if i not in taken_crm and not given.crm[i].gone]
        live_mc = [i for i in unlinked_mc if i not in taken_mc and not given.mc[i].gone]
        linked_crm = taken_crm | {i for i in given.crm_keys.primary_of if given.links.by_crm(flow.name, i)}
        linked_mc = taken_mc | {i for i in given.mc_keys.primary_of if given.links.by_mc(flow.name, i)}
        outcome = match_unlinked(flow.match, live_crm, live_mc, given.crm_keys, given.mc_keys, linked_crm, linked_mc)
        found += [(crm_id, mc_id, "match") for crm_id, mc_id in outcome.pairs]
        for side, record_id, key, candidates in outcome.ambiguous:
            self.plan.ambiguous.append(Ambiguous(flow.name, side, record_id, key, candidates))
        if flow.creates_records:
            for crm_id in outcome.unmatched_crm:
                if crm_id in given.crm and not given.links.by_crm(flow.name, crm_id):
                    self.plan_create(CRM_SIDE, given.crm[crm_id])
            for mc_id in outcome.unmatched_mc:
                if mc_id in given.mc and not given.links.by_mc(flow.name, mc_id):
                    self.plan_create(MC_SIDE, given.mc[mc_id])
        return found

    def corroborated(self, claim: Claim) -> bool:
        """A claim links when the claimed record claims back, the sync wrote the stamp itself, or the flow's
        match key (or its fallback) agrees on both records (DESIGN C2)."""
        if (claim.crm_claims and claim.mc_claims) or claim.written_by_sync:
            return True
        crm, mc = self.given.crm[claim.crm_id].raw, self.given.mc[claim.mc_id].raw
        rule = self.flow.match
        while rule is not None:
            key = rule.crm_key(crm)
            if key is not None and key == rule.mc_key(mc):
                return True
            rule = rule.fallback
        return False

    def claim_reason(self, side: str, record: Record, other: Any, *, taken: bool) -> str:
        flow = self.flow
        if side == CRM_SIDE:
            stamp, field_name = record.raw.get("external_ref"), "external_ref"
            claimed = f"MemberCare {flow.mc_resource} {other}"
        else:
            stamp, field_name = record.raw.get("externalId"), "externalId"
            claimed = f"CustomCRM {flow.crm_resource} {other}"
        if taken:
            return f"identity claim {field_name} {stamp!r}: {claimed} is already linked to another record"
        return (f"identity claim {field_name} {stamp!r} not corroborated: {claimed} does not claim it back, the "
                "sync did not write it, and the match key differs; correct or clear the claim")

    def plan_create(self, side: str, record: Record) -> None:
        flow = self.flow
        values = self.read(side, record)
        if values is None:
            return
        if side == CRM_SIDE:
            try:
                problems = problems_for_membercare(flow, values, None, self.given.ctx)
            except UnresolvedReference as missing:
                self.plan.waiting.append(_waiting(flow.name, side, record.id, missing, CRM_SIDE))
                return
            op = Operation(flow.name, TO_MEMBERCARE, CREATE, flow.mc_resource, record.id, None, values,
                           flow.keys, based_on=record.marker, stamp=crm_identity(flow.crm_resource, record.id),
                           crm_values=base_values(flow, values))
        else:
            problems = problems_for_crm(flow, values, partial=False)
            op = Operation(flow.name, TO_CRM, CREATE, flow.crm_resource, None, record.id, values, flow.keys,
                           based_on=record.marker, stamp=mc_identity(flow.mc_resource, record.id),
                           mc_values=base_values(flow, values))
        if problems:
            for problem in problems:
                self.plan.rejects.append(
                    Reject(flow.name, side, record.id, problem.field, problem.reason, problem.value)
                )
            return
        self.plan.operations.append(op)

    # --- linked pairs ----------------------------------------------------------------------------
    def plan_pair(self, crm_id: int, mc_id: Any, base_crm: dict | None, base_mc: dict | None) -> None:
        flow, given = self.flow, self.given
        crm, mc = given.crm.get(crm_id), given.mc.get(mc_id)
        if crm is None or mc is None:
            return  # its counterpart is not extracted yet
        if crm.gone or mc.gone:
            self.plan_removal(crm, mc)
            return
        crm_values, mc_values = self.read(CRM_SIDE, crm), self.read(MC_SIDE, mc)
        if crm_values is None or mc_values is None:
            return
        result = merge_pair(
            flow.keys, crm_values, mc_values, base_crm, base_mc,
            equal=lambda key, c, m: fields_agree(flow, key, c, m),
            canonical=lambda key, value: base_value(flow.row(key), value),
            policy=self.policy, crm_changed_at=crm.changed_at, mc_changed_at=mc.changed_at,
        )
        to_mc, to_crm = dict(result.to_membercare), dict(result.to_crm)
        # One-way rows: the source side's value is re-asserted whichever side moved.
        for row in flow.rows:
            if row.direction == "to_membercare" and row.key in to_crm:
                to_crm.pop(row.key)
                to_mc[row.key] = crm_values[row.key]
            elif row.direction == "to_crm" and row.key in to_mc:
                to_mc.pop(row.key)
                to_crm[row.key] = mc_values[row.key]
        for conflict in result.conflicts:
            self.plan.conflicts.append(RecordedConflict(flow.name, crm_id, mc_id, conflict))

        # Fields still to write are not agreed, whether they go out now, wait for a reference or are refused.
        agreed = {k for k in flow.keys if k not in to_mc and k not in to_crm}
        to_mc = self.valid_fields(MC_SIDE, mc, crm_values, to_mc)
        to_crm = self.valid_fields(CRM_SIDE, crm, mc_values, to_crm)
        crm_canon, mc_canon = base_values(flow, crm_values), base_values(flow, mc_values)
        stamp_mc = crm_identity(flow.crm_resource, crm_id)
        stamp_crm = mc_identity(flow.mc_resource, mc_id)
        needs_mc_stamp = flow.derived is None and mc.raw.get("externalId") != stamp_mc
        needs_crm_stamp = flow.derived is None and crm.raw.get("external_ref") != stamp_crm
        if to_mc or needs_mc_stamp:
            self.plan.operations.append(Operation(
                flow.name, TO_MEMBERCARE, UPDATE, flow.mc_resource, crm_id, mc_id, crm_values, tuple(to_mc),
                based_on=mc.marker, stamp=stamp_mc if needs_mc_stamp else None,
                crm_values=crm_canon, mc_values=mc_canon))
        if to_crm or needs_crm_stamp:
            self.plan.operations.append(Operation(
                flow.name, TO_CRM, UPDATE, flow.crm_resource, crm_id, mc_id, mc_values, tuple(to_crm),
                based_on=crm.marker, stamp=stamp_crm if needs_crm_stamp else None,
                crm_values=crm_canon, mc_values=mc_canon))
        self.plan.settled += [(CRM_SIDE, crm_id, tuple(agreed)), (MC_SIDE, mc_id, tuple(agreed))]
        new_crm = {**(base_crm or {}), **{k: crm_canon[k] for k in agreed}}
        new_mc = {**(base_mc or {}), **{k: mc_canon[k] for k in agreed}}
        if new_crm != base_crm or new_mc != base_mc:
            self.plan.bases.append((crm_id, mc_id, new_crm, new_mc))

    def valid_fields(self, target: str, record: Record, values: dict, fields: dict) -> dict:
        """Drop the fields the target would reject, recording each as a reject of the source record."""
        if not fields:
            return fields
        flow = self.flow
        if target == MC_SIDE:
            source_side, source_id = CRM_SIDE, self._counterpart_crm(record)
            try:
                problems = problems_for_membercare(flow, values, record.raw, self.given.ctx, fields=list(fields))
            except UnresolvedReference as missing:
                # The reference's record is not linked yet: hold these fields back, plan them again later.
                self.plan.waiting.append(_waiting(flow.name, source_side, source_id, missing, CRM_SIDE))
                return {}
        else:
            problems = problems_for_crm(flow, values, fields=list(fields))
            source_side, source_id = MC_SIDE, self._counterpart_mc(record)
        bad = set()
        for problem in problems:
            key = problem.field.split("[", 1)[0].split(".", 1)[0]
            bad.add(key if key in fields else problem.field)
            self.plan.rejects.append(
                Reject(flow.name, source_side, source_id, problem.field, problem.reason, problem.value)
            )
        return {k: v for k, v in fields.items() if k not in bad and not any(b.startswith(k) for b in bad)}

    def _counterpart_crm(self, mc_record: Record) -> Any:
        link = self.given.links.by_mc(self.flow.name, mc_record.id)
        return link.crm_id if link else None

    def _counterpart_mc(self, crm_record: Record) -> Any:
        link = self.given.links.by_crm(self.flow.name, crm_record.id)
        return link.mc_id if link else None

    # --- deletes ---------------------------------------------------------------------------------
    def plan_removal(self, crm: Record, mc: Record) -> None:
        flow = self.flow
        if crm.gone and mc.gone:
            self.plan.ended_links.append((crm.id, mc.id, f"both removed ({crm.gone}, {mc.gone})"))
            return
        policy = self.delete_policy
        if policy == "ignore":
            return
        if policy == "unlink":
            self.plan.ended_links.append((crm.id, mc.id, "unlinked by delete policy"))
            return
        if crm.gone:
            if flow.mc_removal == "none":
                self.plan.ended_links.append((crm.id, mc.id, f"crm record {crm.gone}"))
                return
            kept = flow.mc_kept_while_referenced
            if kept is not None and mc.id in self.given.mc_referenced:
                # Still referenced (a product on invoices): deactivated, since a delete would break them.
                self.plan.operations.append(Operation(
                    flow.name, TO_MEMBERCARE, DELETE, flow.mc_resource, crm.id, mc.id, {kept.row: False},
                    (kept.row,), based_on=mc.marker))
                return
            self.plan.operations.append(Operation(
                flow.name, TO_MEMBERCARE, DELETE, flow.mc_resource, crm.id, mc.id, based_on=mc.marker))
        else:
            self.plan.operations.append(Operation(
                flow.name, TO_CRM, DELETE, flow.crm_resource, crm.id, mc.id, based_on=crm.marker))


def _waiting(flow: str, side: str, record_id: Any, missing: UnresolvedReference, reference_side: str) -> Waiting:
    """`reference_side`: where the referenced id comes from (a MemberCare record read names MemberCare ids;
    a CRM record's values, CRM ids)."""
    reason = f"waits for {missing.through} record {missing.record_id} to be linked (it is not synced yet)"
    return Waiting(flow, side, record_id, missing.field, reason, missing.through, missing.record_id, reference_side)


def plan_flow(given: FlowInput) -> FlowPlan:
    """Everything one flow needs to do for the records that changed."""
    return _Planner(given).run()
