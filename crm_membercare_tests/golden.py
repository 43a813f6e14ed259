"""Golden examples: DESIGN Part B's six property tables as literal records, written by hand from the tables.

Nothing here is computed by the project's mapping (this module imports nothing from `crm_membercare`): a
record on each side is what that system's API returns (DESIGN A1, A2), and every expected counterpart is a
literal a person wrote down from the tables. The unit tests (`test_golden_mapping.py`) feed these records
through the mapping both ways and compare with these literals, so a mapping that is wrong the same way in
both directions (two enum values swapped, a phone sent to the wrong contact type) fails.

What is here:
- `COUNTRIES_RESULT`: the part of `GET /addresses/countries` the examples use (the sandbox's own ids).
- `LINKS`: the link table the examples assume, flow -> {CRM id: MemberCare id}. References (an employment's
  company, an invoice's debtor, a line's product) resolve through it.
- `CRM_OWNED`, `MC_OWNED`: per flow, the CRM fields a MemberCare record is written back into and the
  MemberCare paths a CRM record is written into (Part B's columns; `order_number` and B6 are CRM-only
  sources: the CRM assigns the number, a user is never changed from MemberCare).
- `GOLDEN`: `Golden` pairs, each in sync: `crm` and `mc` as the APIs return them; `mc_expected` the
  MemberCare paths the CRM record maps to and `crm_expected` the CRM patch the MemberCare record maps to —
  each, unless given, the owned part of the other record itself (`ABSENT`: the key must not be written).
- `ENUM_ROWS`: every value of every enum or boolean row, both directions, lossy ones as Part B says.
- `PRESERVED`: an existing MemberCare record holding data the sync does not own, a CRM record, and the
  literal full-replacement PUT body expected (DESIGN Part B: "What the sync does not own it must preserve").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# --- reference data -------------------------------------------------------------------------------------

# GET /addresses/countries (crm_membercare/sandbox/countries.py): Norge is 160, not "NO".
COUNTRIES_RESULT: tuple[dict[str, Any], ...] = (
    {"id": 160, "name": "Norge", "iso2Letter": "NO"},
    {"id": 206, "name": "Sverige", "iso2Letter": "SE"},
    {"id": 31, "name": "Danmark", "iso2Letter": "DK"},
    {"id": 228, "name": "Tyskland", "iso2Letter": "DE"},
)

# flow -> {CRM id: MemberCare id}. Persons and companies share one debtor numbering; product ids are integers.
LINKS: dict[str, dict[int, Any]] = {
    "customers_companies": {21: "20001", 22: "20002", 23: "20003", 24: "20004"},
    "contacts_persons": {31: "20011", 32: "20012", 33: "20013", 34: "20014", 35: "20015"},
    "products_products": {41: 501, 42: 502},
    "orders_invoices": {51: 9001, 52: 9002, 53: 9003},
    "quotes_invoices": {61: 9101, 62: 9102},
}

# --- what each flow owns (DESIGN Part B) ----------------------------------------------------------------

ADDRESS_PATHS = ("addresses[0].street", "addresses[0].postalCode.zipCode", "addresses[0].postalCode.city",
                 "addresses[0].country.id")
INVOICE_PATHS = ("orderReference", "debtorAccountNumber", "contactPersonDebtorAccountNumber", "invoiceDate",
                 "payDueDate", "status", "currency", "invoiceItems")

CRM_OWNED: dict[str, tuple[str, ...]] = {
    "contacts_persons": ("first_name", "last_name", "email", "phone", "birth_date", "street", "postal_code",
                         "city", "country", "customer_id", "title", "newsletter"),
    "customers_companies": ("name", "org_number", "email", "phone", "website", "street", "postal_code", "city",
                            "country", "customer_type"),
    "products_products": ("sku", "name", "description", "price", "currency", "vat_rate", "unit", "active"),
    "orders_invoices": ("customer_id", "contact_id", "order_date", "due_date", "status", "currency", "lines",
                        "notes"),
    "quotes_invoices": ("customer_id", "contact_id", "quote_date", "valid_until", "status", "currency", "lines"),
    "users_invoices": (),
}

MC_OWNED: dict[str, tuple[str, ...]] = {
    "contacts_persons": ("firstname", "lastname", "contacts[Email].value", "contacts[Mobile].value", "birthDate",
                         *ADDRESS_PATHS, "employments[0].companyDebtorAccountNumber", "employments[0].position",
                         "allowEmail"),
    "customers_companies": ("companyName", "organizationNumber", "contacts[Email].value", "contacts[Phone].value",
                            "url", *ADDRESS_PATHS, "companyType"),
    "products_products": ("productNumber", "name", "description", "price", "currency", "vatRate", "unit",
                          "active"),
    "orders_invoices": ("invoiceType", *INVOICE_PATHS, "text"),
    "quotes_invoices": ("invoiceType", *INVOICE_PATHS),
    "users_invoices": ("ourReference", "ourReferenceEmail"),
}

ABSENT = "<absent>"  # in `crm_expected`: the patch must not carry this key


@dataclass(frozen=True)
class Golden:
    """A CRM record and its MemberCare counterpart, in sync; what each maps to on the other side."""

    name: str
    flow: str
    crm: dict[str, Any]
    mc: dict[str, Any]
    mc_expected: dict[str, Any] = field(default_factory=dict)   # MemberCare path -> value, overriding `mc`
    crm_expected: dict[str, Any] = field(default_factory=dict)  # CRM field -> value (or ABSENT), overriding `crm`
    why: str = ""


def _crm(record_id: int, version: int = 2, external_ref: str | None = None, **fields: Any) -> dict[str, Any]:
    """A CustomCRM record as GET returns it: the common fields, then the resource's own."""
    return {"id": record_id, "created_at": "2026-01-05T10:00:00.000Z", "updated_at": "2026-03-02T08:15:02.123Z",
            "version": version, "archived": False, "external_ref": external_ref, **fields}


