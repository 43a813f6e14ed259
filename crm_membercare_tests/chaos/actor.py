"""The user-side actor: people editing both systems while the sync runs, through faulty APIs.

It knows exactly what it wrote despite the faults: idempotent writes (PATCH, PUT, DELETE) are retried by the
clients; every create carries a unique token (an email, an org number, a SKU, a note) and, when its outcome
is unknown, the record is looked up by that token before the create is tried again. Each successful write of
a tracked row goes into the oracle's `WriteLog` with the time it was sent.

A MemberCare edit is a read-modify-write PUT (the API has no partial update and no concurrency control), so
the actor makes those only while no cycle runs: a user PUT racing the sync's PUT would overwrite the sync's
write with stale values, a lost update neither side can prevent. While a cycle runs it edits the CRM (PATCH),
creates and deletes on both sides.
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
from crm_membercare_tests.chaos.history import CRM, MC, TRACKED_ROWS, TrackedRow, UserWrite, WriteLog

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
}
DELETABLE_FLOWS = ("contacts_persons", "customers_companies", "products_products")
FIRST_NAMES = ("Kari", "Ola", "Åse", "Bjørn", "Ingrid", "Per", "Sigrid", "Tor")
LAST_NAMES = ("Nordmann", "Hansen", "Lie", "Dahl", "Bakke", "Strand", "Moen", "Berg")

# Operation menus: (kind, weight). While a cycle runs, no MemberCare PUT (see the module docstring).
QUIET_MENU = (
    ("edit_crm", 20), ("edit_mc", 15), ("edit_both_sides", 8), ("create_crm", 8), ("create_mc", 8),
    ("create_family_crm", 4), ("create_family_mc", 4), ("create_order_crm", 3), ("delete_crm", 4),
    ("delete_mc", 4), ("delete_with_pending_change", 6),
)
DURING_CYCLE_MENU = (
    ("edit_crm", 40), ("create_crm", 8), ("create_mc", 8), ("create_family_crm", 4), ("create_family_mc", 4),
    ("delete_crm", 3), ("delete_mc", 3),
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


def mc_record_id(resource: str, record: dict) -> Any:
    return record["debtorAccountNumber"] if resource in ("persons", "companies") else record["id"]


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
        self.skipped: dict[str, int] = {}

    def close(self) -> None:
        self.crm.close()
        self.mc.close()

    # --- what is there -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read both systems (call it while no cycle runs) and rebuild the catalogue."""
        catalog = Catalog()
        for crm_res, mc_res, _ in FLOW_RESOURCES.values():
            catalog.crm[crm_res] = {r["id"]: r for page in self.crm.iter_changes(crm_res) for r in page.records
                                    if not r.get("archived")}
            catalog.mc[mc_res] = {mc_record_id(mc_res, r): r for page in self.mc.iter_changes(mc_res)
                                  for r in page.records if not r.get("closeDate")}
        for flow, (crm_res, mc_res, _) in FLOW_RESOURCES.items():
            mc_by_stamp = {r.get("externalId"): i for i, r in catalog.mc[mc_res].items()}
            catalog.pairs[flow] = sorted(
                (crm_id, mc_by_stamp[f"customcrm:{crm_res}:{crm_id}"])
                for crm_id, record in catalog.crm[crm_res].items()
                if f"customcrm:{crm_res}:{crm_id}" in mc_by_stamp
                and record.get("external_ref") == f"membercare:{mc_res}:{mc_by_stamp[f'customcrm:{crm_res}:{crm_id}']}"
            )
        self.catalog = catalog

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

    def _value(self, row: TrackedRow) -> str:
        words = FIRST_NAMES if row.key == "first_name" else LAST_NAMES
        return f"{self.rng.choice(words)} {self.token}-{self.step}-{self.rng.randrange(1000)}"

    def _note(self, side: str, resource: str, record_id: Any, row: str, value: Any, at: float) -> None:
        self.log.record(UserWrite(side, resource, str(record_id), row, value, at, self.step))

    # --- edits ---------------------------------------------------------------------------------------
    def edit_crm(self, flow: str | None = None, record_id: Any = None, row: TrackedRow | None = None) -> bool:
        flow = flow or self.rng.choice(list(FLOW_RESOURCES))
        resource = FLOW_RESOURCES[flow][0]
        candidates = self.catalog.crm.get(resource, {})
        if self.during_cycle and not self.edit_new_during_cycle:
            linked = {crm_id for crm_id, _ in self.catalog.pairs.get(flow, [])}
            candidates = {i: r for i, r in candidates.items() if i in linked}
        record_id = record_id if record_id is not None else self._pick(candidates)
        if record_id is None:
            return False
        row = row or self.rng.choice([r for r in TRACKED_ROWS if r.flow == flow])
        value, at = self._value(row), time.time()
        try:
            self.crm.update(resource, record_id, {row.crm_field: value})
        except PermanentError:
            return False  # archived meanwhile (by a user or by the sync): nothing was written
        except RetryableError:
            if self.crm.get(resource, record_id).get(row.crm_field) != value:
                return False
        self._note(CRM, resource, record_id, row.key, value, at)
        return True

    def edit_mc(self, flow: str | None = None, record_id: Any = None, row: TrackedRow | None = None) -> bool:
        flow = flow or self.rng.choice(list(FLOW_RESOURCES))
        resource = FLOW_RESOURCES[flow][1]
        candidates = self.catalog.mc.get(resource, {})
        if flow == "orders_invoices":  # only a Draft invoice's text is editable; proformas are quotes'
            candidates = {i: r for i, r in candidates.items()
                          if r.get("invoiceType") == "Invoice" and r.get("status") == "Draft"}
        record_id = record_id if record_id is not None else self._pick(candidates)
        if record_id is None:
            return False
        row = row or self.rng.choice([r for r in TRACKED_ROWS if r.flow == flow])
        value, at = self._value(row), time.time()
        try:
            current = self.mc.get(resource, record_id)
            if current.get("closeDate"):
                return False
            self.mc.replace(resource, record_id, {**current, row.mc_field: value})
        except PermanentError:
            return False  # deleted, a locked invoice, a line whose product was deleted: nothing was written
        except RetryableError:
            if self.mc.get(resource, record_id).get(row.mc_field) != value:
                return False
        self._note(MC, resource, record_id, row.key, value, at)
        return True

    def edit_both_sides(self) -> bool:
        """The same row of one linked pair edited on both sides between two cycles: a conflict."""
        flow = self.rng.choice(list(DELETABLE_FLOWS))
        pair = self._pick_pair(flow)
        if pair is None:
            return False
        row = self.rng.choice([r for r in TRACKED_ROWS if r.flow == flow])
        first, second = (self.edit_crm, self.edit_mc) if self.rng.random() < 0.5 else (self.edit_mc, self.edit_crm)
        ids = {self.edit_crm: pair[0], self.edit_mc: pair[1]}
        return first(flow, ids[first], row) | second(flow, ids[second], row)

    def _pick_pair(self, flow: str) -> tuple[Any, Any] | None:
        pairs = self.catalog.pairs.get(flow, [])
        return self.rng.choice(pairs) if pairs else None

    # --- deletes -------------------------------------------------------------------------------------
    def delete_crm(self, flow: str | None = None, record_id: Any = None) -> bool:
        flow = flow or self.rng.choice(self.deletable_flows)
        resource = FLOW_RESOURCES[flow][0]
        record_id = record_id if record_id is not None else self._pick(self.catalog.crm.get(resource, {}))
        if record_id is None:
            return False
        self.crm.archive(resource, record_id)  # archiving again is a 204: a retry is harmless
        self.catalog.forget(CRM, resource, record_id)
        return True

    def delete_mc(self, flow: str | None = None, record_id: Any = None) -> bool:
        flow = flow or self.rng.choice(self.deletable_flows)
        resource = FLOW_RESOURCES[flow][1]
        record_id = record_id if record_id is not None else self._pick(self.catalog.mc.get(resource, {}))
        if record_id is None:
            return False
        try:
            self.mc.delete(resource, record_id)
        except NotFound:
            pass  # a product's hard delete whose answer was lost: the retry finds it gone
        self.catalog.forget(MC, resource, record_id)
        return True

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

    # --- scripted: references that can never resolve -------------------------------------------------------
    def orphan_children(self) -> bool:
        """Delete a parent whose children still point at it: a linked contact's customer is archived and the
        contact edited; a new customer gets a contact, an order and a quote and is archived before any sync.
        Every storm and crash run does this once, so the references it leaves behind are always exercised."""
        contacts = self.catalog.crm.get("contacts", {})
        linked = [crm_id for crm_id, _ in self.catalog.pairs.get("contacts_persons", [])
                  if contacts.get(crm_id, {}).get("customer_id") in self.catalog.crm.get("customers", {})]
        self.step += 1
        if linked:
            contact_id = self.rng.choice(sorted(linked))
            self.delete_crm("customers_companies", contacts[contact_id]["customer_id"])
            self.edit_crm("contacts_persons", contact_id)
        customer = self._new_crm_customer()
        contact = customer and self._new_crm_contact(customer_id=customer["id"])
        if contact:
            self._new_crm_document("orders", contact["id"], "order_date")
            self._new_crm_document("quotes", contact["id"], "quote_date")
            self.delete_crm("customers_companies", customer["id"])
        self.log.count("orphan_children")
        return bool(linked and contact)

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
        """A private order for a contact created in the same step, with a line of a synced product."""
        contact = self._new_crm_contact()
        return contact is not None and self._new_crm_document("orders", contact["id"], "order_date") is not None

    def _new_crm_document(self, resource: str, contact_id: int, date_field: str) -> dict | None:
        """A draft order or quote for a contact, with a line of a synced product (found by its note or line)."""
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

    def _new_crm_contact(self, customer_id: int | None = None) -> dict | None:
        email = f"{self.token}-{self.step}-{self.rng.randrange(10**6)}@example.org"
        first, last = self._value(TRACKED_ROWS[0]), self._value(TRACKED_ROWS[1])
        body = {"first_name": first, "last_name": last, "email": email, "customer_id": customer_id}
        return self._created(CRM, "contacts", body, lambda r: r.get("email") == email,
                             {"first_name": first, "last_name": last})

    def _new_crm_customer(self) -> dict | None:
        org, name = self._org_number(), f"Firma {self.token}-{self.step}"
        body = {"name": name, "org_number": org, "customer_type": "company"}
        return self._created(CRM, "customers", body, lambda r: r.get("org_number") == org, {"name": name})

    def _new_crm_product(self) -> dict | None:
        sku, name = f"CHAOS-{self.token}-{self.step}", f"Vare {self.token}-{self.step}"
        body = {"sku": sku, "name": name, "price": 99.5, "currency": "NOK", "vat_rate": 25, "unit": "pcs",
                "active": True}
        return self._created(CRM, "products", body, lambda r: r.get("sku") == sku, {"name": name})

    def _new_mc_person(self, company_id: str | None = None) -> dict | None:
        email = f"{self.token}-{self.step}-{self.rng.randrange(10**6)}@example.net"
        first, last = self._value(TRACKED_ROWS[0]), self._value(TRACKED_ROWS[1])
        body = {"firstname": first, "lastname": last, "contacts": [{"contactType": "Email", "value": email}],
                "employments": [{"companyDebtorAccountNumber": company_id, "position": None}] if company_id else []}
        return self._created(MC, "persons", body, lambda r: any(c.get("value") == email for c in r["contacts"]),
                             {"first_name": first, "last_name": last})

    def _new_mc_company(self) -> dict | None:
        org, name = self._org_number(), f"Selskap {self.token}-{self.step}"
        body = {"companyName": name, "organizationNumber": org, "companyType": "Business"}
        return self._created(MC, "companies", body, lambda r: r.get("organizationNumber") == org, {"name": name})

    def _new_mc_product(self) -> dict | None:
        number, name = f"CHAOS-{self.token}-{self.step}", f"Produkt {self.token}-{self.step}"
        body = {"productNumber": number, "name": name, "price": 45.0, "currency": "NOK", "vatRate": 15,
                "unit": "Piece", "active": True}
        return self._created(MC, "products", body, lambda r: r.get("productNumber") == number, {"name": name})

    def _org_number(self) -> str:
        return f"7{self.rng.randrange(10**8):08d}"

    def _created(self, side: str, resource: str, body: dict, is_it: Callable[[dict], bool],
                 tracked: dict[str, str]) -> dict | None:
        """POST until the record exists exactly once: an unknown outcome is looked up by its token first."""
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
            self._note(side, resource, record_id, row, value, at)
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
