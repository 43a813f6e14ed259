"""One side's walk through the seeded world: the draft behind every record of that side, in id order.

Each record's draft comes from its own stream: a shared record's from its ordinal (so both sides draw the same
draft), a side-only record's from its index on that side. The walk remembers what later resources reference:
who works where (orders pick a contact at their customer) and the products (lines copy name, price and VAT).
Resources must be walked in dependency order: organisations, people, products, then documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from crm_membercare.sandbox.seeding.catalog import Product, draw_product
from crm_membercare.sandbox.seeding.documents import Document, Parents, draw_document
from crm_membercare.sandbox.seeding.layout import Layout, Owner, Side, seed_offset, stream, unique_number
from crm_membercare.sandbox.seeding.parties import Organisation, Person, draw_organisation, draw_person, draw_users
from crm_membercare.sandbox.seeding.pools import Pools
from crm_membercare.sandbox.seeding.timeline import OSLO, epoch_ms

ORG_NUMBER_SPACE = 2_000_000
SKU_OFFSETS = 100_000


class SideWorld:
    def __init__(self, layout: Layout, side: Side, pools: Pools, now: datetime) -> None:
        self.layout, self.side, self.pools = layout, side, pools
        self.now_ms = epoch_ms(now)
        self.today = now.astimezone(OSLO).date()
        self.counts = layout.counts
        self.users = draw_users(layout.seed, pools, layout.counts.users, self.now_ms)
        self._org_offset = seed_offset(layout.seed, ORG_NUMBER_SPACE)
        self._sku_offset = seed_offset(layout.seed + 1, SKU_OFFSETS)
        self._employees: list[list[int]] = [[] for _ in range(layout.counts.customers)]
        self._shared_employees: list[list[int]] = [[] for _ in range(layout.pairs["customers"].shared)]
        self._products: list[Product] = []
        self._shared_products: list[Product | None] = [None] * layout.pairs["products"].shared
        self._parents: dict[Owner, Parents] = {}

    def slot(self, pair: str, index: int) -> tuple[Owner, int]:
        """Whose stream draws the record at `index` on this side, and its number there."""
        ordinal = self.layout.pairs[pair].ordinals[self.side][index]
        return ("shared", ordinal) if ordinal >= 0 else (self.side, index)

    def resolve(self, pair: str, owner: Owner, reference: int | None) -> int | None:
        """The index on this side of a parent that a record of `owner` references."""
        return None if reference is None else self.layout.pairs[pair].index_of(owner, reference, self.side)

    def organisations(self) -> Iterator[tuple[int, Owner, Organisation]]:
        for index in range(self.counts.customers):
            owner, number = self.slot("customers", index)
            rng = stream(self.layout.seed, "customers", owner, number)
            yield index, owner, draw_organisation(
                rng, self.pools, unique_number(owner, number), owner == "shared", self.counts.users,
                self._org_offset, self.now_ms,
            )

    def people(self) -> Iterator[tuple[int, Owner, Person]]:
        for index in range(self.counts.contacts):
            owner, number = self.slot("contacts", index)
            rng = stream(self.layout.seed, "contacts", owner, number)
            person = draw_person(
                rng, self.pools, unique_number(owner, number), owner == "shared",
                self.layout.size("customers", owner), self.counts.users, self.now_ms, self.today,
            )
            if person.employer is not None:
                self._employees[self.resolve("customers", owner, person.employer)].append(index)
                if owner == "shared":
                    self._shared_employees[person.employer].append(number)
            yield index, owner, person
        for staff in self._shared_employees:
            staff.sort()  # shared ordinals arrive in this side's order; both sides must see the same list

    def products(self) -> Iterator[tuple[int, Owner, Product]]:
        for index in range(self.counts.products):
            owner, number = self.slot("products", index)
            rng = stream(self.layout.seed, "products", owner, number)
            product = draw_product(rng, unique_number(owner, number), self._sku_offset, self.now_ms)
            self._products.append(product)
            if owner == "shared":
                self._shared_products[number] = product
            yield index, owner, product

    def document(self, is_quote: bool, index: int) -> tuple[Owner, int, Document]:
        pair = "quotes" if is_quote else "orders"
        owner, number = self.slot(pair, index)
        rng = stream(self.layout.seed, pair, owner, number)
        return owner, number, draw_document(rng, is_quote, self._parents_of(owner), self.pools, self.now_ms)

    def _parents_of(self, owner: Owner) -> Parents:
        if owner not in self._parents:
            shared = owner == "shared"
            self._parents[owner] = Parents(
                customers=self.layout.size("customers", owner),
                contacts=self.layout.size("contacts", owner),
                employees=self._shared_employees if shared else self._employees,
                products=self._shared_products if shared else self._products,
                users=self.counts.users,
            )
        return self._parents[owner]
