"""The raw tables' typed columns: what an analyst can query without unpacking `raw` JSON.

Every raw table also has its key, its change marker, its external identity, whether it is gone
(archived / closed / hard-deleted), the whole record as `raw` JSON, and when it was extracted.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_membercare.engine.vocabulary import Side


@dataclass(frozen=True)
class RawTable:
    system: Side
    resource: str
    id_field: str
    id_type: str
    columns: tuple[tuple[str, str, str], ...]  # (column, DuckDB type, API field)

    @property
    def schema(self) -> str:
        return "crm" if self.system == Side.CRM else "membercare"

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.resource}"


def _crm(resource: str, *columns: tuple[str, str]) -> RawTable:
    return RawTable(Side.CRM, resource, "id", "BIGINT", tuple((c, t, c) for c, t in columns))


def _mc(resource: str, id_field: str, id_type: str, *columns: tuple[str, str, str]) -> RawTable:
    return RawTable(Side.MEMBERCARE, resource, id_field, id_type, columns)


ADDRESS = (("street", "VARCHAR"), ("postal_code", "VARCHAR"), ("city", "VARCHAR"), ("country", "VARCHAR"))
MONEY = "DECIMAL(18,2)"

RAW_TABLES: tuple[RawTable, ...] = (
    _crm("users", ("email", "VARCHAR"), ("first_name", "VARCHAR"), ("last_name", "VARCHAR"), ("phone", "VARCHAR"),
         ("role", "VARCHAR"), ("active", "BOOLEAN")),
    _crm("customers", ("name", "VARCHAR"), ("org_number", "VARCHAR"), ("email", "VARCHAR"), ("phone", "VARCHAR"),
         ("website", "VARCHAR"), *ADDRESS, ("customer_type", "VARCHAR"), ("owner_id", "BIGINT")),
    _crm("contacts", ("first_name", "VARCHAR"), ("last_name", "VARCHAR"), ("email", "VARCHAR"), ("phone", "VARCHAR"),
         ("title", "VARCHAR"), ("customer_id", "BIGINT"), *ADDRESS, ("birth_date", "DATE"),
         ("newsletter", "BOOLEAN"), ("owner_id", "BIGINT")),
    _crm("products", ("sku", "VARCHAR"), ("name", "VARCHAR"), ("description", "VARCHAR"), ("price", MONEY),
         ("currency", "VARCHAR"), ("vat_rate", MONEY), ("unit", "VARCHAR"), ("active", "BOOLEAN")),
    _crm("orders", ("order_number", "VARCHAR"), ("customer_id", "BIGINT"), ("contact_id", "BIGINT"),
         ("order_date", "DATE"), ("due_date", "DATE"), ("status", "VARCHAR"), ("currency", "VARCHAR"),
         ("total", MONEY), ("notes", "VARCHAR"), ("owner_id", "BIGINT")),
    _crm("quotes", ("quote_number", "VARCHAR"), ("customer_id", "BIGINT"), ("contact_id", "BIGINT"),
         ("quote_date", "DATE"), ("valid_until", "DATE"), ("status", "VARCHAR"), ("currency", "VARCHAR"),
         ("total", MONEY), ("owner_id", "BIGINT")),
    _mc("companies", "debtorAccountNumber", "VARCHAR",
        ("company_name", "VARCHAR", "companyName"), ("organization_number", "VARCHAR", "organizationNumber"),
        ("url", "VARCHAR", "url"), ("company_type", "VARCHAR", "companyType"),
        ("close_date", "VARCHAR", "closeDate")),
    _mc("persons", "debtorAccountNumber", "VARCHAR",
        ("firstname", "VARCHAR", "firstname"), ("lastname", "VARCHAR", "lastname"),
        ("birth_date", "VARCHAR", "birthDate"), ("gender", "INTEGER", "gender"),
        ("member_type", "INTEGER", "memberType"), ("allow_email", "BOOLEAN", "allowEmail"),
        ("allow_sms", "BOOLEAN", "allowSms"), ("close_date", "VARCHAR", "closeDate")),
    _mc("products", "id", "BIGINT",
        ("product_number", "VARCHAR", "productNumber"), ("name", "VARCHAR", "name"),
        ("description", "VARCHAR", "description"), ("price", MONEY, "price"), ("currency", "VARCHAR", "currency"),
        ("vat_rate", MONEY, "vatRate"), ("unit", "VARCHAR", "unit"), ("active", "BOOLEAN", "active")),
    _mc("invoices", "id", "BIGINT",
        ("invoice_number", "BIGINT", "invoiceNumber"), ("invoice_type", "VARCHAR", "invoiceType"),
        ("status", "VARCHAR", "status"), ("debtor_account_number", "VARCHAR", "debtorAccountNumber"),
        ("contact_person_debtor_account_number", "VARCHAR", "contactPersonDebtorAccountNumber"),
        ("order_reference", "VARCHAR", "orderReference"), ("invoice_date", "VARCHAR", "invoiceDate"),
        ("pay_due_date", "VARCHAR", "payDueDate"), ("currency", "VARCHAR", "currency"),
        ("total_amount", MONEY, "totalAmount"), ("text", "VARCHAR", "text"),
        ("our_reference", "VARCHAR", "ourReference"), ("our_reference_email", "VARCHAR", "ourReferenceEmail")),
)

RAW_BY_RESOURCE = {(t.system, t.resource): t for t in RAW_TABLES}


def raw_table(system: str, resource: str) -> RawTable:
    return RAW_BY_RESOURCE[(system, resource)]
