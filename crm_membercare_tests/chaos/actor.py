"""The user-side actor: people editing both systems while the sync runs, through faulty APIs.

It knows exactly what it wrote despite the faults: idempotent writes (PATCH, PUT, DELETE) are retried by the
clients; every create carries a unique token (an email, an org number, a SKU, a note) and, when its outcome
is unknown, the record is looked up by that token before the create is tried again. Each successful write of
a tracked row (`expect.TRACKED_ROWS`, and B6's user fields) goes into the oracle's `WriteLog` with the time
it was sent and the change instant the system stamped on the record; each delete goes in with the
counterpart the actor could see; each problem it provokes on purpose (a reject, an ambiguous match) too.

A MemberCare edit is a read-modify-write PUT (the API has no partial update and no concurrency control): a
user PUT racing the sync's PUT of the same record would put back stale values, a lost update neither side
can prevent. So while a cycle runs the actor edits MemberCare only on *quiet* pairs, which the sync has no
reason to write in this cycle: linked at the last refresh, neither record written by the actor in this round
or the one before, and not an invoice (B6 rewrites invoices when a user changes); and it checks `lastChange`
again just before the PUT.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_membercare.systems import (
    CustomCrmClient,
    MemberCareClient,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    RetryableError,
)
from crm_membercare.systems.oslo_time import utc_to_local
from crm_membercare.systems.retry import RetryPolicy
from crm_membercare_tests.chaos import expect
from crm_membercare_tests.chaos.expect import CRM, MC, TRACKED_ROWS, USER_FIELDS, Row
from crm_membercare_tests.chaos.history import Removal, UserWrite, WriteLog
from crm_membercare_tests.golden import ENUM_ROWS

CRM_TOKEN = "sandbox-crm-token"
MC_API_KEY = "sandbox-membercare-key"
USER_RETRY = RetryPolicy(attempts=12, base_delay_s=0.05, max_delay_s=2.0)
CREATE_ATTEMPTS = 6
LOOKUP_WINDOW_S = 10

# flow -> (CRM resource, MemberCare resource, MemberCare id field)
FLOW_RESOURCES = {
    "contacts_persons": ("contacts", "persons", "debtorAccountNumber"),
    "customers_companies": ("customers", "companies", "debtorAccountNumber"),
    "products_products": ("products", "products", "id"),
    "orders_invoices": ("orders", "invoices", "id"),
    "quotes_invoices": ("quotes", "invoices", "id"),
}
DELETABLE_FLOWS = tuple(FLOW_RESOURCES)
PARTY_FLOWS = ("contacts_persons", "customers_companies", "products_products")
INVOICE_FLOWS = ("orders_invoices", "quotes_invoices")
FIRST_NAMES = ("Kari", "Ola", "Åse", "Bjørn", "Ingrid", "Per", "Sigrid", "Tor")
LAST_NAMES = ("Nordmann", "Hansen", "Lie", "Dahl", "Bakke", "Strand", "Moen", "Berg")
# Lifecycle-safe status writes (a status a MemberCare invoice cannot leave again would make later writes of
# the pair rejects): orders only draft <-> confirmed in the CRM (both Draft: B3's lossy row); quotes forward
# to sent / Sent on a draft.
STATUS_WRITES = {("orders_invoices", CRM): ("draft", "confirmed"), ("quotes_invoices", CRM): ("sent",),
                 ("quotes_invoices", MC): ("Sent",)}
FEW_VALUES = ("enum", "bool")  # row kinds whose values repeat: see `UserActor._settled`
EDITABLE_CRM_STATUS = {"orders_invoices": ("draft", "confirmed"), "quotes_invoices": ("draft",)}

# Operation menus: (kind, weight).
QUIET_MENU = (
    ("edit_crm", 20), ("edit_mc", 15), ("edit_both_sides", 8), ("edit_user", 4), ("create_crm", 8),
    ("create_mc", 8), ("create_family_crm", 4), ("create_family_mc", 4), ("create_order_crm", 3),
    ("delete_crm", 5), ("delete_mc", 5), ("delete_with_pending_change", 6),
)
DURING_CYCLE_MENU = (
    ("edit_crm", 34), ("edit_mc", 10), ("edit_user", 3), ("create_crm", 8), ("create_mc", 8),
    ("create_family_crm", 4), ("create_family_mc", 4), ("delete_crm", 3), ("delete_mc", 3),
)


@dataclass
class Catalog:
    """What the actor believes is live on each side, and the linked pairs it can see in the systems."""

    crm: dict[str, dict[Any, dict]] = field(default_factory=dict)
    mc: dict[str, dict[Any, dict]] = field(default_factory=dict)
    pairs: dict[str, list[tuple[Any, Any]]] = field(default_factory=dict)

    def side(self, side: str) -> dict[str, dict[Any, dict]]:
        return self.crm if side == CRM else self.mc

    def forget(self, side: str, resource: str, record_id: Any) -> None:
        self.side(side).get(resource, {}).pop(record_id, None)
        for flow, (crm_res, mc_res, _) in FLOW_RESOURCES.items():
            if (side == CRM and crm_res == resource) or (side == MC and mc_res == resource):
                index = 0 if side == CRM else 1
                self.pairs[flow] = [p for p in self.pairs.get(flow, []) if p[index] != record_id]

    def counterpart(self, flow: str, side: str, record_id: Any) -> Any | None:
        index, other = (0, 1) if side == CRM else (1, 0)
        return next((pair[other] for pair in self.pairs.get(flow, []) if pair[index] == record_id), None)

    def mc_of_flow(self, flow: str) -> dict[Any, dict]:
        records = self.mc.get(FLOW_RESOURCES[flow][1], {})
        invoice_type = expect.FLOWS[flow].invoice_type
        return records if invoice_type is None else \
            {i: r for i, r in records.items() if r.get("invoiceType") == invoice_type}


def mc_record_id(resource: str, record: dict) -> Any:
    return record["debtorAccountNumber"] if resource in ("persons", "companies") else record["id"]


def _mc_live(record: dict) -> bool:
    return not record.get("closeDate") and record.get("status") != "Credited"


class UserActor:
    def __init__(self, crm_url: str, mc_url: str, seed: int, log: WriteLog, *,
                 deletable_flows: tuple[str, ...] = DELETABLE_FLOWS, edit_new_during_cycle: bool = True) -> None:
        # `deletable_flows`: what this scenario deletes; `edit_new_during_cycle`: whether a CRM edit during a
        # cycle may hit a record not linked at the last refresh (racing the identity stamp of its new link).
        self.deletable_flows = deletable_flows
        self.edit_new_during_cycle = edit_new_during_cycle
        self.during_cycle = False
        self.rng = random.Random(seed)
        self.log = log
        self.token = f"chaos{seed}"
        self.crm = CustomCrmClient(crm_url, CRM_TOKEN, retry=USER_RETRY)
        self.mc = MemberCareClient(mc_url, MC_API_KEY, retry=USER_RETRY)
        self.catalog = Catalog()
        self.step = 0
        self.round = 0  # refreshes so far: a pair is quiet when untouched in this round and the one before
        self.touched: dict[tuple[str, Any], int] = {}  # (side, record id) -> the last round it was written
        self.skipped: dict[str, int] = {}
        self.deletes_done: dict[str, int] = {}
        self.hands_off: set[tuple[str, Any]] = set()  # (CRM resource, id) the actor must not touch again

    def close(self) -> None:
        self.crm.close()
        self.mc.close()

    # --- what is there -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read both systems (call it while no cycle runs) and rebuild the catalogue."""
        catalog = Catalog()
        for crm_res in {*(c for c, _, _ in FLOW_RESOURCES.values()), "users"}:
            catalog.crm[crm_res] = {r["id"]: r for page in self.crm.iter_changes(crm_res) for r in page.records
                                    if not r.get("archived")}
        for mc_res in {m for _, m, _ in FLOW_RESOURCES.values()}:
            catalog.mc[mc_res] = {mc_record_id(mc_res, r): r for page in self.mc.iter_changes(mc_res)
                                  for r in page.records if _mc_live(r)}
        for crm_res, records in catalog.crm.items():  # provoked on purpose: left as they are
            catalog.crm[crm_res] = {i: r for i, r in records.items() if (crm_res, i) not in self.hands_off}
        for flow, (crm_res, mc_res, _) in FLOW_RESOURCES.items():
            mc_by_stamp = {r.get("externalId"): i for i, r in catalog.mc[mc_res].items()}
            catalog.pairs[flow] = sorted(
                (crm_id, mc_by_stamp[f"customcrm:{crm_res}:{crm_id}"])
                for crm_id, record in catalog.crm[crm_res].items()
                if f"customcrm:{crm_res}:{crm_id}" in mc_by_stamp
                and record.get("external_ref") == f"membercare:{mc_res}:{mc_by_stamp[f'customcrm:{crm_res}:{crm_id}']}"
            )
        self.catalog = catalog
        self.round += 1

    # --- driving -------------------------------------------------------------------------------------
    def act(self, *, during_cycle: bool = False) -> str:
        """One random operation; returns its kind (counted in the log when it wrote something)."""
        menu = DURING_CYCLE_MENU if during_cycle else QUIET_MENU
        kind = self.rng.choices([k for k, _ in menu], weights=[w for _, w in menu])[0]
        self.step += 1
        self.during_cycle = during_cycle
        done = getattr(self, kind)()
        self.during_cycle = False
        if done:
            self.log.count(kind + ("_during_cycle" if during_cycle else ""))
        else:
            self.skipped[kind] = self.skipped.get(kind, 0) + 1
        return kind

    def _pick(self, records: dict) -> Any | None:
        ids = sorted(records, key=str)
        return self.rng.choice(ids) if ids else None

    def _text(self, key: str) -> str:
        words = FIRST_NAMES if key == "first_name" else LAST_NAMES
        return f"{self.rng.choice(words)} {self.token}-{self.step}-{self.rng.randrange(1000)}"

    def _value(self, row: Row, side: str) -> Any:
        """A new value a user would type for the row on that side."""
        if row.kind == "phone":
            digits = f"9{self.rng.randrange(10**7):07d}"
            return f"+47 {digits[:3]} {digits[3:5]} {digits[5:]}" if side == CRM else f"+47{digits}"
        if row.kind == "bool":
            return self.rng.random() < 0.5
        if row.kind == "number":
            return round(self.rng.uniform(10, 5000), 2)
        if (row.flow, side) in STATUS_WRITES and row.key == "status":
            return self.rng.choice(STATUS_WRITES[(row.flow, side)])
        if row.kind == "enum":
            enum = next(e for e in ENUM_ROWS if (e.flow, e.crm_field) == (row.flow, row.crm_field))
            return self.rng.choice([value for value, _ in (enum.to_mc if side == CRM else enum.to_crm)])
        return self._text(row.key)

    def _note(self, side: str, resource: str, record_id: Any, row: str, value: Any, at: float,
              record: dict | None = None) -> None:
        changed_at = None
        if record is not None:
            changed_at = expect.crm_instant(record["updated_at"]) if side == CRM else \
                expect.mc_instant(record["lastChange"])
        self.log.record(UserWrite(side, resource, str(record_id), row, value, at, self.step, changed_at))
        self.touched[(side, str(record_id))] = self.round

    def _rows(self, flow: str, side: str) -> list[Row]:
        """The tracked rows a user may write on that side (B3: no MemberCare status move of an order's invoice:
        a Sent invoice is locked for the order's later edits)."""
        rows = [r for r in TRACKED_ROWS if r.flow == flow]
        return [r for r in rows if not (r.key == "status" and (flow, side) not in STATUS_WRITES)]

    # --- which records a user may edit ---------------------------------------------------------------
    def _crm_candidates(self, flow: str) -> dict:
        resource = FLOW_RESOURCES[flow][0]
        candidates = self.catalog.crm.get(resource, {})
        if flow in INVOICE_FLOWS:  # a document whose invoice is still a Draft: anything else is locked
            candidates = {i: r for i, r in candidates.items() if self._document_editable(flow, i, r)}
        if self.during_cycle and not self.edit_new_during_cycle:
            linked = {crm_id for crm_id, _ in self.catalog.pairs.get(flow, [])}
            candidates = {i: r for i, r in candidates.items() if i in linked}
        return candidates

    def _document_editable(self, flow: str, crm_id: Any, record: dict) -> bool:
        if record.get("status") not in EDITABLE_CRM_STATUS[flow]:
            return False
        invoice_id = self.catalog.counterpart(flow, CRM, crm_id)
        return invoice_id is None or self.catalog.mc["invoices"].get(invoice_id, {}).get("status") == "Draft"

    def _mc_candidates(self, flow: str) -> dict:
        candidates = self.catalog.mc_of_flow(flow)
        if flow in INVOICE_FLOWS:  # only a Draft invoice is editable
            candidates = {i: r for i, r in candidates.items() if r.get("status") == "Draft"}
        if self.during_cycle:
            quiet = {mc_id for crm_id, mc_id in self.catalog.pairs.get(flow, []) if self._quiet(crm_id, mc_id)}
            candidates = {i: r for i, r in candidates.items() if i in quiet and flow not in INVOICE_FLOWS}
        return candidates

    def _quiet(self, crm_id: Any, mc_id: Any) -> bool:
        """Neither record written by the actor in this round or the one before: the sync has nothing to write."""
        return all(self.touched.get(key, -9) < self.round - 1 for key in ((CRM, str(crm_id)), (MC, str(mc_id))))

    # --- edits ---------------------------------------------------------------------------------------
    def edit_crm(self, flow: str | None = None, record_id: Any = None, row: Row | None = None,
                 settled: bool = False) -> bool:
        flow = flow or self.rng.choice(list(FLOW_RESOURCES))
        resource = FLOW_RESOURCES[flow][0]
        candidates = self._crm_candidates(flow)
        record_id = record_id if record_id is not None else self._pick(candidates)
        if record_id is None or record_id not in candidates:
            return False
        row = row or self.rng.choice(self._rows(flow, CRM))
        if row.kind in FEW_VALUES and not (settled or self._settled(flow, CRM, record_id)):
            return False
        value = self._value(row, CRM)
        if row.kind in FEW_VALUES:
            value = self._value_unlike(row, CRM, self.crm.find(resource, record_id) or {})
        return value is not None and self._patch_crm(resource, record_id, row.crm_field, value)

    def _patch_crm(self, resource: str, record_id: Any, field_name: str, value: Any) -> bool:
        at = time.time()
        try:
            record = self.crm.update(resource, record_id, {field_name: value})
        except PermanentError:
            return False  # archived meanwhile (by a user or by the sync): nothing was written
        except RetryableError:
            record = self.crm.get(resource, record_id)
            if record.get(field_name) != value:
                return False
        self._note(CRM, resource, record_id, field_name, value, at, record)
        return True

    def edit_mc(self, flow: str | None = None, record_id: Any = None, row: Row | None = None,
                settled: bool = False) -> bool:
        flow = flow or self.rng.choice(list(FLOW_RESOURCES))
        resource = FLOW_RESOURCES[flow][1]
        candidates = self._mc_candidates(flow)
        record_id = record_id if record_id is not None else self._pick(candidates)
        if record_id is None or record_id not in candidates:
            return False
        row = row or self.rng.choice(self._rows(flow, MC))
        if row.kind in FEW_VALUES and not (settled or self._settled(flow, MC, record_id)):
            return False
        value, at = self._value(row, MC), time.time()
        try:
            current = self.mc.get(resource, record_id)
            if not _mc_live(current) or not self._still_editable(flow, current):
                return False
            if row.kind in FEW_VALUES:
                value = self._value_unlike(row, MC, current)
            if value is None:
                return False
            if self.during_cycle and self.mc.get(resource, record_id)["lastChange"] != current["lastChange"]:
                return False  # someone (the sync) wrote it meanwhile: do not put stale values back
            record = self.mc.replace(resource, record_id, with_path(current, row.mc_path, value))
        except PermanentError:
            return False  # deleted, a locked invoice, a line whose product was deleted: nothing was written
        except RetryableError:
            record = self.mc.get(resource, record_id)
            if expect.read_mc(record, row.mc_path) != value:
                return False
        self._note(MC, resource, record_id, row.key, value, at, record)
        return True

    def _settled(self, flow: str, side: str, record_id: Any) -> bool:
        """A row with few values (an enum, a boolean) is written only on a pair the actor left alone for a round:
        its value is then the one both sides last agreed on, so a new value is a change the sync can see (a
        value put back to the agreed one before the sync looked is no change at all: the ABA a three-way merge
        cannot see, which unique text values never hit)."""
        other = self.catalog.counterpart(flow, side, record_id)
        crm_id, mc_id = (record_id, other) if side == CRM else (other, record_id)
        return self._quiet(crm_id, mc_id)

    def _value_unlike(self, row: Row, side: str, record: dict) -> Any | None:
        """A value of a few-valued row other than the record's current one (None when there is none)."""
        current = record.get(row.crm_field) if side == CRM else expect.read_mc(record, row.mc_path)
        for _ in range(8):
            value = self._value(row, side)
            if value != current:
                return value
        return None

    @staticmethod
    def _still_editable(flow: str, current: dict) -> bool:
        return flow not in INVOICE_FLOWS or current.get("status") == "Draft"

    def edit_both_sides(self) -> bool:
        """The same row of one linked pair edited on both sides between two cycles: a conflict."""
        flow = self.rng.choice(PARTY_FLOWS)
        pair = self._pick_pair(flow)
        if pair is None:
            return False
        row = self.rng.choice(self._rows(flow, MC))
        settled = self._quiet(*pair)  # judged before the first write touches the pair
        first, second = (self.edit_crm, self.edit_mc) if self.rng.random() < 0.5 else (self.edit_mc, self.edit_crm)
        ids = {self.edit_crm: pair[0], self.edit_mc: pair[1]}
        return first(flow, ids[first], row, settled) | second(flow, ids[second], row, settled)

    def edit_user(self, field_name: str | None = None) -> bool:
        """B6: a CRM user's name or email; the invoices of the orders and quotes they own must follow."""
        user_id = self._pick(self.catalog.crm.get("users", {}))
        if user_id is None:
            return False
        field_name = field_name or self.rng.choice(USER_FIELDS)
        value = f"{self.token}-{self.step}-{self.rng.randrange(10**6)}@example.com" if field_name == "email" \
            else self._text(field_name).replace(" ", "-")
        user = self.catalog.crm["users"][user_id]
        if not self._patch_crm("users", user_id, field_name, value):
            return False
        if field_name == "email":
            self._orphan_invoices_of(user["email"])
            self.log.replaced_emails.setdefault(user_id, set()).add((user["email"] or "").casefold())
        user[field_name] = value
        return True

    def _orphan_invoices_of(self, old_email: str | None) -> None:
        """B6: a MemberCare invoice signed with the email a user just lost, unlinked or of an order or quote with
        no owner, names no CRM user any more: a reject on purpose (docs/sync.md), until the email is fixed. (An
        owned one must be rewritten from its owner instead: not excused.)"""
        owned = {mc_id for flow in INVOICE_FLOWS for crm_id, mc_id in self.catalog.pairs.get(flow, [])
                 if self.catalog.crm[FLOW_RESOURCES[flow][0]].get(crm_id, {}).get("owner_id") is not None}
        orphans = [i for i, r in self.catalog.mc.get("invoices", {}).items() if i not in owned
                   and (r.get("ourReferenceEmail") or "").casefold() == (old_email or "").casefold()]
        if orphans:
            self.log.provoke("reject", "users_invoices", [(MC, i) for i in orphans], f"{old_email} left its user")

    def _pick_pair(self, flow: str) -> tuple[Any, Any] | None:
        pairs = self.catalog.pairs.get(flow, [])
        return self.rng.choice(pairs) if pairs else None

    # --- deletes -------------------------------------------------------------------------------------
    def _next_flow_to_delete(self, side: str) -> str:
        """Round robin over the deletable flows, per side: every flow sees deletes even in a short run."""
        self.deletes_done[side] = self.deletes_done.get(side, 0) + 1
        return self.deletable_flows[self.deletes_done[side] % len(self.deletable_flows)]

    def delete_crm(self, flow: str | None = None, record_id: Any = None) -> bool:
        flow = flow or self._next_flow_to_delete(CRM)
        resource = FLOW_RESOURCES[flow][0]
        record_id = record_id if record_id is not None else self._pick(self.catalog.crm.get(resource, {}))
        if record_id is None:
            return False
        counterpart = self.catalog.counterpart(flow, CRM, record_id)
        self.crm.archive(resource, record_id)  # archiving again is a 204: a retry is harmless
        self._removed(flow, CRM, record_id, counterpart)
        return True

    def delete_mc(self, flow: str | None = None, record_id: Any = None) -> bool:
        flow = flow or self._next_flow_to_delete(MC)
        resource = FLOW_RESOURCES[flow][1]
        record_id = record_id if record_id is not None else self._pick(self.catalog.mc_of_flow(flow))
        if record_id is None:
            return False
        counterpart = self.catalog.counterpart(flow, MC, record_id)
        how = self._remove_in_mc(flow, resource, record_id)
        if how is None:
            return False
        self._removed(flow, MC, record_id, counterpart, how)
        return True

    def _remove_in_mc(self, flow: str, resource: str, record_id: Any) -> str | None:
        """Close a debtor, hard-delete a product or a Draft invoice, credit a Sent or Paid one (A2)."""
        if flow not in INVOICE_FLOWS:
            try:
                self.mc.delete(resource, record_id)
            except NotFound:
                pass  # a product's hard delete whose answer was lost: the retry finds it gone
            return "delete"
        status = (self.mc.find(resource, record_id) or {}).get("status")
        if status == "Draft":
            try:
                self.mc.delete(resource, record_id)
            except NotFound:
                pass  # the answer was lost: the retry found it gone
            except PermanentError:
                return None  # it left Draft meanwhile (the sync sent it)
            return "delete"
        if status in ("Sent", "Paid") and self._settled(flow, MC, record_id) and self._credit(record_id):
            return "credit"  # only on a settled pair: a credit is final, a pending CRM status could not follow
        return None

    def _credit(self, invoice_id: Any) -> bool:
        """POST /credit is not idempotent: an unknown outcome is read back before it is tried again."""
        at = time.time()
        for _ in range(CREATE_ATTEMPTS):
            try:
                credited = self.mc.credit(invoice_id)
            except RetryableError:
                credited = self.mc.find("invoices", invoice_id)
                if credited is None or credited.get("status") != "Credited":
                    continue
            except PermanentError:
                return False
            self._note(MC, "invoices", invoice_id, "status", "Credited", at, credited)  # B3/B5: a status too
            return True
        return False

    def _removed(self, flow: str, side: str, record_id: Any, counterpart: Any, how: str = "delete") -> None:
        """Note the delete; a record other records still point at makes them rejects on purpose when it was
        never synced (its reference can never resolve) or is a product: MemberCare invoices must name existing
        products (A2), and the sync deletes a product no MemberCare invoice names yet (C9) while CRM orders not
        synced yet may still name it."""
        resource = FLOW_RESOURCES[flow][0 if side == CRM else 1]
        self.log.removals.append(Removal(flow, side, record_id, counterpart, self.step, how))
        if flow in PARTY_FLOWS and (counterpart is None or flow == "products_products"):
            self.log.provoke("dependents", flow, [(side, record_id)],
                             f"{resource} {record_id} deleted while others may point at it")
        self.catalog.forget(side, resource, record_id)
        self.touched[(side, str(record_id))] = self.round

    def edit_every_row(self) -> bool:
        """Scripted once per run: every tracked row written on each side that may write it, on a linked pair (the
        random operations may miss a row in a short run). Returns whether every row got a write."""
        written = set()
        for row in sorted(TRACKED_ROWS, key=lambda r: r.kind not in FEW_VALUES):  # those need untouched pairs
            for side, edit in ((CRM, self.edit_crm), (MC, self.edit_mc)):
                if row not in self._rows(row.flow, side):
                    continue
                self.step += 1
                editable = self._crm_candidates(row.flow) if side == CRM else self._mc_candidates(row.flow)
                ids = sorted((pair[0 if side == CRM else 1] for pair in self.catalog.pairs.get(row.flow, [])
                              if pair[0 if side == CRM else 1] in editable), key=str)
                for record_id in self.rng.sample(ids, min(4, len(ids))):  # a few tries: one may fail
                    if edit(row.flow, record_id, row):
                        written.add(row)
                        break
        users_edited = all([self.edit_user(field_name) for field_name in USER_FIELDS])
        self.log.count("edit_every_row")
        return len(written) == len(TRACKED_ROWS) and users_edited

    def delete_in_every_flow(self) -> bool:
        """Scripted once per run: in every deletable flow, one linked record deleted on each side (the random
        operations may miss a flow in a short run)."""
        done = False
        for flow in self.deletable_flows:
            self.step += 1
            pairs = self.catalog.pairs.get(flow, [])
            pairs = self.rng.sample(pairs, min(6, len(pairs)))
            if len(pairs) < 2:
                continue
            done = self.delete_crm(flow, pairs[0][0]) or done
            # a few tries in MemberCare: an invoice is credited only on a settled pair
            done = any(self.delete_mc(flow, mc_id) for _, mc_id in pairs[1:]) or done
        if done:
            self.log.count("delete_in_every_flow")
        return done

    def delete_with_pending_change(self) -> bool:
        """A linked record edited, then it or its counterpart deleted before the sync saw the edit."""
        flow = self.rng.choice(self.deletable_flows)
        pair = self._pick_pair(flow)
        if pair is None:
            return False
        crm_id, mc_id = pair
        edit_side = self.rng.choice((CRM, MC))
        edited = self.edit_crm(flow, crm_id) if edit_side == CRM else self.edit_mc(flow, mc_id)
        if self.rng.random() < 0.5:
            deleted = self.delete_crm(flow, crm_id)
        else:
            deleted = self.delete_mc(flow, mc_id)
        return edited or deleted

    # --- scripted: problems provoked on purpose ------------------------------------------------------------
    def provoke_problems(self) -> None:
        """Once per run, each problem the oracle may then excuse, and nothing else: references that can never
        resolve, an edit of an order whose invoice is locked, and two records sharing a match key."""
        self.orphan_children()
        self.edit_locked_order()
        self.create_ambiguous_contacts()

    def orphan_children(self) -> bool:
        """Delete a parent whose children still point at it: a linked contact's customer is archived and the
        contact edited (no reject: the ended link still translates); a new customer gets a contact, an order
        and a quote and is archived before any sync (each of those a reject: its reference never resolves)."""
        contacts = self.catalog.crm.get("contacts", {})
        linked = [crm_id for crm_id, _ in self.catalog.pairs.get("contacts_persons", [])
                  if contacts.get(crm_id, {}).get("customer_id") in self.catalog.crm.get("customers", {})]
        self.step += 1
        if linked:
            contact_id = self.rng.choice(sorted(linked))
            self.delete_crm("customers_companies", contacts[contact_id]["customer_id"])
            self.edit_crm("contacts_persons", contact_id, TRACKED_ROWS[0])
        customer = self._new_crm_customer()
        contact = customer and self._new_crm_contact(customer_id=customer["id"])
        if contact:
            self._new_crm_document("orders", contact["id"], "order_date")
            self._new_crm_document("quotes", contact["id"], "quote_date")
            self.delete_crm("customers_companies", customer["id"])
        self.log.count("orphan_children")
        return bool(linked and contact)

    def edit_locked_order(self) -> bool:
        """The notes of an order whose invoice is no longer a Draft: MemberCare refuses (locked), a reject."""
        orders = self.catalog.crm.get("orders", {})
        locked = [(crm_id, mc_id) for crm_id, mc_id in self.catalog.pairs.get("orders_invoices", [])
                  if self.catalog.mc["invoices"].get(mc_id, {}).get("status") in ("Sent", "Paid")
                  and crm_id in orders]
        self.step += 1
        if not locked:
            return False
        crm_id, mc_id = self.rng.choice(locked)
        row = expect.row("orders_invoices", "notes")
        if not self._patch_crm("orders", crm_id, "notes", self._value(row, CRM)):
            return False
        self.log.provoke("reject", "orders_invoices", [(CRM, crm_id), (MC, mc_id)], "notes of a locked invoice")
        self.log.count("edit_locked_order")
        return True

    def create_ambiguous_contacts(self) -> bool:
        """Two new CRM contacts with one email: B1's match key shared, so neither may be linked nor created."""
        self.step += 1
        email = f"{self.token}-twins-{self.rng.randrange(10**6)}@example.org"
        twins = [self._new_crm_contact(email=email) for _ in range(2)]
        if not all(twins):
            return False
        self.log.provoke("ambiguous", "contacts_persons", [(CRM, t["id"]) for t in twins], f"shared email {email}")
        for twin in twins:  # deleting or re-keying one would resolve the ambiguity
            self.hands_off.add(("contacts", twin["id"]))
            self.catalog.forget(CRM, "contacts", twin["id"])
        self.log.count("create_ambiguous_contacts")
        return True

    # --- creates -------------------------------------------------------------------------------------
    def create_crm(self) -> bool:
        kind = self.rng.choice(("contact", "customer", "product"))
        return getattr(self, f"_new_crm_{kind}")() is not None

    def create_mc(self) -> bool:
        kind = self.rng.choice(("person", "company", "product"))
        return getattr(self, f"_new_mc_{kind}")() is not None

    def create_family_crm(self) -> bool:
        """A customer and a contact of it, created together: the child exists before its parent is synced."""
        customer = self._new_crm_customer()
        return customer is not None and self._new_crm_contact(customer_id=customer["id"]) is not None

    def create_family_mc(self) -> bool:
        company = self._new_mc_company()
        return company is not None and self._new_mc_person(company_id=company["debtorAccountNumber"]) is not None

    def create_order_crm(self) -> bool:
        """A private order or quote for a contact created in the same step, with a line of a synced product."""
        contact = self._new_crm_contact()
        resource, date_field = self.rng.choice((("orders", "order_date"), ("quotes", "quote_date")))
        return contact is not None and self._new_crm_document(resource, contact["id"], date_field) is not None

    def _new_crm_document(self, resource: str, contact_id: int, date_field: str) -> dict | None:
        """A draft order or quote for a contact, with a line of a synced product (found by its line)."""
        products = [crm_id for crm_id, _ in self.catalog.pairs.get("products_products", [])
                    if crm_id in self.catalog.crm.get("products", {})]
        if not products:
            return None
        note = f"Dokument {self.token}-{self.step}-{resource}"
        body = {"contact_id": contact_id, date_field: datetime.now(UTC).date().isoformat(), "status": "draft",
                "currency": "NOK", "lines": [{"product_id": self.rng.choice(sorted(products)), "description": note,
                                              "quantity": 1, "unit_price": 100.0, "discount_percent": 0,
                                              "vat_rate": 25}]}
        if resource == "orders":
            body["notes"] = note
        tracked = {"notes": note} if resource == "orders" else {}
        return self._created(CRM, resource, body, lambda r: r["lines"] and r["lines"][0]["description"] == note,
                             tracked)

    def _new_crm_contact(self, customer_id: int | None = None, email: str | None = None) -> dict | None:
        email = email or f"{self.token}-{self.step}-{self.rng.randrange(10**6)}@example.org"
        first, last = self._text("first_name"), self._text("last_name")
        body = {"first_name": first, "last_name": last, "email": email, "customer_id": customer_id}
        return self._created(CRM, "contacts", body, lambda r: r.get("email") == email and r.get("first_name") == first,
                             {"first_name": first, "last_name": last})

    def _new_crm_customer(self) -> dict | None:
        org, name = self._org_number(), f"Firma {self.token}-{self.step}"
        body = {"name": name, "org_number": org, "customer_type": "company"}
        return self._created(CRM, "customers", body, lambda r: r.get("org_number") == org,
                             {"name": name, "customer_type": "company"})

    def _new_crm_product(self) -> dict | None:
        sku, name = f"CHAOS-{self.token}-{self.step}", f"Vare {self.token}-{self.step}"
        body = {"sku": sku, "name": name, "price": 99.5, "currency": "NOK", "vat_rate": 25, "unit": "pcs",
                "active": True}
        return self._created(CRM, "products", body, lambda r: r.get("sku") == sku,
                             {"name": name, "price": 99.5, "unit": "pcs"})

    def _new_mc_person(self, company_id: str | None = None) -> dict | None:
        email = f"{self.token}-{self.step}-{self.rng.randrange(10**6)}@example.net"
        first, last = self._text("first_name"), self._text("last_name")
        body = {"firstname": first, "lastname": last, "contacts": [{"contactType": "Email", "value": email}],
                "employments": [{"companyDebtorAccountNumber": company_id, "position": None}] if company_id else []}
        return self._created(MC, "persons", body, lambda r: any(c.get("value") == email for c in r["contacts"]),
                             {"first_name": first, "last_name": last})

    def _new_mc_company(self) -> dict | None:
        org, name = self._org_number(), f"Selskap {self.token}-{self.step}"
        body = {"companyName": name, "organizationNumber": org, "companyType": "Business"}
        return self._created(MC, "companies", body, lambda r: r.get("organizationNumber") == org,
                             {"name": name, "customer_type": "Business"})

    def _new_mc_product(self) -> dict | None:
        number, name = f"CHAOS-{self.token}-{self.step}", f"Produkt {self.token}-{self.step}"
        body = {"productNumber": number, "name": name, "price": 45.0, "currency": "NOK", "vatRate": 15,
                "unit": "Piece", "active": True}
        return self._created(MC, "products", body, lambda r: r.get("productNumber") == number,
                             {"name": name, "price": 45.0, "unit": "Piece"})

    def _org_number(self) -> str:
        return f"7{self.rng.randrange(10**8):08d}"

    def _created(self, side: str, resource: str, body: dict, is_it: Callable[[dict], bool],
                 tracked: dict[str, Any]) -> dict | None:
        """POST until the record exists exactly once: an unknown outcome is looked up by its token first.
        `tracked`: the tracked rows the body sets (row key -> the value as written on that side)."""
        client = self.crm if side == CRM else self.mc
        at = time.time()
        record = None
        for _ in range(CREATE_ATTEMPTS):
            try:
                record = client.create(resource, body)
                break
            except OutcomeUnknown:
                record = self._look_up(side, resource, is_it, at)
                if record is not None:
                    break
            except RetryableError:
                continue  # answered before the store was touched (a 429): nothing was created
        if record is None:
            return None
        record_id = record["id"] if side == CRM else mc_record_id(resource, record)
        self.catalog.side(side).setdefault(resource, {})[record_id] = record
        for row, value in tracked.items():
            self._note(side, resource, record_id, row, value, at, record)
        return record

    def _look_up(self, side: str, resource: str, is_it: Callable[[dict], bool], since: float) -> dict | None:
        start = datetime.fromtimestamp(since - LOOKUP_WINDOW_S, UTC)
        if side == CRM:
            pages = self.crm.iter_changes(resource, start.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        else:
            pages = self.mc.iter_changes(resource, utc_to_local(start - timedelta(seconds=1)))
        for page in pages:
            for record in page.records:
                if is_it(record):
                    return record
        return None


def with_path(record: dict, path: str, value: Any) -> dict:
    """The record with one MemberCare path set: a top-level field, or the value of the first contact of a type
    (added when there is none)."""
    if not path.startswith("contacts["):
        return {**record, path: value}
    contact_type = path[len("contacts["):path.index("]")]
    contacts = [dict(c) for c in record.get("contacts") or []]
    first = next((c for c in contacts if c.get("contactType") == contact_type), None)
    if first is None:
        contacts.append({"contactType": contact_type, "value": value})
    else:
        first["value"] = value
    return {**record, "contacts": contacts}