# --- B1. Custom Contact <-> MemberCare Persons ------------------------------------------------------------

KARI_CRM = _crm(
    31, external_ref="membercare:persons:20011",
    first_name="Kari", last_name="Nordmann", email="kari.nordmann@fjordtech.no", phone="+47 912 34 567",
    title="CEO", customer_id=21, street="Storgata 1", postal_code="0155", city="Oslo", country="NO",
    birth_date="1980-05-01", newsletter=True, owner_id=11,
)
KARI_MC = {
    "debtorAccountNumber": "20011", "firstname": "Kari", "lastname": "Nordmann", "name": "Kari Nordmann",
    "gender": 0, "birthDate": "1980-05-01T00:00:00", "socialSecurityNumber": None,
    "contacts": [{"contactType": "Email", "value": "kari.nordmann@fjordtech.no"},
                 {"contactType": "Mobile", "value": "+4791234567"}],
    "addresses": [{"id": 7001, "street": "Storgata 1", "postalCode": {"zipCode": "0155", "city": "Oslo"},
                   "country": {"id": 160}}],
    "employments": [{"companyDebtorAccountNumber": "20001", "position": "CEO"}],
    "allowEmail": True, "allowSms": False, "memberType": 1, "closeDate": None, "closeReason": None,
    "externalId": "customcrm:contacts:31", "lastChange": "2026-03-02T09:15:03",
}

OLA_CRM = _crm(
    32, first_name="Ola", last_name="Hansen", email="ola.hansen@example.no", phone="98765432",
    title="Frilanser", customer_id=None, street="Kirkegata 5", postal_code="7011", city="Trondheim",
    country="NO", birth_date=None, newsletter=False, owner_id=None,
)
OLA_MC = {
    "debtorAccountNumber": "20012", "firstname": "Ola", "lastname": "Hansen", "name": "Ola Hansen", "gender": 0,
    "birthDate": None, "socialSecurityNumber": None,
    "contacts": [{"contactType": "Email", "value": "ola.hansen@example.no"},
                 {"contactType": "Mobile", "value": "+4798765432"}],
    "addresses": [{"id": 7002, "street": "Kirkegata 5", "postalCode": {"zipCode": "7011", "city": "Trondheim"},
                   "country": {"id": 160}}],
    "employments": [], "allowEmail": False, "allowSms": False, "memberType": 1, "closeDate": None,
    "closeReason": None, "externalId": "customcrm:contacts:32", "lastChange": "2026-03-02T09:15:04",
}

SVEN_CRM = _crm(
    33, first_name="Sven", last_name="Svensson", email="sven.svensson@example.se", phone="070-123 45 67",
    title="Styreleder", customer_id=22, street="Kungsgatan 2", postal_code="111 43", city="Stockholm",
    country="SE", birth_date="1975-12-31", newsletter=True, owner_id=11,
)
SVEN_MC = {
    "debtorAccountNumber": "20013", "firstname": "Sven", "lastname": "Svensson", "name": "Sven Svensson",
    "gender": 1, "birthDate": "1975-12-31T00:00:00", "socialSecurityNumber": None,
    "contacts": [{"contactType": "Mobile", "value": "+46701234567"},
                 {"contactType": "Email", "value": "sven.svensson@example.se"}],
    "addresses": [{"id": 7003, "street": "Kungsgatan 2",
                   "postalCode": {"zipCode": "111 43", "city": "Stockholm"}, "country": {"id": 206}}],
    "employments": [{"companyDebtorAccountNumber": "20002", "position": "Styreleder"}],
    "allowEmail": True, "allowSms": True, "memberType": 2, "closeDate": None, "closeReason": None,
    "externalId": "customcrm:contacts:33", "lastChange": "2026-03-02T09:15:05",
}

