"""What a write did, and a batch of them stored at once (the executor's bookkeeping, DESIGN C7, C11).

A worker thread turns one operation's HTTP work into `Effects`; the owning thread gathers a batch of them in a
`BatchRecord` and stores it in one transaction: the records read back, the links made, re-based or ended, the
rejects, the outbox outcomes, and the records to plan again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from crm_membercare.engine import outbox
from crm_membercare.engine.dirty import mark_dirty
from crm_membercare.engine.extract import flows_reading
from crm_membercare.engine.links import Link, LinkIndex, end_links, ended, merge_bases, save_links
from crm_membercare.engine.match_keys import store_gone, store_records
from crm_membercare.engine.operations import (
    CREATE,
    CRM_SIDE,
    DELETE,
    MC_SIDE,
    TO_CRM,
    TO_MEMBERCARE,
    UPDATE,
    Operation,
    Reject,
)
from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.engine.records import close_rejects, record_rejects
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.flows import Flow

COUNTED = {CREATE: "created", UPDATE: "updated", DELETE: "deleted"}


@dataclass
class Effects:
    """What one operation's HTTP work means for the state, applied by the calling thread."""

    status: str  # 'applied' | 'rejected' | 'pending' | 'dropped'
    reason: str | None = None
    crm_records: list[dict] = field(default_factory=list)
    mc_records: list[dict] = field(default_factory=list)
    crm_gone: list[tuple[int, str]] = field(default_factory=list)
    mc_gone: list[tuple[Any, str]] = field(default_factory=list)
    dirty: list[tuple[str, Any]] = field(default_factory=list)  # (side, record id) to plan again
    new_link: tuple[int, Any, dict, dict] | None = None
    bases: tuple[dict, dict] | None = None  # per-field updates of (base_crm, base_mc)
    end_link: str | None = None
    rejects: list[Reject] = field(default_factory=list)
    follow_ups: list[Operation] = field(default_factory=list)
    rebased_on: str | None = None  # the target's marker after our own partial write (see _update_mc)


def source_side(op: Operation) -> str:
    return CRM_SIDE if op.direction == TO_MEMBERCARE else MC_SIDE


def source_id(op: Operation) -> Any:
    return op.crm_id if op.direction == TO_MEMBERCARE else op.mc_id


@dataclass
class BatchRecord:
    """A batch's effects, gathered entry by entry and stored together."""

    crm_records: dict[str, list[dict]] = field(default_factory=dict)  # by CRM resource
    crm_gone: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    mc_records: list[dict] = field(default_factory=list)
    mc_deleted: list = field(default_factory=list)
    dirty: list[tuple[str, Any]] = field(default_factory=list)
    unconditional: list[tuple[str, str, Any]] = field(default_factory=list)  # (system, resource, id)
    new_links: list[tuple[Link, str]] = field(default_factory=list)
    rebased: list[tuple[Link, dict, dict]] = field(default_factory=list)
    ended_links: list[tuple[Link, str]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    settled: list[tuple[str, Any, tuple[str, ...] | None]] = field(default_factory=list)
    outcomes: list[tuple[int, str, str | None]] = field(default_factory=list)
    rebased_on: list[tuple[int, str]] = field(default_factory=list)
    follow_ups: list[Operation] = field(default_factory=list)

    def gather(self, flow: Flow, entry: outbox.OutboxEntry, effects: Effects, links: LinkIndex,
               counts: dict) -> None:
        """One entry's effects; the cycle's `links` are kept current at once (later entries ask them)."""
        op = entry.operation
        crm_resource = op.target_resource if op.direction == TO_CRM else flow.crm_resource
        self._records(flow, op, crm_resource, effects)
        self._links(flow, op, effects, links)
        self.rejects += effects.rejects
        self.outcomes.append((entry.id, effects.status, effects.reason))
        if effects.status == "applied" and (op.fields or op.kind == CREATE):
            self.settled.append((source_side(op), source_id(op), None if op.kind == CREATE else op.fields))
            if flow.derived is not None:
                self.settled.append((MC_SIDE, op.mc_id, None))  # its rejects name the MemberCare record
        if effects.rebased_on:
            self.rebased_on.append((entry.id, effects.rebased_on))
        self.follow_ups += effects.follow_ups
        if effects.status == "applied" and (op.fields or op.kind != UPDATE):
            counts[COUNTED[op.kind]] += 1
        counts["rejected"] += effects.status == "rejected"

    def _records(self, flow: Flow, op: Operation, crm_resource: str, effects: Effects) -> None:
        self.crm_records.setdefault(crm_resource, []).extend(effects.crm_records)
        if op.based_on is None and op.kind == UPDATE:
            # An unconditional write's answer may carry a user's concurrent edit: plan the record again
            # rather than take the stored copy for what the sync already knows.
            self.unconditional += [(Side.CRM, crm_resource, r["id"]) for r in effects.crm_records]
            self.unconditional += [(Side.MEMBERCARE, flow.mc_resource, r[flow.mc_id_field]) for r in effects.mc_records]
        self.crm_gone.setdefault(crm_resource, []).extend(effects.crm_gone)
        self.mc_records += effects.mc_records
        self.mc_deleted += [mc_id for mc_id, _ in effects.mc_gone]
        self.dirty += effects.dirty

    def _links(self, flow: Flow, op: Operation, effects: Effects, links: LinkIndex) -> None:
        if effects.new_link:
            crm_id, mc_id, base_crm, base_mc = effects.new_link
            link = Link(flow.name, crm_id, mc_id, "active", base_crm, base_mc)
            links.put(link)
            self.new_links.append((link, "create"))
        link = links.pair(flow.name, op.crm_id, op.mc_id) if op.crm_id is not None else None
        if effects.bases and link:
            self.rebased.append((link, *effects.bases))
        if effects.end_link and link:
            links.put(ended(link))
            self.ended_links.append((link, effects.end_link))

    def store(self, con: duckdb.DuckDBPyConnection, flow: Flow, cycle_id: int, flows: tuple[Flow, ...]) -> None:
        """Everything gathered, written to the state (inside the caller's transaction); `flows`: the engine's."""
        for resource, records in self.crm_records.items():
            store_records(con, _crm_table((flow, *flows), resource), records, flows)
        for resource, gone in self.crm_gone.items():
            for state in {s for _, s in gone}:
                store_gone(con, _crm_table((flow, *flows), resource), [i for i, s in gone if s == state], state, flows)
        store_records(con, flow.mc, self.mc_records, flows)
        store_gone(con, flow.mc, self.mc_deleted, "deleted", flows)
        for side in (CRM_SIDE, MC_SIDE):
            ids = [record_id for s, record_id in self.dirty if s == side]
            mark_dirty(con, [flow.name], side, ids, cycle_id)
        for system, resource, record_id in self.unconditional:
            mark_dirty(con, flows_reading(system, resource, flows), system, [record_id], cycle_id)
        save_links(con, self.new_links)
        merge_bases(con, self.rebased)
        end_links(con, self.ended_links)
        close_rejects(con, flow.name, self.settled)
        record_rejects(con, self.rejects, cycle_id)
        outbox.finish(con, self.outcomes)
        outbox.rebase(con, self.rebased_on)
        outbox.enqueue(con, self.follow_ups, cycle_id)


def _crm_table(flows: tuple[Flow, ...], resource: str) -> RawTable:
    """The raw table of a CRM resource a flow wrote (its own, or one its derived links go through)."""
    return next(f.crm for f in flows if f.crm_resource == resource)
