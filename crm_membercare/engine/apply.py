"""The executor: carries out the outbox's operations over HTTP and records what happened (DESIGN C5-C8, C11).

HTTP runs on a bounded pool of worker threads; DuckDB is written only by the calling thread, one
transaction per batch: what a write returned, the link and its bases, and the outbox row's new status.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import duckdb

from crm_membercare.engine import invoice_lifecycle, outbox
from crm_membercare.engine.effects import BatchRecord, Effects, source_id, source_side
from crm_membercare.engine.identity import crm_identity, mc_identity
from crm_membercare.engine.links import LinkIndex
from crm_membercare.engine.operations import (
    CREATE,
    CRM_SIDE,
    DELETE,
    DIRECTIONS,
    MC_SIDE,
    TO_CRM,
    TO_MEMBERCARE,
    UPDATE,
    Operation,
    Reject,
)
from crm_membercare.engine.snapshot import WHOLE_FLOW_READ
from crm_membercare.engine.state import transaction
from crm_membercare.mapping.canonical import base_values, fields_agree
from crm_membercare.mapping.convert import apply_common_to_mc, common_to_crm_patch, crm_to_common, mc_to_common
from crm_membercare.mapping.flows import Flow
from crm_membercare.mapping.links import MappingContext
from crm_membercare.mapping.problems import MappingError, MappingRejected, UnresolvedReference
from crm_membercare.systems import (
    Conflict,
    CustomCrmClient,
    MemberCareClient,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    PreconditionFailed,
    RetryableError,
    SystemApiError,
)

BATCH = 256  # operations per transaction: the fixed cost of recording a batch is paid per 256 writes


@dataclass(frozen=True)
class ApplyCounts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    rejected: int = 0
    pending: int = 0


class Executor:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        crm: CustomCrmClient,
        mc: MemberCareClient,
        links: LinkIndex,
        ctx: MappingContext,
        *,
        cycle_id: int = 0,
        workers: int = 8,
        flows: tuple[Flow, ...],
    ) -> None:
        self.con, self.crm, self.mc, self.links, self.ctx = con, crm, mc, links, ctx
        self.cycle_id = cycle_id
        self.flows = flows  # the engine's: a record written back updates its match keys in each
        self.workers = workers

    # --- driving -----------------------------------------------------------------------------------
    def apply_flow(self, flow: Flow, directions: tuple[str, ...] = DIRECTIONS) -> dict[str, ApplyCounts]:
        """Apply the flow's pending operations in `directions`: creates first, then the rest; per direction,
        what was done and what is still open.

        Pipelined: while one batch is on the wire, the previous one is recorded in DuckDB, so the servers
        are not left idle while the state is written. Both directions go in the same batches, and a follow-up
        one queues (a stamp after a create on the other side) is taken in the same call.
        """
        direction = None if set(directions) >= {TO_MEMBERCARE, TO_CRM} else directions[0]
        counts = {d: {"created": 0, "updated": 0, "deleted": 0, "rejected": 0} for d in DIRECTIONS}
        if outbox.count_open(self.con, flow.name, direction) >= WHOLE_FLOW_READ:
            # Many writes: read the links they and their references need in one go, here on the owning
            # thread, rather than one query per miss from the workers.
            self.links.fetch_flows((flow.name, *flow.depends_on))
        with ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="apply") as pool:
            for phase in ((CREATE,), (UPDATE, DELETE)):
                last_id, in_flight = 0, None
                while True:
                    batch = outbox.pending(self.con, flow.name, kinds=phase, direction=direction,
                                           after_id=last_id, limit=BATCH)
                    submitted = None
                    if batch:
                        last_id = batch[-1].id
                        ops = [entry.operation for entry in batch]
                        self.links.fetch(flow.name, [op.crm_id for op in ops if op.crm_id is not None],
                                         [op.mc_id for op in ops if op.mc_id is not None])
                        with transaction(self.con):
                            outbox.mark_attempts(self.con, [e.id for e in batch])
                        submitted = (batch, [pool.submit(self._perform, flow, entry) for entry in batch])
                    if in_flight is not None:
                        done, futures = in_flight
                        results = [future.result() for future in futures]
                        with transaction(self.con):
                            self._record_batch(flow, done, results, counts)
                    if submitted is None and in_flight is None:
                        break
                    # After the last batch is recorded, look once more: recording it may have queued follow-ups.
                    in_flight = submitted
        return {d: ApplyCounts(**counts[d], pending=outbox.count_open(self.con, flow.name, d)) for d in directions}

    def _perform(self, flow: Flow, entry: outbox.OutboxEntry) -> Effects:
        op = entry.operation
        try:
            if op.kind == CREATE:
                return self._create(flow, op, looked_up_first=entry.attempts > 0)
            if op.kind == UPDATE:
                return self._update_mc(flow, op) if op.direction == TO_MEMBERCARE else self._update_crm(flow, op)
            return self._delete(flow, op)
        except UnresolvedReference as missing:
            return Effects("pending", f"waiting: {missing}")
        except MappingRejected as rejected:
            return Effects("rejected", str(rejected), rejects=[
                _reject(flow, op, p.field, p.reason, p.value) for p in rejected.problems])
        except invoice_lifecycle.InvalidTransition as invalid:
            return Effects("rejected", str(invalid), rejects=[_reject(flow, op, "status", str(invalid))])
        except RetryableError as error:
            return Effects("pending", str(error))
        except PermanentError as error:
            return self._refused(flow, op, error)

    def _refused(self, flow: Flow, op: Operation, error: PermanentError) -> Effects:
        side = CRM_SIDE if op.direction == TO_CRM else MC_SIDE
        target_id = op.crm_id if op.direction == TO_CRM else op.mc_id
        if isinstance(error, PreconditionFailed | NotFound) or (
            isinstance(error, Conflict) and op.direction == TO_CRM and op.kind == UPDATE
            and "archived" in (error.reason or "").lower()
        ):
            # The target moved under us: plan the pair again from what is there now.
            return Effects("dropped", str(error), dirty=[(side, target_id)])
        fields = [e.field for e in error.field_errors] or list(op.fields) or [""]
        return Effects("rejected", str(error), rejects=[_reject(flow, op, name, error.reason) for name in fields])

    # --- creates -------------------------------------------------------------------------------------
    def _create(self, flow: Flow, op: Operation, *, looked_up_first: bool) -> Effects:
        if op.direction == TO_MEMBERCARE:
            body = apply_common_to_mc(flow, op.values, None, self.ctx)
            body["externalId"] = op.stamp
            desired = body.get("status")
            record = self.mc.find_by_external_id(flow.mc_resource, op.stamp) if looked_up_first else None
            found = record is not None
            if record is None:
                if flow.mc_action_statuses:
                    body["status"] = invoice_lifecycle.creation_status(desired)
                record = self.mc.create(flow.mc_resource, body)
            # A create that stopped half-way through the invoice lifecycle is walked on from where it stands.
            record, failure = self._step_status(flow, record, desired)
            if failure is not None:
                raise failure
            mc_id = record[flow.mc_id_field]
            if found:
                # Found after an unknown outcome: it may hold a user's edit made since. The base is what we
                # wrote, and the record is planned again, so such an edit propagates instead of being absorbed.
                base_mc = self._mc_canonical(flow, {**record, **body}) or _fields(op.crm_values, flow.keys)
            else:
                base_mc = self._mc_canonical(flow, record) or _fields(op.crm_values, flow.keys)
            # The source is stamped only if it is still the version the create was made from (If-Match):
            # an edit made meanwhile makes the stamp fail and the record be planned again, not absorbed.
            stamp = Operation(flow.name, TO_CRM, UPDATE, flow.crm_resource, op.crm_id, mc_id,
                              based_on=op.based_on, stamp=mc_identity(flow.mc_resource, mc_id))
            return Effects("applied", mc_records=[record], new_link=(op.crm_id, mc_id, op.crm_values, base_mc),
                           follow_ups=[stamp], dirty=[(MC_SIDE, mc_id)] if found else [])
        body = {**common_to_crm_patch(flow, op.values), "external_ref": op.stamp}
        existing = self.crm.find_by_external_ref(flow.crm_resource, op.stamp) if looked_up_first else None
        record = existing or self.crm.create(flow.crm_resource, body)
        crm_values = crm_to_common(flow, record, self.ctx)
        # As above: a record found after an unknown outcome gets what we wrote as its base, and is planned again.
        base_crm = base_values(flow, crm_to_common(flow, {**record, **body}, self.ctx) if existing else crm_values)
        # Rows only the CRM decides (a server-assigned order number) go back with the identity stamp.
        assigned = tuple(row.key for row in flow.rows if row.direction == "to_membercare"
                         and not fields_agree(flow, row.key, crm_values.get(row.key), op.values.get(row.key)))
        stamp = Operation(flow.name, TO_MEMBERCARE, UPDATE, flow.mc_resource, record["id"], op.mc_id,
                          crm_values if assigned else {}, assigned, based_on=op.based_on,
                          stamp=crm_identity(flow.crm_resource, record["id"]),
                          crm_values=base_crm if assigned else None)
        return Effects("applied", crm_records=[record], new_link=(record["id"], op.mc_id, base_crm, op.mc_values),
                       follow_ups=[stamp], dirty=[(CRM_SIDE, record["id"])] if existing else [])

    # --- updates -------------------------------------------------------------------------------------
    def _update_mc(self, flow: Flow, op: Operation) -> Effects:
        current = self.mc.get(op.target_resource, op.mc_id)
        if op.based_on is not None and current.get("lastChange") != op.based_on:
            return Effects("dropped", "changed in MemberCare since planned; planned again", mc_records=[current],
                           dirty=[(MC_SIDE, op.mc_id)])
        body = apply_common_to_mc(flow, op.values, current, self.ctx, fields=op.fields) if op.fields else dict(current)
        if op.stamp:
            body["externalId"] = op.stamp
        desired = body.get("status")
        if flow.mc_action_statuses and desired != current.get("status"):
            plan = invoice_lifecycle.steps(current.get("status"), desired, dict(flow.mc_action_statuses))
            if plan and plan[0].kind == "delete":
                self.mc.delete(op.target_resource, op.mc_id)
                return Effects("applied", mc_gone=[(op.mc_id, "deleted")], end_link="draft invoice deleted")
            body["status"] = plan[0].status if plan and plan[0].kind == "put" else current.get("status")
        record = self.mc.replace(op.target_resource, op.mc_id, body)
        record, failure = self._step_status(flow, record, desired)
        if isinstance(failure, RetryableError):
            # Our first write is in; the retry must take it for ours, not for a user's edit.
            return Effects("pending", str(failure), mc_records=[record], rebased_on=record.get("lastChange"))
        if failure is not None:
            raise failure
        bases, not_taken = self._bases_after_mc_write(flow, op, record)
        # A written value MemberCare's record does not hold afterwards (a cleared first employment makes the
        # next one the first) is MemberCare's value now: planned again, it goes to the CRM.
        return Effects("applied", mc_records=[record], bases=bases, dirty=[(MC_SIDE, op.mc_id)] if not_taken else [])

    def _step_status(self, flow: Flow, record: dict, desired: str | None) -> tuple[dict, SystemApiError | None]:
        """Walk an invoice on to `desired` after a write left it short of it (one PUT or action a step).

        Returns the record as far as it got, and the error that stopped it (None when it arrived).
        """
        if not flow.mc_action_statuses:
            return record, None
        try:
            for step in invoice_lifecycle.steps(record.get("status"), desired, dict(flow.mc_action_statuses)):
                record_id = record[flow.mc_id_field]
                if step.kind == "put":
                    record = self.mc.replace(flow.mc_resource, record_id, {**record, "status": step.status})
                elif step.kind == "action":
                    record = self.mc.credit(record_id)
        except SystemApiError as error:
            return record, error
        return record, None

    def _update_crm(self, flow: Flow, op: Operation) -> Effects:
        if op.target_resource != flow.crm_resource:
            # A derived flow's owner move: a plain patch of the owned record (an order's owner_id).
            return Effects("applied", crm_records=[self.crm.update(op.target_resource, op.crm_id, dict(op.values))])
        patch = common_to_crm_patch(flow, op.values, fields=op.fields) if op.fields else {}
        if op.stamp:
            patch["external_ref"] = op.stamp
        if_match = int(op.based_on) if op.based_on is not None else None
        record = self.crm.update(op.target_resource, op.crm_id, patch, if_match=if_match)
        return Effects("applied", crm_records=[record], bases=self._bases_after_crm_write(flow, op, record))

    def _bases_after_mc_write(self, flow: Flow, op: Operation,
                              record: dict) -> tuple[tuple[dict, dict] | None, list[str]]:
        """The bases after a MemberCare write, and the written rows whose value the returned record does not
        hold. The base of such a row stays what was written, so the record's value counts as a MemberCare
        change next time it is planned, instead of a difference both bases explain away (drift for good)."""
        if not op.fields:
            return None, []
        written = self._mc_canonical(flow, record) or op.crm_values or {}
        base_mc = _fields(written, op.fields)
        not_taken = []
        try:
            returned = mc_to_common(flow, record, self.ctx)
        except MappingError:
            returned = None
        if returned is not None:
            not_taken = [key for key in op.fields
                         if not fields_agree(flow, key, op.values.get(key), returned.get(key))]
            for key in not_taken:
                base_mc[key] = (op.crm_values or {}).get(key)
        return (_fields(op.crm_values, op.fields), base_mc), not_taken

    def _bases_after_crm_write(self, flow: Flow, op: Operation, record: dict) -> tuple[dict, dict] | None:
        if not op.fields:
            return None
        try:
            written = base_values(flow, crm_to_common(flow, record, self.ctx))
        except MappingError:
            written = op.mc_values or {}
        return _fields(written, op.fields), _fields(op.mc_values, op.fields)

    def _mc_canonical(self, flow: Flow, record: dict) -> dict | None:
        try:
            return base_values(flow, mc_to_common(flow, record, self.ctx))
        except MappingError:
            return None

    # --- deletes -------------------------------------------------------------------------------------
    def _delete(self, flow: Flow, op: Operation) -> Effects:
        if op.direction == TO_CRM:
            self.crm.archive(op.target_resource, op.crm_id)
            return Effects("applied", crm_gone=[(op.crm_id, "archived")], end_link="archived in the CRM")
        if flow.mc_removal == "delete_draft_else_credit":
            current = self.mc.get(op.target_resource, op.mc_id)
            status = current.get("status")
            if status == "Draft":
                self.mc.delete(op.target_resource, op.mc_id)
                return Effects("applied", mc_gone=[(op.mc_id, "deleted")], end_link="draft invoice deleted")
            if status in ("Sent", "Paid"):
                return Effects("applied", mc_records=[self.mc.credit(op.mc_id)], end_link="invoice credited")
            return Effects("applied", end_link=f"invoice already {status}")
        if op.fields:
            return self._deactivate(flow, op)
        self.mc.delete(op.target_resource, op.mc_id)
        gone = "closed" if flow.mc_removal == "close" else "deleted"
        return Effects("applied", mc_gone=[(op.mc_id, gone)] if gone == "deleted" else [],
                       dirty=[(MC_SIDE, op.mc_id)] if gone == "closed" else [],
                       end_link=f"{gone} in MemberCare")

    def _deactivate(self, flow: Flow, op: Operation) -> Effects:
        """A removal planned as a deactivation (a record others still reference, DESIGN C9): the named rows
        written into the current record, compared with the version planned against as any update is."""
        current = self.mc.get(op.target_resource, op.mc_id)
        if op.based_on is not None and current.get("lastChange") != op.based_on:
            return Effects("dropped", "changed in MemberCare since planned; planned again", mc_records=[current],
                           dirty=[(MC_SIDE, op.mc_id)])
        body = apply_common_to_mc(flow, op.values, current, self.ctx, fields=op.fields)
        record = self.mc.replace(op.target_resource, op.mc_id, body)
        return Effects("applied", mc_records=[record], end_link="deactivated in MemberCare: still referenced")

    # --- recording -----------------------------------------------------------------------------------
    def _record_batch(self, flow: Flow, batch: list[outbox.OutboxEntry], results: list[Effects], counts: dict) -> None:
        recorded = BatchRecord()
        for entry, effects in zip(batch, results, strict=True):
            recorded.gather(flow, entry, effects, self.links, counts[entry.operation.direction])
        recorded.store(self.con, flow, self.cycle_id, self.flows)


def _fields(values: dict | None, keys) -> dict:
    return {k: (values or {}).get(k) for k in keys}


def _reject(flow: Flow, op: Operation, field_name: str, reason: str, value: Any = None) -> Reject:
    """A reject of the operation's source record; it names both records of the pair (DESIGN C11). A one-to-one
    flow's link names the other record; a derived flow's CRM record has many (a user, all the invoices of
    what they own), so there the reject is the MemberCare record's and its reason names the CRM record."""
    if flow.derived is None:
        return Reject(flow.name, source_side(op), source_id(op), field_name, reason, value)
    crm_resource = op.target_resource if op.direction == TO_CRM else flow.crm_resource
    return Reject(flow.name, MC_SIDE, op.mc_id, field_name, f"CustomCRM {crm_resource} {op.crm_id}: {reason}", value)


__all__ = ["ApplyCounts", "Executor", "OutcomeUnknown"]