EMPTY_CONTACT_CRM = _crm(
    34, first_name="Åse", last_name="Øvrebø", email=None, phone=None, title=None, customer_id=None, street=None,
    postal_code=None, city=None, country=None, birth_date=None, newsletter=False, owner_id=None,
)
EMPTY_PERSON_MC = {
    "debtorAccountNumber": "20014", "firstname": "Åse", "lastname": "Øvrebø", "name": "Åse Øvrebø", "gender": 0,
    "birthDate": None, "socialSecurityNumber": None, "contacts": [], "addresses": [], "employments": [],
    "allowEmail": False, "allowSms": False, "memberType": 1, "closeDate": None, "closeReason": None,
    "externalId": "customcrm:contacts:34", "lastChange": "2026-03-02T09:15:06",
}

PER_CRM = _crm(
    35, first_name="Per", last_name="Berg", email="per.berg@example.no", phone="+4741234567", title=None,
    customer_id=None, street="Havnegata 3", postal_code="9008", city="Tromsø", country="NO",
    birth_date="1990-01-01", newsletter=False, owner_id=None,
)
PER_MC = {  # a landline before the mobile and two emails: the first of each type is the one mapped
    "debtorAccountNumber": "20015", "firstname": "Per", "lastname": "Berg", "name": "Per Berg", "gender": 1,
    "birthDate": "1990-01-01T00:00:00", "socialSecurityNumber": {"number": "01019012345", "iso2Letter": "NO"},
    "contacts": [{"contactType": "Phone", "value": "+4777601234"},
                 {"contactType": "Email", "value": "per.berg@example.no"},
                 {"contactType": "Mobile", "value": "+4741234567"},
                 {"contactType": "Email", "value": "per.private@example.no"}],
    "addresses": [{"id": 7005, "street": "Havnegata 3", "postalCode": {"zipCode": "9008", "city": "Tromsø"},
                   "country": {"id": 160}},
                  {"id": 7006, "street": "Hyttevegen 9", "postalCode": {"zipCode": "3550", "city": "Gol"},
                   "country": {"id": 160}}],
    "employments": [], "allowEmail": False, "allowSms": True, "memberType": 3, "closeDate": None,
    "closeReason": None, "externalId": "customcrm:contacts:35", "lastChange": "2026-03-02T09:15:07",
}

CONTACTS = (
    Golden("contact at a linked customer, phone typed with spaces", "contacts_persons", KARI_CRM, KARI_MC,
           crm_expected={"phone": "+4791234567"},
           why="phone '+47 912 34 567' -> Mobile '+4791234567' and back in E.164; birth_date at local midnight; "
               "country NO <-> 160; customer 21 <-> employment at 20001 with title as position; newsletter"),
    Golden("private contact: title not carried, 8-digit phone in Norway", "contacts_persons", OLA_CRM, OLA_MC,
           mc_expected={"employments[0].companyDebtorAccountNumber": None, "employments[0].position": None},
           crm_expected={"phone": "+4798765432", "title": ABSENT},
           why="'98765432' with country NO -> '+4798765432'; no customer, so no employment and the CRM title is "
               "neither sent nor cleared; no birth date <-> null"),
    Golden("Swedish contact: the contact's country is the phone's default region", "contacts_persons",
           SVEN_CRM, SVEN_MC, crm_expected={"phone": "+46701234567"},
           why="'070-123 45 67' with country SE -> '+46701234567'; SE <-> 206; Mobile found after other types"),
    Golden("contact with every optional field empty", "contacts_persons", EMPTY_CONTACT_CRM, EMPTY_PERSON_MC,
           crm_expected={"title": ABSENT},
           why="nulls <-> no contacts, no address, no employment; non-ASCII names intact"),
    Golden("person with a landline first and two emails", "contacts_persons", PER_CRM, PER_MC,
           crm_expected={"title": ABSENT},
           why="contacts[Email] and contacts[Mobile] are the first of their type; the Phone contact, gender, "
               "social security number and second address are not mapped"),
)

# --- B2. Custom Customer <-> MemberCare Companies ---------------------------------------------------------

FJORDTECH_CRM = _crm(
    21, external_ref="membercare:companies:20001",
    name="Fjordtech AS", org_number="912345678", email="post@fjordtech.no", phone="22 33 44 55",
    website="https://fjordtech.no", street="Akersgata 10", postal_code="0158", city="Oslo", country="NO",
    customer_type="company", owner_id=11,
)
FJORDTECH_MC = {
    "debtorAccountNumber": "20001", "companyName": "Fjordtech AS", "organizationNumber": "912345678",
    "url": "https://fjordtech.no", "companyType": "Business",
    "contacts": [{"contactType": "Email", "value": "post@fjordtech.no"},
                 {"contactType": "Phone", "value": "+4722334455"}],
    "addresses": [{"id": 7101, "street": "Akersgata 10", "postalCode": {"zipCode": "0158", "city": "Oslo"},
                   "country": {"id": 160}}],
    "closeDate": None, "closeReason": None, "externalId": "customcrm:customers:21",
    "lastChange": "2026-03-02T09:15:08",
}

