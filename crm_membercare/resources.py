"""The resources of both systems, declared as data: one `Resource` per API resource the sync reads or writes.

A declaration says which system it is in, its name in the API (`/persons`), its id field and the id's type,
the typed columns of its raw table (what an analyst can query without unpacking the `raw` JSON), whether its
records can be hard-deleted (deletes only `/ids` shows), the fields the system refuses to store as null, and,
for a resource split between flows, the field that splits it (`Split`: invoices by `invoiceType`).

Everything else is derived from these: the raw tables and their DDL (engine/raw_schema.py, engine/state.py
creates a declared table or column a state file lacks at every open), the clients' resource lists and id fields
(systems/), the sensors' probes (defs/probes.py), the CRM's not-null rule in validation (mapping/validation.py).
A flow names its two resources (`Flow.crm`, `Flow.mc`) and, for a split resource, its part (`Flow.mc_part`).

This module imports nothing of ours: the mapping, the clients and the engine all read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

CRM = "crm"  # the systems as the state spells them (engine.vocabulary.Side takes its values from here)
MEMBERCARE = "membercare"


class Column(NamedTuple):
    """A typed column of a raw table: its name, its DuckDB type, the API field it is read from."""

    name: str
    type: str
    field: str


@dataclass(frozen=True)
class Split:
    """A resource split between flows by the value of one field: each flow takes the records of one `parts`."""

    field: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Resource:
    system: str
    resource: str
    id_field: str
    id_type: str
    columns: tuple[Column, ...]
    hard_deleted: bool = False
    required: frozenset[str] = frozenset()
    split: Split | None = None

    @property
    def schema(self) -> str:
        """The raw table's schema in the state file: the system's name."""
        return self.system

    @property
    def name(self) -> str:
        """The raw table, `schema.resource`."""
        return f"{self.schema}.{self.resource}"

    @property
    def integer_ids(self) -> bool:
        return self.id_type in ("BIGINT", "INTEGER")

    def column_for(self, field: str) -> Column:
        for column in self.columns:
            if column.field == field:
                return column
        raise KeyError(f"{self.name} has no column for the field {field!r}")

    def in_part(self, record: Mapping[str, Any], part: str | None) -> bool:
        """Whether a record belongs to a flow taking `part` of this resource (any record when None)."""
        return part is None or self.split is None or record.get(self.split.field) == part


def crm(resource: str, *columns: tuple[str, str], required: Iterable[str] = ()) -> Resource:
    """A CustomCRM resource: ids are integers in `id`, API fields are named like their columns."""
    return Resource(CRM, resource, "id", "BIGINT", tuple(Column(c, t, c) for c, t in columns),
                    required=frozenset(required))


def membercare(resource: str, id_field: str, id_type: str, *columns: tuple[str, str, str],
               hard_deleted: bool = False, split: Split | None = None) -> Resource:
    return Resource(MEMBERCARE, resource, id_field, id_type, tuple(Column(*c) for c in columns),
                    hard_deleted=hard_deleted, split=split)


ADDRESS = (("street", "VARCHAR"), ("postal_code", "VARCHAR"), ("city", "VARCHAR"), ("country", "VARCHAR"))
MONEY = "DECIMAL(18,2)"

# DESIGN A1: `required` are the CustomCRM fields that may not be null (those not marked "?").
CRM_USERS = crm("users", ("email", "VARCHAR"), ("first_name", "VARCHAR"), ("last_name", "VARCHAR"),
                ("phone", "VARCHAR"), ("role", "VARCHAR"), ("active", "BOOLEAN"),
                required=("email", "first_name", "last_name", "role", "active"))
CRM_CUSTOMERS = crm("customers", ("name", "VARCHAR"), ("org_number", "VARCHAR"), ("email", "VARCHAR"),
                    ("phone", "VARCHAR"), ("website", "VARCHAR"), *ADDRESS, ("customer_type", "VARCHAR"),
                    ("owner_id", "BIGINT"), required=("name", "customer_type"))
CRM_CONTACTS = crm("contacts", ("first_name", "VARCHAR"), ("last_name", "VARCHAR"), ("email", "VARCHAR"),
                   ("phone", "VARCHAR"), ("title", "VARCHAR"), ("customer_id", "BIGINT"), *ADDRESS,
                   ("birth_date", "DATE"), ("newsletter", "BOOLEAN"), ("owner_id", "BIGINT"),
                   required=("first_name", "last_name", "newsletter"))
CRM_PRODUCTS = crm("products", ("sku", "VARCHAR"), ("name", "VARCHAR"), ("description", "VARCHAR"),
                   ("price", MONEY), ("currency", "VARCHAR"), ("vat_rate", MONEY), ("unit", "VARCHAR"),
                   ("active", "BOOLEAN"),
                   required=("sku", "name", "price", "currency", "vat_rate", "unit", "active"))
CRM_ORDERS = crm("orders", ("order_number", "VARCHAR"), ("customer_id", "BIGINT"), ("contact_id", "BIGINT"),
                 ("order_date", "DATE"), ("due_date", "DATE"), ("status", "VARCHAR"), ("currency", "VARCHAR"),
                 ("total", MONEY), ("notes", "VARCHAR"), ("owner_id", "BIGINT"),
                 required=("order_date", "status", "currency"))
CRM_QUOTES = crm("quotes", ("quote_number", "VARCHAR"), ("customer_id", "BIGINT"), ("contact_id", "BIGINT"),
                 ("quote_date", "DATE"), ("valid_until", "DATE"), ("status", "VARCHAR"), ("currency", "VARCHAR"),
                 ("total", MONEY), ("owner_id", "BIGINT"), required=("quote_date", "status", "currency"))
# The CustomCRM fields of a document line that may not be null (lines are part of an order or a quote).
CRM_LINE_REQUIRED = frozenset({"description", "quantity", "unit_price", "discount_percent", "vat_rate"})

MC_COMPANIES = membercare(
    "companies", "debtorAccountNumber", "VARCHAR",
    ("company_name", "VARCHAR", "companyName"), ("organization_number", "VARCHAR", "organizationNumber"),
    ("url", "VARCHAR", "url"), ("company_type", "VARCHAR", "companyType"), ("close_date", "VARCHAR", "closeDate"))
MC_PERSONS = membercare(
    "persons", "debtorAccountNumber", "VARCHAR",
    ("firstname", "VARCHAR", "firstname"), ("lastname", "VARCHAR", "lastname"),
    ("birth_date", "VARCHAR", "birthDate"), ("gender", "INTEGER", "gender"),
    ("member_type", "INTEGER", "memberType"), ("allow_email", "BOOLEAN", "allowEmail"),
    ("allow_sms", "BOOLEAN", "allowSms"), ("close_date", "VARCHAR", "closeDate"))
MC_PRODUCTS = membercare(
    "products", "id", "BIGINT",
    ("product_number", "VARCHAR", "productNumber"), ("name", "VARCHAR", "name"),
    ("description", "VARCHAR", "description"), ("price", MONEY, "price"), ("currency", "VARCHAR", "currency"),
    ("vat_rate", MONEY, "vatRate"), ("unit", "VARCHAR", "unit"), ("active", "BOOLEAN", "active"),
    hard_deleted=True)
MC_INVOICES = membercare(
    "invoices", "id", "BIGINT",
    ("invoice_number", "BIGINT", "invoiceNumber"), ("invoice_type", "VARCHAR", "invoiceType"),
    ("status", "VARCHAR", "status"), ("debtor_account_number", "VARCHAR", "debtorAccountNumber"),
    ("contact_person_debtor_account_number", "VARCHAR", "contactPersonDebtorAccountNumber"),
    ("order_reference", "VARCHAR", "orderReference"), ("invoice_date", "VARCHAR", "invoiceDate"),
    ("pay_due_date", "VARCHAR", "payDueDate"), ("currency", "VARCHAR", "currency"),
    ("total_amount", MONEY, "totalAmount"), ("text", "VARCHAR", "text"),
    ("our_reference", "VARCHAR", "ourReference"), ("our_reference_email", "VARCHAR", "ourReferenceEmail"),
    hard_deleted=True, split=Split("invoiceType", ("Invoice", "Proforma")))

DECLARED: tuple[Resource, ...] = (
    CRM_USERS, CRM_CUSTOMERS, CRM_CONTACTS, CRM_PRODUCTS, CRM_ORDERS, CRM_QUOTES,
    MC_COMPANIES, MC_PERSONS, MC_PRODUCTS, MC_INVOICES,
)
BY_NAME: Mapping[tuple[str, str], Resource] = {(r.system, r.resource): r for r in DECLARED}


def declared(system: str, resource: str) -> Resource:
    try:
        return BY_NAME[(system, resource)]
    except KeyError:
        raise KeyError(f"no {system} resource {resource!r} is declared") from None


def names(system: str) -> tuple[str, ...]:
    return tuple(r.resource for r in DECLARED if r.system == system)
