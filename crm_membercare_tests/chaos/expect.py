"""What the chaos oracle expects, written from the contract alone: DESIGN Part B's rows and `golden.py`'s tables.

Like `golden.py`, this module imports nothing from `crm_membercare`: a mapping mistake the engine makes the same
way in both directions (two enum values swapped, a phone sent to the wrong contact type) cannot hide behind
the engine's own mapping here. What is here:
- `FLOWS`: flow -> resources on each side, from Part B's headings;
- `ROWS`: per flow the property rows compared for convergence, each with its kind; `TRACKED_ROWS` the ones the
  actor writes, whose final values are judged against its write log;
- `read_mc`: a MemberCare path such as `contacts[Mobile].value` or `addresses[0].postalCode.city` read from a
  record (Part B: the first entry of that type, the first address);
- `mc_reading` / `crm_reading`: what a value written on one side must read as on the other;
- `in_sync`: a pair's row agrees (lossy rows: either direction's table takes one value onto the other);
- `match_key`: Part B's match rules computed from the records' own fields;
- `CONFLICT_POLICY`, `expected_winner`: Part C3's policy and who it makes win;
- `removed`: whether a record counts as deleted on its side (Part C9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm_membercare_tests.golden import ENUM_ROWS

CRM, MC = "crm", "membercare"
OSLO = ZoneInfo("Europe/Oslo")


@dataclass(frozen=True)
class FlowSides:
    crm_resource: str
    mc_resource: str
    invoice_type: str | None = None  # invoices of one type only (B3 "Invoice", B5 "Proforma")

    @property
    def mc_ids_are_numbers(self) -> bool:
        return self.mc_resource in ("products", "invoices")


FLOWS: dict[str, FlowSides] = {
    "customers_companies": FlowSides("customers", "companies"),
    "products_products": FlowSides("products", "products"),
    "contacts_persons": FlowSides("contacts", "persons"),
    "orders_invoices": FlowSides("orders", "invoices", "Invoice"),
    "quotes_invoices": FlowSides("quotes", "invoices", "Proforma"),
}
ONE_TO_ONE_FLOWS = tuple(FLOWS)  # B6 (users <-> invoices) is derived: judged by `our_reference`
# DESIGN C3: every flow "newest wins" unless configured; the chaos worlds configure nothing (docs/sync.md).
CONFLICT_POLICY: dict[str, str] = dict.fromkeys(FLOWS, "newest")
DELETE_POLICY: dict[str, str] = dict.fromkeys(FLOWS, "propagate")


@dataclass(frozen=True)
class Row:
    """One property row of Part B: the CRM field, the MemberCare path and how the two compare."""

    flow: str
    crm_field: str
    mc_path: str
    kind: str  # text | email | phone | digits | number | bool | enum | date | country | reference | title
    refers_to: str | None = None  # for kind "reference": the flow whose pairs translate the ids

    @property
    def key(self) -> str:
        return self.crm_field


def _address(flow: str) -> tuple[Row, ...]:
    return (Row(flow, "street", "addresses[0].street", "text"),
            Row(flow, "postal_code", "addresses[0].postalCode.zipCode", "text"),
            Row(flow, "city", "addresses[0].postalCode.city", "text"),
            Row(flow, "country", "addresses[0].country.id", "country"))


def _document(flow: str, number: str, date: str, until: str) -> tuple[Row, ...]:
    return (Row(flow, number, "orderReference", "text"), Row(flow, date, "invoiceDate", "date"),
            Row(flow, until, "payDueDate", "date"), Row(flow, "status", "status", "enum"),
            Row(flow, "currency", "currency", "text"))


ROWS: dict[str, tuple[Row, ...]] = {
    "contacts_persons": (
        Row("contacts_persons", "first_name", "firstname", "text"),
        Row("contacts_persons", "last_name", "lastname", "text"),
        Row("contacts_persons", "email", "contacts[Email].value", "email"),
        Row("contacts_persons", "phone", "contacts[Mobile].value", "phone"),
        Row("contacts_persons", "birth_date", "birthDate", "date"),
        *_address("contacts_persons"),
        Row("contacts_persons", "customer_id", "employments[0].companyDebtorAccountNumber", "reference",
            "customers_companies"),
        Row("contacts_persons", "title", "employments[0].position", "title"),
        Row("contacts_persons", "newsletter", "allowEmail", "bool"),
    ),
    "customers_companies": (
        Row("customers_companies", "name", "companyName", "text"),
        Row("customers_companies", "org_number", "organizationNumber", "digits"),
        Row("customers_companies", "email", "contacts[Email].value", "email"),
        Row("customers_companies", "phone", "contacts[Phone].value", "phone"),
        Row("customers_companies", "website", "url", "text"),
        *_address("customers_companies"),
        Row("customers_companies", "customer_type", "companyType", "enum"),
    ),
    "products_products": (
        Row("products_products", "sku", "productNumber", "text"),
        Row("products_products", "name", "name", "text"),
        Row("products_products", "description", "description", "text"),
        Row("products_products", "price", "price", "number"),
        Row("products_products", "currency", "currency", "text"),
        Row("products_products", "vat_rate", "vatRate", "number"),
        Row("products_products", "unit", "unit", "enum"),
        Row("products_products", "active", "active", "bool"),
    ),
    "orders_invoices": (*_document("orders_invoices", "order_number", "order_date", "due_date"),
                        Row("orders_invoices", "notes", "text", "text")),
    "quotes_invoices": _document("quotes_invoices", "quote_number", "quote_date", "valid_until"),
}


def row(flow: str, key: str) -> Row:
    return next(r for r in ROWS[flow] if r.key == key)


# The rows the actor writes (its write log is judged row by row): text, phone, enum and boolean rows.
TRACKED_ROWS: tuple[Row, ...] = tuple(row(flow, key) for flow, key in (
    ("contacts_persons", "first_name"), ("contacts_persons", "last_name"), ("contacts_persons", "phone"),
    ("contacts_persons", "newsletter"),
    ("customers_companies", "name"), ("customers_companies", "phone"), ("customers_companies", "customer_type"),
    ("products_products", "name"), ("products_products", "description"), ("products_products", "price"),
    ("products_products", "unit"),
    ("orders_invoices", "notes"), ("orders_invoices", "status"),
    ("quotes_invoices", "status"),
))
# B6: the CRM user fields the actor edits; a user is never written from MemberCare.
USER_FIELDS = ("first_name", "last_name", "email")


def tracked_rows(flow: str) -> tuple[Row, ...]:
    return tuple(r for r in TRACKED_ROWS if r.flow == flow)


# --- reading a MemberCare path --------------------------------------------------------------------------

_STEP = re.compile(r"^(\w+)(?:\[(\w+)\])?$")


def read_mc(record: dict | None, path: str) -> Any:
    """`contacts[Mobile].value`: the first contact of that type; `addresses[0].street`: the first address."""
    value: Any = record
    for step in path.split("."):
        name, index = _STEP.match(step).groups()
        value = value.get(name) if isinstance(value, dict) else None
        if index is not None:
            value = _pick(value or [], index)
        if value is None:
            return None
    return value


def _pick(items: list, index: str) -> Any:
    if index.isdigit():
        return items[int(index)] if int(index) < len(items) else None
    return next((item for item in items if item.get("contactType") == index), None)


# --- how a value written on one side must read on the other ------------------------------------------------

def _enum_table(flow: str, crm_field: str, direction: str) -> dict[Any, Any]:
    for enum in ENUM_ROWS:
        if (enum.flow, enum.crm_field) == (flow, crm_field):
            return dict(enum.to_mc if direction == "to_mc" else enum.to_crm)
    raise KeyError(f"no enum row {flow}.{crm_field} in golden.ENUM_ROWS")


def mc_reading(r: Row, crm_value: Any) -> Any:
    """What MemberCare must hold once a CRM value of this row reached it."""
    if r.kind == "enum":
        return _enum_table(r.flow, r.crm_field, "to_mc")[crm_value]
    if r.kind == "phone":
        return e164_of_international(crm_value)
    return crm_value


def crm_reading(r: Row, mc_value: Any) -> Any:
    """What the CRM must hold once a MemberCare value of this row reached it."""
    if r.kind == "enum":
        return _enum_table(r.flow, r.crm_field, "to_crm")[mc_value]
    return mc_value


def e164_of_international(typed: str | None) -> str | None:
    """A number typed with its "+<country code>" prefix, spaces and dashes anywhere: E.164 ("+4791234567")."""
    if typed is None:
        return None
    return "+" + re.sub(r"\D", "", typed)


def same_value(r: Row, a: Any, b: Any) -> bool:
    """Two values of the row on the same side are the same (what a user wrote and what is there now)."""
    if _empty(a) or _empty(b):
        return _empty(a) and _empty(b)
    if r.kind == "phone":
        return re.sub(r"\D", "", str(a)) == re.sub(r"\D", "", str(b))
    if r.kind == "number":
        return abs(float(a) - float(b)) < 0.005
    if r.kind == "email":
        return str(a).strip().casefold() == str(b).strip().casefold()
    return a == b


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


# --- whether a pair agrees -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Translation:
    """What the oracle knows besides the two records: the pairs each system's stamps name (flow -> {CRM id:
    MemberCare id}) and MemberCare's country ids (`GET /addresses/countries`: id -> ISO alpha-2)."""

    pairs: dict[str, dict[int, Any]]
    countries: dict[int, str]

    def mc_id(self, flow: str, crm_id: Any) -> Any:
        return None if crm_id is None else self.pairs.get(flow, {}).get(crm_id, ("unpaired", crm_id))