SJOREDNINGEN_CRM = _crm(
    22, name="Sjøredningen", org_number="987654321", email="kontakt@sjoredningen.no", phone=None, website=None,
    street="Strandkaien 4", postal_code="5013", city="Bergen", country="NO", customer_type="nonprofit",
    owner_id=None,
)
SJOREDNINGEN_MC = {
    "debtorAccountNumber": "20002", "companyName": "Sjøredningen", "organizationNumber": "987654321", "url": None,
    "companyType": "Nonprofit", "contacts": [{"contactType": "Email", "value": "kontakt@sjoredningen.no"}],
    "addresses": [{"id": 7102, "street": "Strandkaien 4", "postalCode": {"zipCode": "5013", "city": "Bergen"},
                   "country": {"id": 160}}],
    "closeDate": None, "closeReason": None, "externalId": "customcrm:customers:22",
    "lastChange": "2026-03-02T09:15:09",
}

KOMMUNE_CRM = _crm(
    23, name="Oslo kommune", org_number="974760673", email=None, phone="+47 21 80 21 80",
    website="https://www.oslo.kommune.no", street="Rådhusplassen 1", postal_code="0037", city="Oslo",
    country="NO", customer_type="public", owner_id=11,
)
KOMMUNE_MC = {  # a Mobile contact before the Phone one: a company's phone is its Phone contact
    "debtorAccountNumber": "20003", "companyName": "Oslo kommune", "organizationNumber": "974760673",
    "url": "https://www.oslo.kommune.no", "companyType": "Public",
    "contacts": [{"contactType": "Mobile", "value": "+4791112222"},
                 {"contactType": "Phone", "value": "+4721802180"}],
    "addresses": [{"id": 7103, "street": "Rådhusplassen 1", "postalCode": {"zipCode": "0037", "city": "Oslo"},
                   "country": {"id": 160}}],
    "closeDate": None, "closeReason": None, "externalId": "customcrm:customers:23",
    "lastChange": "2026-03-02T09:15:10",
}

NORDVIK_CRM = _crm(
    24, name="Nordvik AB", org_number="5561234567", email="info@nordvik.se", phone="08-123 456 78",
    website="https://nordvik.se", street="Drottninggatan 20", postal_code="111 51", city="Stockholm",
    country="SE", customer_type="company", owner_id=None,
)
NORDVIK_MC = {
    "debtorAccountNumber": "20004", "companyName": "Nordvik AB", "organizationNumber": "5561234567",
    "url": "https://nordvik.se", "companyType": "Business",
    "contacts": [{"contactType": "Email", "value": "info@nordvik.se"},
                 {"contactType": "Phone", "value": "+46812345678"}],
    "addresses": [{"id": 7104, "street": "Drottninggatan 20",
                   "postalCode": {"zipCode": "111 51", "city": "Stockholm"}, "country": {"id": 206}}],
    "closeDate": None, "closeReason": None, "externalId": "customcrm:customers:24",
    "lastChange": "2026-03-02T09:15:11",
}

CUSTOMERS = (
    Golden("company with every field", "customers_companies", FJORDTECH_CRM, FJORDTECH_MC,
           crm_expected={"phone": "+4722334455"},
           why="phone '22 33 44 55' -> contacts[Phone] '+4722334455' (not Mobile); website <-> url; company <-> "
               "Business; org number digits"),
    Golden("nonprofit without phone or website", "customers_companies", SJOREDNINGEN_CRM, SJOREDNINGEN_MC,
           why="nonprofit <-> Nonprofit; empty phone and website <-> no Phone contact, url null"),
    Golden("public body whose MemberCare record also has a Mobile", "customers_companies", KOMMUNE_CRM,
           KOMMUNE_MC, crm_expected={"phone": "+4721802180"},
           why="public <-> Public; the Phone contact is the phone, the Mobile one is not the company's"),
    Golden("Swedish company: phone in the customer's country", "customers_companies", NORDVIK_CRM, NORDVIK_MC,
           crm_expected={"phone": "+46812345678"},
           why="'08-123 456 78' with country SE -> '+46812345678'; SE <-> 206"),
)

# --- B4. Custom Product <-> MemberCare Products -----------------------------------------------------------

CONSULTING_CRM = _crm(
    41, external_ref="membercare:products:501", sku="FT-CONS-H", name="Konsulenttime",
    description="Rådgivning per påbegynt time", price=1499.5, currency="NOK", vat_rate=25, unit="hour",
    active=True,
)
CONSULTING_MC = {
    "id": 501, "productNumber": "FT-CONS-H", "name": "Konsulenttime", "description": "Rådgivning per påbegynt time",
    "price": 1499.5, "currency": "NOK", "vatRate": 25, "unit": "Hour", "active": True,
    "externalId": "customcrm:products:41", "lastChange": "2026-03-02T09:15:12",
}

