"""Seeding two systems *as an earlier sync left them*: every shared record carries its counterpart's identity.

With `stamped`, a shared record gets the identity the sync stamps on linked records (`engine/identity.py`):
a CRM record `external_ref = "membercare:<resource>:<id>"`, a MemberCare record `externalId =
"customcrm:<resource>:<id>"`. Both sides are seeded independently, so the counterpart's id is computed from the
layout (where each shared record sits on each side) and each side's id scheme. Seeded with overlap 1.0 this
is a large installation already in sync: a first cycle relinks it from the stamps without a write, and the
incremental cycle can be measured at a scale whose real first sync takes hours (bench `--stamped`).
"""

from __future__ import annotations

from collections.abc import Iterator

from crm_membercare.sandbox.seeding.layout import Layout, Side
from crm_membercare.sandbox.seeding.membercare import FIRST_DEBTOR, interleaved

# resource on each side -> (layout pair, the other side's resource)
CRM_PAIRS = {"customers": ("customers", "companies"), "contacts": ("contacts", "persons"),
             "products": ("products", "products"), "orders": ("orders", "invoices"), "quotes": ("quotes", "invoices")}
MC_PAIRS = {"companies": ("customers", "customers"), "persons": ("contacts", "contacts"),
            "products": ("products", "products")}


class _Ids:
    """Index on a side <-> id on that side, per layout pair."""

    def __init__(self, layout: Layout) -> None:
        counts = layout.counts
        self.customers = counts.customers
        order = list(interleaved(counts.orders, counts.quotes))
        self.invoice_of = {slot: position + 1 for position, slot in enumerate(order)}
        self.slot_of_invoice = {position + 1: slot for position, slot in enumerate(order)}

    def mc_id(self, pair: str, index: int) -> int | str:
        if pair == "customers":
            return str(FIRST_DEBTOR + index)
        if pair == "contacts":
            return str(FIRST_DEBTOR + self.customers + index)
        if pair in ("orders", "quotes"):
            return self.invoice_of[(pair == "quotes", index)]
        return index + 1

    def mc_index(self, resource: str, record: dict) -> tuple[str, int]:
        if resource == "invoices":
            is_quote, index = self.slot_of_invoice[record["id"]]
            return ("quotes" if is_quote else "orders"), index
        pair = MC_PAIRS[resource][0]
        if pair == "customers":
            return pair, int(record["debtorAccountNumber"]) - FIRST_DEBTOR
        if pair == "contacts":
            return pair, int(record["debtorAccountNumber"]) - FIRST_DEBTOR - self.customers
        return pair, record["id"] - 1


def stamp_shared(system: Side, layout: Layout, records: Iterator[tuple[str, dict]]) -> Iterator[tuple[str, dict]]:
    """The records, each shared one carrying its counterpart's identity."""
    ids = _Ids(layout)
    other: Side = "membercare" if system == "customcrm" else "customcrm"
    for resource, record in records:
        if system == "customcrm" and resource in CRM_PAIRS:
            pair, mc_resource = CRM_PAIRS[resource]
            ordinal = layout.pairs[pair].ordinals[system][record["id"] - 1]
            if ordinal >= 0:
                counterpart = ids.mc_id(pair, layout.pairs[pair].positions[other][ordinal])
                record = {**record, "external_ref": f"membercare:{mc_resource}:{counterpart}"}
        elif system == "membercare" and (resource in MC_PAIRS or resource == "invoices"):
            pair, index = ids.mc_index(resource, record)
            ordinal = layout.pairs[pair].ordinals[system][index]
            if ordinal >= 0:
                crm_id = layout.pairs[pair].positions[other][ordinal] + 1
                record = {**record, "externalId": f"customcrm:{pair}:{crm_id}"}
        yield resource, record
