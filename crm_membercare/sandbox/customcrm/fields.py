"""CustomCRM's resources described as data: every writable field, its kind, and whether it is required.

A field that is neither required nor nullable falls back to its default on create (e.g. `currency` "NOK").
One generic validator (validation.py) walks these descriptions; adding a field is a line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal[
    "text", "email", "country", "currency", "digits", "date", "bool", "number", "money", "percent", "enum",
    "ref", "lines",
]


@dataclass(frozen=True)
class Field:
    kind: Kind
    required: bool = False
    nullable: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    target: str | None = None  # the resource a "ref" points at


def _optional(kind: Kind, target: str | None = None) -> Field:
    return Field(kind, nullable=True, target=target)


def _required(kind: Kind) -> Field:
    return Field(kind, required=True)


def _enum(default: str, *choices: str) -> Field:
    return Field("enum", default=default, choices=choices)


RESOURCES = ("contacts", "customers", "orders", "quotes", "products", "users")
DOCUMENTS = frozenset({"orders", "quotes"})

# Server-owned fields: present in every record, ignored when a request body carries them.
COMMON_READ_ONLY = frozenset({"id", "created_at", "updated_at", "version", "archived"})
READ_ONLY = {
    "orders": COMMON_READ_ONLY | {"total", "order_number"},
    "quotes": COMMON_READ_ONLY | {"total", "quote_number"},
}

# Document numbers: the field, its prefix, and the sequence's first value ("SO-10001", "Q-1001").
NUMBERING = {"orders": ("order_number", "SO-", 10001), "quotes": ("quote_number", "Q-", 1001)}

MAX_ID = 2**63 - 1  # SQLite's largest INTEGER: a bigger id cannot name a record

DEFAULT_VAT_RATE = 25  # the Norwegian standard rate, for a client that leaves it out

LINE_FIELDS: dict[str, Field] = {
    "product_id": _optional("ref", "products"),
    "description": _required("text"),
    "quantity": _required("number"),
    "unit_price": _required("money"),
    "discount_percent": Field("percent", default=0),
    "vat_rate": Field("percent", default=DEFAULT_VAT_RATE),
}
LINE_TOTAL_KEYS = ("quantity", "unit_price", "discount_percent", "vat_rate")

_ADDRESS: dict[str, Field] = {
    "street": _optional("text"),
    "postal_code": _optional("text"),
    "city": _optional("text"),
    "country": _optional("country"),
}

_DOCUMENT_PARTIES: dict[str, Field] = {
    "customer_id": _optional("ref", "customers"),
    "contact_id": _optional("ref", "contacts"),
}

_OWN_FIELDS: dict[str, dict[str, Field]] = {
    "contacts": {
        "first_name": _required("text"),
        "last_name": _required("text"),
        "email": _optional("email"),
        "phone": _optional("text"),
        "title": _optional("text"),
        "customer_id": _optional("ref", "customers"),
        **_ADDRESS,
        "birth_date": _optional("date"),
        "newsletter": Field("bool", default=False),
        "owner_id": _optional("ref", "users"),
    },
    "customers": {
        "name": _required("text"),
        "org_number": _optional("digits"),
        "email": _optional("email"),
        "phone": _optional("text"),
        "website": _optional("text"),
        **_ADDRESS,
        "customer_type": _enum("company", "company", "nonprofit", "public"),
        "owner_id": _optional("ref", "users"),
    },
    "products": {
        "sku": _required("text"),
        "name": _required("text"),
        "description": _optional("text"),
        "price": _required("money"),
        "currency": Field("currency", default="NOK"),
        "vat_rate": Field("percent", default=DEFAULT_VAT_RATE),
        "unit": _enum("pcs", "pcs", "hour", "month", "year"),
        "active": Field("bool", default=True),
    },
    "orders": {
        **_DOCUMENT_PARTIES,
        "order_date": _required("date"),
        "due_date": _optional("date"),
        "status": _enum("draft", "draft", "confirmed", "invoiced", "paid", "cancelled"),
        "currency": Field("currency", default="NOK"),
        "lines": Field("lines", default=()),
        "notes": _optional("text"),
        "owner_id": _optional("ref", "users"),
    },
    "quotes": {
        **_DOCUMENT_PARTIES,
        "quote_date": _required("date"),
        "valid_until": _optional("date"),
        "status": _enum("draft", "draft", "sent", "accepted", "declined", "expired"),
        "currency": Field("currency", default="NOK"),
        "lines": Field("lines", default=()),
        "owner_id": _optional("ref", "users"),
    },
    "users": {
        "email": _required("email"),
        "first_name": _required("text"),
        "last_name": _required("text"),
        "phone": _optional("text"),
        "role": _enum("sales", "admin", "sales", "support"),
        "active": Field("bool", default=True),
    },
}

# Every resource carries `external_ref`: free for integrations, unique per resource when set.
FIELDS: dict[str, dict[str, Field]] = {
    name: {**fields, "external_ref": _optional("text")} for name, fields in _OWN_FIELDS.items()
}


def with_extra(extra: Mapping[str, Mapping[str, Field]] | None) -> dict[str, dict[str, Field]]:
    """`FIELDS` and the resources a caller adds (`create_app(extra_resources=...)`): each a plain resource with
    the given writable fields (plus `external_ref`), integer ids, versions and archiving like every other."""
    added = {name: {**fields, "external_ref": _optional("text")} for name, fields in (extra or {}).items()}
    clash = set(added) & set(FIELDS)
    if clash:
        raise ValueError(f"resources already defined: {', '.join(sorted(clash))}")
    return {**{name: FIELDS[name] for name in RESOURCES}, **added}


def read_only(resource: str) -> frozenset[str]:
    return READ_ONLY.get(resource, COMMON_READ_ONLY)


def unique_key(resource: str, record: dict) -> str | None:
    """The value that must be unique besides `external_ref`: a live product's sku, a user's email (any case)."""
    if resource == "products":
        return record["sku"]
    if resource == "users":
        return record["email"].strip().lower()
    return None