def row_in_sync(r: Row, crm: dict, mc: dict, known: Translation) -> bool:
    c, m = crm.get(r.crm_field), read_mc(mc, r.mc_path)
    if r.kind == "title":  # carried only when the contact has a customer (B1)
        return crm.get("customer_id") is None or same_value(r, c, m)
    if r.kind == "reference":
        return str(known.mc_id(r.refers_to, c)) == str(m) if c is not None else m is None
    if _empty(c) or _empty(m):
        return _empty(c) and _empty(m)
    if r.kind == "enum":  # lossy rows agree when either table takes one value onto the other
        return _enum_table(r.flow, r.crm_field, "to_mc").get(c) == m or \
            _enum_table(r.flow, r.crm_field, "to_crm").get(m) == c
    if r.kind == "date":
        return m == f"{c}T00:00:00"
    if r.kind == "country":
        return known.countries.get(m) == c
    if r.kind == "digits":
        return re.sub(r"\D", "", str(c)) == re.sub(r"\D", "", str(m))
    if r.kind == "phone":  # E.164 against the number as typed, national or international (lenient: suffix)
        national = re.sub(r"\D", "", str(c)).lstrip("0")
        return str(m).startswith("+") and re.sub(r"\D", "", str(m)).endswith(national) and len(national) >= 6
    return same_value(r, c, m)