SUPPORT_CRM = _crm(
    42, sku="FT-SUP-M", name="Supportavtale", description=None, price=0.3, currency="EUR", vat_rate=12.5,
    unit="month", active=False,
)
SUPPORT_MC = {
    "id": 502, "productNumber": "FT-SUP-M", "name": "Supportavtale", "description": None, "price": 0.3,
    "currency": "EUR", "vatRate": 12.5, "unit": "Month", "active": False, "externalId": "customcrm:products:42",
    "lastChange": "2026-03-02T09:15:13",
}

PRODUCTS = (
    Golden("hourly product", "products_products", CONSULTING_CRM, CONSULTING_MC,
           why="price 1499.50 as a JSON number; hour <-> Hour; vat 25; active"),
    Golden("inactive monthly product in EUR, 0.30 a month", "products_products", SUPPORT_CRM, SUPPORT_MC,
           why="price 0.30 exactly (no float noise); month <-> Month; vat 12.5; no description; inactive"),
)

# --- B3. Custom Order <-> MemberCare Invoices (Invoice) ---------------------------------------------------

BUSINESS_ORDER_CRM = _crm(
    51, external_ref="membercare:invoices:9001", order_number="SO-10001", customer_id=21, contact_id=31,
    order_date="2026-03-02", due_date="2026-03-16", status="invoiced", currency="NOK",
    lines=[{"product_id": 41, "description": "Konsulenttime", "quantity": 2, "unit_price": 1499.5,
            "discount_percent": 10, "vat_rate": 25},
           {"product_id": None, "description": "Reisekostnader", "quantity": 1, "unit_price": 500,
            "discount_percent": 0, "vat_rate": 25}],
    total=3998.88, notes="Faktureres etter avtale", owner_id=11,
)
BUSINESS_INVOICE_MC = {
    "id": 9001, "invoiceNumber": 1001, "invoiceType": "Invoice", "status": "Sent",
    "debtorAccountNumber": "20001", "contactPersonDebtorAccountNumber": "20011", "orderReference": "SO-10001",
    "invoiceDate": "2026-03-02T00:00:00", "payDueDate": "2026-03-16T00:00:00", "currency": "NOK",
    "invoiceItems": [{"productId": 501, "description": "Konsulenttime", "quantity": 2, "unitPrice": 1499.5,
                      "discountPercent": 10, "vatRate": 25},
                     {"productId": None, "description": "Reisekostnader", "quantity": 1, "unitPrice": 500,
                      "discountPercent": 0, "vatRate": 25}],
    "totalAmount": 3998.88, "text": "Faktureres etter avtale", "ourReference": "Ingrid Berg",
    "ourReferenceEmail": "ingrid.berg@fjordtech.no", "externalId": "customcrm:orders:51",
    "lastChange": "2026-03-02T09:15:14",
}

PRIVATE_ORDER_CRM = _crm(
    52, order_number="SO-10002", customer_id=None, contact_id=32, order_date="2026-10-25", due_date=None,
    status="draft", currency="NOK",
    lines=[{"product_id": 42, "description": "Supportavtale", "quantity": 1.5, "unit_price": 0.3,
            "discount_percent": 0, "vat_rate": 12.5}],
    total=0.51, notes=None, owner_id=None,
)
PRIVATE_INVOICE_MC = {
    "id": 9002, "invoiceNumber": None, "invoiceType": "Invoice", "status": "Draft",
    "debtorAccountNumber": "20012", "contactPersonDebtorAccountNumber": None, "orderReference": "SO-10002",
    "invoiceDate": "2026-10-25T00:00:00", "payDueDate": None, "currency": "NOK",
    "invoiceItems": [{"productId": 502, "description": "Supportavtale", "quantity": 1.5, "unitPrice": 0.3,
                      "discountPercent": 0, "vatRate": 12.5}],
    "totalAmount": 0.51, "text": None, "ourReference": None, "ourReferenceEmail": None,
    "externalId": "customcrm:orders:52", "lastChange": "2026-03-02T09:15:15",
}

PUBLIC_ORDER_CRM = _crm(
    53, order_number="SO-10003", customer_id=23, contact_id=None, order_date="2026-07-01", due_date="2026-07-31",
    status="paid", currency="EUR", lines=[], total=0, notes="Rammeavtale 2026", owner_id=11,
)
PUBLIC_INVOICE_MC = {
    "id": 9003, "invoiceNumber": 1002, "invoiceType": "Invoice", "status": "Paid",
    "debtorAccountNumber": "20003", "contactPersonDebtorAccountNumber": None, "orderReference": "SO-10003",
    "invoiceDate": "2026-07-01T00:00:00", "payDueDate": "2026-07-31T00:00:00", "currency": "EUR",
    "invoiceItems": [], "totalAmount": 0, "text": "Rammeavtale 2026", "ourReference": "Ingrid Berg",
    "ourReferenceEmail": "ingrid.berg@fjordtech.no", "externalId": "customcrm:orders:53",
    "lastChange": "2026-03-02T09:15:16",
}

