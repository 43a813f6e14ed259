"""Side-neutral drafts of orders and quotes (MemberCare: Invoice and Proforma invoices) with their lines."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from crm_membercare.sandbox.seeding.catalog import Product
from crm_membercare.sandbox.seeding.layout import below, between, pick
from crm_membercare.sandbox.seeding.pools import Pools
from crm_membercare.sandbox.seeding.timeline import Stamps, days_after, draw_stamps, oslo_date

DAY_MS = 24 * 3600 * 1000
# DESIGN B3 / B5, CRM -> MemberCare. A quote accepted in the CRM may show as Paid: the mapping back (Paid ->
# accepted) takes it onto the CRM's value, so the pair is in sync under the lossy rule.
ORDER_TO_INVOICE = {
    "draft": "Draft", "confirmed": "Draft", "invoiced": "Sent", "paid": "Paid", "cancelled": "Credited",
}
QUOTE_TO_PROFORMA = {
    "draft": "Draft", "sent": "Sent", "accepted": "Sent", "declined": "Credited", "expired": "Credited",
}
ORDER_STATUSES = ("draft", "confirmed", "invoiced", "paid", "cancelled")
QUOTE_STATUSES = ("draft", "sent", "accepted", "declined", "expired")
# Status weights by age: recent documents are still open, old ones settled.
ORDER_WEIGHTS = ((14, (25, 35, 30, 5, 5)), (60, (5, 10, 35, 40, 10)), (None, (2, 3, 10, 75, 10)))
QUOTE_WEIGHTS = ((30, (25, 50, 15, 10, 0)), (None, (5, 10, 40, 20, 25)))
LINE_COUNTS = (1, 1, 1, 2, 2, 2, 3, 3, 4, 5)
FREE_TEXT_LINES = (("Frakt", 99, 490), ("Reisekostnader", 250, 2500), ("Ekspedisjonsgebyr", 49, 99),
                   ("Materiell", 150, 1500))
NOTES = (
    "Levering innen fredag.", "Faktura sendes på e-post.", "Gjelder vårsemesteret.", "Avtalt pris, se tilbud.",
    "Kunden henter selv.", "Delfaktureres.", "Kontaktperson har fått bekreftelse.",
)


@dataclass(frozen=True, slots=True)
class Line:
    product: int | None  # product reference
    description: str
    quantity: int | float
    unit_price: float
    discount_percent: int
    vat_rate: int


@dataclass(frozen=True, slots=True)
class Document:
    is_quote: bool
    customer: int | None  # customer reference; None for a private order
    contact: int | None  # contact reference
    day: date
    due: date | None
    status: str  # CRM vocabulary
    accepted_shows_paid: bool
    lines: tuple[Line, ...]
    notes: str | None  # orders only (quotes have no notes in the CRM)
    owner: int | None  # user index
    stamps: Stamps
    # Only a MemberCare-only invoice shows these: the customer's PO number and who wrote it there (a user index:
    # the organisation's staff are the CRM's users).
    purchase_order: str | None
    staff: int | None

    @property
    def membercare_status(self) -> str:
        if self.is_quote:
            return "Paid" if self.status == "accepted" and self.accepted_shows_paid else QUOTE_TO_PROFORMA[self.status]
        return ORDER_TO_INVOICE[self.status]


@dataclass(frozen=True)
class Parents:
    """What a document may reference, in the drawing record's universe (shared ordinals or side indices)."""

    customers: int
    contacts: int
    employees: Sequence[Sequence[int]]  # by customer reference: the contacts working there
    products: Sequence[Product]
    users: int


def draw_document(rng: random.Random, is_quote: bool, parents: Parents, pools: Pools, now_ms: int) -> Document:
    customer = contact = None
    if parents.customers and (not parents.contacts or rng.random() < 0.7):
        customer = below(rng, parents.customers)
        staff_there = parents.employees[customer]
        if staff_there and rng.random() < 0.8:
            contact = pick(rng, staff_there)
    else:
        contact = below(rng, parents.contacts)
    stamps = draw_stamps(rng, now_ms)
    day = oslo_date(stamps.created_ms)
    age_days = (now_ms - stamps.created_ms) // DAY_MS
    status = _status(rng, QUOTE_WEIGHTS if is_quote else ORDER_WEIGHTS, QUOTE_STATUSES if is_quote else ORDER_STATUSES,
                     age_days)
    due = days_after(day, 30 if is_quote else pick(rng, (10, 14, 14, 30, 30))) if rng.random() < 0.9 else None
    lines = tuple(_line(rng, parents.products) for _ in range(pick(rng, LINE_COUNTS)))
    notes = pick(rng, NOTES) if not is_quote and rng.random() < 0.25 else None
    return Document(
        is_quote=is_quote,
        customer=customer,
        contact=contact,
        day=day,
        due=due,
        status=status,
        accepted_shows_paid=rng.random() < 0.3,
        lines=lines,
        notes=notes,
        owner=below(rng, parents.users) if parents.users and rng.random() < 0.95 else None,
        stamps=stamps,
        purchase_order=f"PO-{between(rng, 10000, 99999)}" if rng.random() < 0.4 else None,
        staff=below(rng, parents.users) if parents.users and rng.random() < 0.7 else None,
    )


def _status(rng: random.Random, weights: tuple, statuses: tuple[str, ...], age_days: int) -> str:
    for max_age, shares in weights:
        if max_age is None or age_days < max_age:
            return rng.choices(statuses, shares)[0]
    raise AssertionError("the last weight row has no age limit")


def _line(rng: random.Random, products: Sequence[Product]) -> Line:
    discount = pick(rng, (0, 0, 0, 0, 0, 0, 5, 10, 15, 20))
    if products and rng.random() < 0.92:
        index = below(rng, len(products))
        product = products[index]
        return Line(index, product.name, _quantity(rng, product.unit), product.price, discount, product.vat_rate)
    description, low, high = pick(rng, FREE_TEXT_LINES)
    return Line(None, description, 1, float(between(rng, low, high)), 0, 25)


def _quantity(rng: random.Random, unit: str) -> int | float:
    if unit == "hour":
        halves = between(rng, 2, 80)
        return halves // 2 if halves % 2 == 0 else halves / 2
    if unit == "month":
        return pick(rng, (1, 1, 3, 6, 12))
    if unit == "year":
        return pick(rng, (1, 1, 1, 2, 3))
    return between(rng, 1, 10) if rng.random() < 0.9 else between(rng, 11, 50)