def disagreeing_rows(flow: str, crm: dict, mc: dict, known: Translation) -> list[str]:
    wrong = [r.key for r in ROWS[flow] if not row_in_sync(r, crm, mc, known)]
    if FLOWS[flow].invoice_type is not None:
        wrong += _document_disagreements(flow, crm, mc, known)
    return wrong


def _document_disagreements(flow: str, crm: dict, mc: dict, known: Translation) -> list[str]:
    """B3/B5: the debtor (a customer's company, else the contact's person), the contact person, the lines."""
    wrong = []
    if mc.get("invoiceType") != FLOWS[flow].invoice_type:
        wrong.append("invoiceType")
    if crm.get("customer_id") is not None:
        debtor = known.mc_id("customers_companies", crm["customer_id"])
        contact_person = known.mc_id("contacts_persons", crm.get("contact_id"))
    else:
        debtor, contact_person = known.mc_id("contacts_persons", crm.get("contact_id")), None
    if str(debtor) != str(mc.get("debtorAccountNumber")):
        wrong.append("debtor")
    if str(contact_person) != str(mc.get("contactPersonDebtorAccountNumber")):
        wrong.append("contact person")
    if expected_items(crm.get("lines") or [], known) != _items(mc.get("invoiceItems") or []):
        wrong.append("lines")
    return wrong