ORDERS = (
    Golden("business order with a contact person", "orders_invoices", BUSINESS_ORDER_CRM, BUSINESS_INVOICE_MC,
           why="customer 21 -> company debtor 20001, contact 31 -> contactPerson 20011; dates at local midnight; "
               "lines <-> invoiceItems with product 41 <-> 501 and a line without product; notes <-> text; "
               "invoiced <-> Sent"),
    Golden("private order: the contact's person pays", "orders_invoices", PRIVATE_ORDER_CRM, PRIVATE_INVOICE_MC,
           why="no customer -> person debtor 20012 and no contact person; back: customer_id null, contact_id 32; "
               "order date on the autumn DST day; quantity 1.5, price 0.30, vat 12.5"),
    Golden("business order without a contact person", "orders_invoices", PUBLIC_ORDER_CRM, PUBLIC_INVOICE_MC,
           why="company debtor, contactPerson null <-> contact_id null; summer-time dates; no lines; paid <-> Paid"),
)

# --- B5. Custom Quote <-> MemberCare Invoices (Proforma) --------------------------------------------------

SENT_QUOTE_CRM = _crm(
    61, external_ref="membercare:invoices:9101", quote_number="Q-1001", customer_id=22, contact_id=33,
    quote_date="2026-02-10", valid_until="2026-03-10", status="sent", currency="NOK",
    lines=[{"product_id": 41, "description": "Konsulenttime, styreseminar", "quantity": 10, "unit_price": 1250,
            "discount_percent": 5, "vat_rate": 25}],
    total=14843.75, owner_id=11,
)
SENT_PROFORMA_MC = {
    "id": 9101, "invoiceNumber": 1003, "invoiceType": "Proforma", "status": "Sent",
    "debtorAccountNumber": "20002", "contactPersonDebtorAccountNumber": "20013", "orderReference": "Q-1001",
    "invoiceDate": "2026-02-10T00:00:00", "payDueDate": "2026-03-10T00:00:00", "currency": "NOK",
    "invoiceItems": [{"productId": 501, "description": "Konsulenttime, styreseminar", "quantity": 10,
                      "unitPrice": 1250, "discountPercent": 5, "vatRate": 25}],
    "totalAmount": 14843.75, "text": None, "ourReference": "Ingrid Berg",
    "ourReferenceEmail": "ingrid.berg@fjordtech.no", "externalId": "customcrm:quotes:61",
    "lastChange": "2026-03-02T09:15:17",
}

ACCEPTED_QUOTE_CRM = _crm(
    62, quote_number="Q-1002", customer_id=None, contact_id=32, quote_date="2026-03-29", valid_until=None,
    status="accepted", currency="NOK",
    lines=[{"product_id": 42, "description": "Supportavtale", "quantity": 12, "unit_price": 0.3,
            "discount_percent": 0, "vat_rate": 12.5}],
    total=4.05, owner_id=None,
)
PAID_PROFORMA_MC = {
    "id": 9102, "invoiceNumber": 1004, "invoiceType": "Proforma", "status": "Paid",
    "debtorAccountNumber": "20012", "contactPersonDebtorAccountNumber": None, "orderReference": "Q-1002",
    "invoiceDate": "2026-03-29T00:00:00", "payDueDate": None, "currency": "NOK",
    "invoiceItems": [{"productId": 502, "description": "Supportavtale", "quantity": 12, "unitPrice": 0.3,
                      "discountPercent": 0, "vatRate": 12.5}],
    "totalAmount": 4.05, "text": None, "ourReference": None, "ourReferenceEmail": None,
    "externalId": "customcrm:quotes:62", "lastChange": "2026-03-02T09:15:18",
}

QUOTES = (
    Golden("sent quote to a nonprofit with a contact person", "quotes_invoices", SENT_QUOTE_CRM, SENT_PROFORMA_MC,
           why="Proforma; company debtor 20002 and contact person 20013; quote_date/valid_until <-> "
               "invoiceDate/payDueDate at midnight; sent <-> Sent"),
    Golden("accepted quote and a Paid proforma (lossy, in sync)", "quotes_invoices", ACCEPTED_QUOTE_CRM,
           PAID_PROFORMA_MC, mc_expected={"status": "Sent"},
           why="DESIGN B5: accepted -> Sent, Paid -> accepted; the pair agrees (Paid -> accepted); private "
               "quote: person debtor 20012; dated the day summer time begins"),
)

# --- B6. Custom User <-> MemberCare Invoices --------------------------------------------------------------

INGRID_CRM = _crm(11, email="ingrid.berg@fjordtech.no", first_name="Ingrid", last_name="Berg",
                  phone="+47 900 00 001", role="sales", active=True)
NILS_CRM = _crm(12, email="nils.petter@fjordtech.no", first_name="Nils Petter", last_name="van der Berg",
                phone=None, role="admin", active=True)