def expected_items(lines: list[dict], known: Translation) -> list[tuple]:
    return [(None if line.get("product_id") is None else str(known.mc_id("products_products", line["product_id"])),
             line.get("description"), float(line["quantity"]), round(float(line["unit_price"]), 2),
             float(line["discount_percent"]), float(line["vat_rate"])) for line in lines]


def _items(items: list[dict]) -> list[tuple]:
    return [(None if item.get("productId") is None else str(item["productId"]), item.get("description"),
             float(item["quantity"]), round(float(item["unitPrice"]), 2), float(item["discountPercent"]),
             float(item["vatRate"])) for item in items]


# --- B6: an invoice's reference fields come from the order's or quote's owner --------------------------------

def our_reference(user: dict) -> tuple[str, str]:
    """(ourReference, ourReferenceEmail) of an invoice whose order or quote this CRM user owns."""
    return f"{user['first_name']} {user['last_name']}", user["email"]


# --- match keys (Part B, "Match:") ----------------------------------------------------------------------------

def match_key(flow: str, side: str, record: dict) -> str | None:
    """The record's match key for its first link, from its own fields; None when it has none."""
    get = (lambda field, path: record.get(field)) if side == CRM else (lambda field, path: read_mc(record, path))
    if flow == "contacts_persons":
        return _email_key(get("email", "contacts[Email].value"))
    if flow == "customers_companies":
        org = re.sub(r"\D", "", get("org_number", "organizationNumber") or "")
        return f"org {org}" if org else _email_key(get("email", "contacts[Email].value"))
    if flow == "products_products":
        return get("sku", "productNumber") or None
    number = "order_number" if flow == "orders_invoices" else "quote_number"
    return get(number, "orderReference") or None


def _email_key(email: str | None) -> str | None:
    return f"email {email.strip().casefold()}" if email and email.strip() else None


# --- conflicts (Part C3) ---------------------------------------------------------------------------------------

def expected_winner(policy: str, crm_changed_at: float, mc_changed_at: float) -> str:
    """The side a conflict must go to: "newest" by the records' change instants, a tie to the CRM."""
    if policy in (CRM, MC):
        return policy
    return MC if mc_changed_at > crm_changed_at else CRM


def crm_instant(updated_at: str) -> float:
    """CustomCRM's `updated_at` (RFC 3339 UTC, milliseconds) as epoch seconds."""
    return datetime.fromisoformat(updated_at.replace("Z", "+00:00")).timestamp()


def mc_instant(last_change: str) -> float:
    """MemberCare's `lastChange` (Oslo local time, seconds) as epoch seconds; the repeated autumn hour as its
    first occurrence (docs/sync.md)."""
    return datetime.fromisoformat(last_change).replace(tzinfo=OSLO, fold=0).astimezone(UTC).timestamp()


# --- deletes (Part C9) ------------------------------------------------------------------------------------------

# B3/B5: what a Credited invoice reads as in the CRM (an order or quote no longer in force).
CANCELLED = {"orders_invoices": ("cancelled",), "quotes_invoices": ("declined", "expired")}


def removed(side: str, flow: str, record: dict | None, *, link_ended: bool = False) -> bool:
    """Gone on its side: archived (or, for a document, cancelled) in the CRM; in MemberCare closed, deleted,
    credited, or a product deactivated in place of a delete (C9) when its link ended (an inactive product
    is otherwise just inactive, a synced row)."""
    if record is None:
        return True
    if side == CRM:
        return bool(record.get("archived")) or record.get("status") in CANCELLED.get(flow, ())
    if flow == "products_products":
        return link_ended and record.get("active") is False
    if FLOWS[flow].invoice_type is not None:
        return record.get("status") == "Credited"
    return bool(record.get("closeDate"))