NILS_INVOICE_MC = {**PUBLIC_INVOICE_MC, "ourReference": "Nils Petter van der Berg",
                   "ourReferenceEmail": "nils.petter@fjordtech.no"}

USERS = (
    Golden("user owning a sent invoice", "users_invoices", INGRID_CRM, BUSINESS_INVOICE_MC,
           crm_expected={},
           why='ourReference is first_name + " " + last_name, ourReferenceEmail the email; a user is never '
               "written from MemberCare (the CRM patch is empty)"),
    Golden("user with two-word first and last names", "users_invoices", NILS_CRM, NILS_INVOICE_MC,
           crm_expected={},
           why="'Nils Petter' + ' ' + 'van der Berg'"),
)

GOLDEN: tuple[Golden, ...] = (*PRODUCTS, *CUSTOMERS, *CONTACTS, *ORDERS, *QUOTES, *USERS)

# --- enum and boolean rows: every value, both directions --------------------------------------------------


@dataclass(frozen=True)
class EnumRow:
    """One enum row: the base pair whose field is varied, and the table each way, as DESIGN Part B states it."""

    flow: str
    crm_field: str
    mc_field: str
    base: Golden
    to_mc: tuple[tuple[Any, Any], ...]
    to_crm: tuple[tuple[Any, Any], ...]


ENUM_ROWS: tuple[EnumRow, ...] = (
    EnumRow("customers_companies", "customer_type", "companyType", CUSTOMERS[0],
            to_mc=(("company", "Business"), ("nonprofit", "Nonprofit"), ("public", "Public")),
            to_crm=(("Business", "company"), ("Nonprofit", "nonprofit"), ("Public", "public"))),
    EnumRow("products_products", "unit", "unit", PRODUCTS[0],
            to_mc=(("pcs", "Piece"), ("hour", "Hour"), ("month", "Month"), ("year", "Year")),
            to_crm=(("Piece", "pcs"), ("Hour", "hour"), ("Month", "month"), ("Year", "year"))),
    EnumRow("products_products", "active", "active", PRODUCTS[0],
            to_mc=((True, True), (False, False)), to_crm=((True, True), (False, False))),
    EnumRow("contacts_persons", "newsletter", "allowEmail", CONTACTS[0],
            to_mc=((True, True), (False, False)), to_crm=((True, True), (False, False))),
    # B3: lossy (confirmed). cancelled -> Credited (the engine deletes a Draft instead: not the mapping's job).
    EnumRow("orders_invoices", "status", "status", ORDERS[0],
            to_mc=(("draft", "Draft"), ("confirmed", "Draft"), ("invoiced", "Sent"), ("paid", "Paid"),
                   ("cancelled", "Credited")),
            to_crm=(("Draft", "draft"), ("Sent", "invoiced"), ("Paid", "paid"), ("Credited", "cancelled"))),
    # B5: lossy both ways.
    EnumRow("quotes_invoices", "status", "status", QUOTES[0],
            to_mc=(("draft", "Draft"), ("sent", "Sent"), ("accepted", "Sent"), ("declined", "Credited"),
                   ("expired", "Credited")),
            to_crm=(("Draft", "draft"), ("Sent", "sent"), ("Paid", "accepted"), ("Credited", "declined"))),
)

# --- preservation on a full-replacement PUT ---------------------------------------------------------------


@dataclass(frozen=True)
class Preserved:
    """An existing MemberCare record with data the flow does not own, a CRM record, and the PUT body expected."""

    name: str
    flow: str
    crm: dict[str, Any]
    existing: dict[str, Any]
    expected_put: dict[str, Any]


_KARI_EXISTING = {
    "debtorAccountNumber": "20011", "firstname": "Kari", "lastname": "Nordman", "name": "Kari Nordman",
    "gender": 2, "birthDate": None, "socialSecurityNumber": {"number": "01058012345", "iso2Letter": "NO"},
    "contacts": [{"contactType": "Phone", "value": "+4722000000"},
                 {"contactType": "Email", "value": "kari@old.example.no"},
                 {"contactType": "Email", "value": "kari.private@example.no"}],
    "addresses": [{"id": 7001, "street": "Gamleveien 2", "postalCode": {"zipCode": "0150", "city": "Oslo"},
                   "country": {"id": 206}},
                  {"id": 7009, "street": "Hyttevegen 9", "postalCode": {"zipCode": "3550", "city": "Gol"},
                   "country": {"id": 160}}],
    "employments": [{"companyDebtorAccountNumber": "20002", "position": "Frivillig"},
                    {"companyDebtorAccountNumber": "20003", "position": "Styremedlem"}],
    "allowEmail": False, "allowSms": True, "memberType": 3, "closeDate": None, "closeReason": None,
    "externalId": "customcrm:contacts:31", "lastChange": "2026-02-01T12:00:00",
}
_KARI_PUT = {
    "debtorAccountNumber": "20011", "firstname": "Kari", "lastname": "Nordmann", "name": "Kari Nordman",
    "gender": 2, "birthDate": "1980-05-01T00:00:00",
    "socialSecurityNumber": {"number": "01058012345", "iso2Letter": "NO"},
    "contacts": [{"contactType": "Phone", "value": "+4722000000"},
                 {"contactType": "Email", "value": "kari.nordmann@fjordtech.no"},
                 {"contactType": "Email", "value": "kari.private@example.no"},
                 {"contactType": "Mobile", "value": "+4791234567"}],
    "addresses": [{"id": 7001, "street": "Storgata 1", "postalCode": {"zipCode": "0155", "city": "Oslo"},
                   "country": {"id": 160}},
                  {"id": 7009, "street": "Hyttevegen 9", "postalCode": {"zipCode": "3550", "city": "Gol"},
                   "country": {"id": 160}}],
    "employments": [{"companyDebtorAccountNumber": "20001", "position": "CEO"},
                    {"companyDebtorAccountNumber": "20003", "position": "Styremedlem"}],
    "allowEmail": True, "allowSms": True, "memberType": 3, "closeDate": None, "closeReason": None,
    "externalId": "customcrm:contacts:31", "lastChange": "2026-02-01T12:00:00",
}

_FJORDTECH_EXISTING = {
    "debtorAccountNumber": "20001", "companyName": "Fjordtech", "organizationNumber": "912345678",
    "url": "http://old.fjordtech.no", "companyType": "Nonprofit",
    "contacts": [{"contactType": "Mobile", "value": "+4790000000"},
                 {"contactType": "Email", "value": "old@fjordtech.no"}],
    "addresses": [{"id": 7101, "street": "Akersgata 10", "postalCode": {"zipCode": "0158", "city": "Oslo"},
                   "country": {"id": 160}},
                  {"id": 7110, "street": "Postboks 12", "postalCode": {"zipCode": "0101", "city": "Oslo"},
                   "country": {"id": 160}}],
    "closeDate": None, "closeReason": None, "externalId": "customcrm:customers:21",
    "lastChange": "2026-02-01T12:00:01",
}
_FJORDTECH_PUT = {
    "debtorAccountNumber": "20001", "companyName": "Fjordtech AS", "organizationNumber": "912345678",
    "url": "https://fjordtech.no", "companyType": "Business",
    "contacts": [{"contactType": "Mobile", "value": "+4790000000"},
                 {"contactType": "Email", "value": "post@fjordtech.no"},
                 {"contactType": "Phone", "value": "+4722334455"}],
    "addresses": [{"id": 7101, "street": "Akersgata 10", "postalCode": {"zipCode": "0158", "city": "Oslo"},
                   "country": {"id": 160}},
                  {"id": 7110, "street": "Postboks 12", "postalCode": {"zipCode": "0101", "city": "Oslo"},
                   "country": {"id": 160}}],
    "closeDate": None, "closeReason": None, "externalId": "customcrm:customers:21",
    "lastChange": "2026-02-01T12:00:01",
}

_ORDER_EXISTING = {
    **BUSINESS_INVOICE_MC, "status": "Draft", "invoiceNumber": None, "contactPersonDebtorAccountNumber": None,
    "payDueDate": None, "text": "utkast",
    "invoiceItems": [{"productId": 502, "description": "Gammel linje", "quantity": 1, "unitPrice": 10,
                      "discountPercent": 0, "vatRate": 25}],
    "totalAmount": 12.5, "ourReference": "Someone Else", "ourReferenceEmail": "someone@fjordtech.no",
    "lastChange": "2026-02-01T12:00:02",
}
_ORDER_PUT = {**BUSINESS_INVOICE_MC, "invoiceNumber": None, "totalAmount": 12.5, "ourReference": "Someone Else",
              "ourReferenceEmail": "someone@fjordtech.no", "lastChange": "2026-02-01T12:00:02"}

_USER_EXISTING = {**BUSINESS_INVOICE_MC, "ourReference": "I. Berg", "ourReferenceEmail": "old@fjordtech.no"}

PRESERVED: tuple[Preserved, ...] = (
    Preserved("person: other contacts, addresses, employments, gender, ssn, memberType, allowSms kept",
              "contacts_persons", KARI_CRM, _KARI_EXISTING, _KARI_PUT),
    Preserved("company: the Mobile contact and the second address kept", "customers_companies", FJORDTECH_CRM,
              _FJORDTECH_EXISTING, _FJORDTECH_PUT),
    Preserved("order invoice: items replaced whole; references and read-only fields kept", "orders_invoices",
              BUSINESS_ORDER_CRM, _ORDER_EXISTING, _ORDER_PUT),
    Preserved("user: only ourReference and ourReferenceEmail of a locked invoice change", "users_invoices",
              INGRID_CRM, _USER_EXISTING, BUSINESS_INVOICE_MC),
)
