"""The bad-input catalogue (issue 6, item 3; DESIGN Part E "Bad input").

Malformed and hostile records are written into both sandboxes the way a user of that system could, through
its API, on top of a small world already in sync. Where a system refuses a value itself, that value can never
reach the sync: the case asserts the refusal ("refused at the source") and then writes the nearest value the
source *does* accept but the other side would refuse or mangle.

All cases are written first, then ONE cycle runs (one server pair and one cycle keep the file fast); each case
is then judged alone. A case ends in one of three ways, fixed in advance:
- SYNCED: linked, equal on both sides under the mapping, no open reject, and any exact value named by the
  case arrived intact on the other side;
- REJECTED: an open reject in `sync.rejects` naming the flow, the side written, the record id, the field and a
  reason; and nothing of it reached the other side (no record stamped with its identity, or, for an edit of a
  linked pair, the counterpart unchanged);
- AMBIGUOUS: every record sharing the key is in `sync.ambiguous`; none is linked, none created elsewhere.
Besides: a normal edit on each side made in the same cycle propagated, the cycle completed, the sync tables
survived, and a second cycle is quiet.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from crm_membercare.mapping.canonical import disagreeing_fields
from crm_membercare.mapping.flows import flow_by_name
from crm_membercare_tests.engine_support import (
    CRM_TOKEN,
    MC_API_KEY,
    Snapshot,
    World,
    active_links,
    pair_values,
    synced_world,
)
from crm_membercare_tests.hostile_support import CrmUser, McUser

SCALE = {"users": 3, "customers": 12, "contacts": 20, "products": 6, "orders": 8, "quotes": 4}
SYNCED, REJECTED, AMBIGUOUS, PROPAGATED = "synced", "rejected", "ambiguous", "propagated"
SQL_TEXT = "'); drop table sync.links; --"
TEN_MB = "x" * (10 * 1024 * 1024)
MARKERS = ("lastChange", "updated_at", "version")
SYNC_TABLES = ("cursors", "dirty", "match_keys", "links", "outbox", "conflicts", "rejects", "ambiguous",
               "breakers", "cycles", "cycle_flows", "schema_version")


@dataclass
class Made:
    """What a case wrote and what the sync must make of it."""

    flow: str
    side: str  # the system the user wrote to: "crm" | "membercare"
    record_id: Any
    expect: str
    field: str = ""  # REJECTED: the field the reject names (a prefix: "lines" covers "lines[0].quantity")
    others: tuple = ()  # AMBIGUOUS: the other records sharing the key, as (side, id)
    exact: dict[str, Any] = dataclasses.field(default_factory=dict)  # SYNCED: other side's top-level field -> value
    counterpart: dict | None = None  # an edit of a linked pair: the other side's record before the cycle
    refused_at_source: str = ""  # what the source refused before this value was written


@dataclass
class Book:
    """What case writers get: both systems as a user meets them, and linked pairs to edit (one per case)."""

    world: World
    crm: CrmUser
    mc: McUser
    used: set = dataclasses.field(default_factory=set)
    serial: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def pair(self, flow: str, where: Callable[[int, Any], bool] = lambda c, m: True) -> tuple[int, Any]:
        for crm_id, mc_id in active_links(self.world.con, flow_by_name(flow)):
            if (flow, crm_id) not in self.used and where(crm_id, mc_id):
                self.used.add((flow, crm_id))
                return crm_id, mc_id
        raise LookupError(f"no linked pair left in {flow}")

    def unemployed_contact_pair(self) -> tuple[int, str]:
        """A linked contact with no company: its edits cannot wait on a company's link."""
        return self.pair(CONTACTS, lambda crm_id, _: self.crm.get("contacts", crm_id)["customer_id"] is None)

    def email(self, tag: str) -> str:
        return f"{tag}.{next(self.serial)}@catalogue.example.org"

    def contact(self, **fields: Any) -> dict:
        n = next(self.serial)
        return self.crm.create("contacts", {"first_name": f"Case{n}", "last_name": "Katalog",
                                            "email": self.email("contact"), "country": "NO", **fields})

    def person(self, **fields: Any) -> dict:
        n = next(self.serial)
        body = {"firstname": f"Case{n}", "lastname": "Katalog",
                "contacts": [{"contactType": "Email", "value": self.email("person")}]}
        return self.mc.create("persons", {**body, **fields})

    def linked_customer(self) -> tuple[int, str]:
        return self.pair("customers_companies")

    def linked_product(self) -> tuple[int, int]:
        crm_id, mc_id = self.pair("products_products")
        self.used.discard(("products_products", crm_id))  # a product may serve many cases
        return crm_id, int(mc_id)

    def order(self, lines: list[dict], **fields: Any) -> dict:
        customer_id, _ = self.linked_customer()
        return self.crm.create("orders", {"customer_id": customer_id, "order_date": "2026-01-15",
                                          "lines": lines, **fields})

    def line(self, **fields: Any) -> dict:
        product_id, _ = self.linked_product()
        return {"product_id": product_id, "description": "Kurs", "quantity": 1, "unit_price": 100,
                "vat_rate": 25, **fields}

    def invoice(self, items: list[dict], **fields: Any) -> dict:
        _, company = self.linked_customer()
        return self.mc.create("invoices", {"invoiceType": "Invoice", "debtorAccountNumber": company,
                                           "invoiceDate": "2026-01-15T00:00:00", "currency": "NOK",
                                           "invoiceItems": items, **fields})

    def item(self, **fields: Any) -> dict:
        _, product_id = self.linked_product()
        return {"productId": product_id, "description": "Kurs", "quantity": 1, "unitPrice": 100,
                "vatRate": 25, **fields}


CRM_CASES: dict[str, Callable[[Book], Made]] = {}
MC_CASES: dict[str, Callable[[Book], Made]] = {}


def case(cases: dict[str, Callable[[Book], Made]]) -> Callable:
    def register(writer: Callable[[Book], Made]) -> Callable[[Book], Made]:
        cases[writer.__name__] = writer
        return writer
    return register


# --- written in CustomCRM ---------------------------------------------------------------------------------
CONTACTS, CUSTOMERS, PRODUCTS, ORDERS = "contacts_persons", "customers_companies", "products_products", \
    "orders_invoices"


@case(CRM_CASES)
def invalid_email(book: Book) -> Made:
    book.crm.refuses("POST", "/contacts", {"first_name": "A", "last_name": "B", "email": "no-at-sign"})
    made = book.contact(email="kari@localhost")  # the CRM wants one "@"; MemberCare a dotted domain
    return Made(CONTACTS, "crm", made["id"], REJECTED, "email", refused_at_source="email without @")


@case(CRM_CASES)
def invalid_email_edit_of_linked_contact(book: Book) -> Made:
    crm_id, mc_id = book.unemployed_contact_pair()
    before = book.mc.get("persons", mc_id)
    book.crm.update("contacts", crm_id, {"email": "ola@nodot"})
    return Made(CONTACTS, "crm", crm_id, REJECTED, "email", counterpart=before)


@case(CRM_CASES)
def unparseable_phone(book: Book) -> Made:
    made = book.contact(phone="call me maybe")  # free text in the CRM
    return Made(CONTACTS, "crm", made["id"], REJECTED, "phone")


@case(CRM_CASES)
def national_phone_with_spaces(book: Book) -> Made:
    made = book.contact(phone=" 912 34 567 ", country="NO")
    return Made(CONTACTS, "crm", made["id"], SYNCED)


@case(CRM_CASES)
def unknown_country(book: Book) -> Made:
    book.crm.refuses("POST", "/contacts", {"first_name": "A", "last_name": "B", "country": "Norway"})
    made = book.contact(country="XX")  # the shape of an ISO code, but no country
    return Made(CONTACTS, "crm", made["id"], REJECTED, "country", refused_at_source="country 'Norway'")


@case(CRM_CASES)
def date_zero(book: Book) -> Made:
    book.crm.refuses("POST", "/contacts", {"first_name": "A", "last_name": "B", "birth_date": "0000-00-00"})
    made = book.contact(birth_date="0001-01-01")
    return Made(CONTACTS, "crm", made["id"], SYNCED, exact={"birthDate": "0001-01-01T00:00:00"},
                refused_at_source="birth_date 0000-00-00")


@case(CRM_CASES)
def date_far_future(book: Book) -> Made:
    made = book.contact(birth_date="9999-12-31")
    return Made(CONTACTS, "crm", made["id"], SYNCED, exact={"birthDate": "9999-12-31T00:00:00"})


@case(CRM_CASES)
def ten_mb_string(book: Book) -> Made:
    made = book.contact(street=TEN_MB)  # the CRM has no length limit; MemberCare stops at 4000
    return Made(CONTACTS, "crm", made["id"], REJECTED, "street")


@case(CRM_CASES)
def control_characters(book: Book) -> Made:
    made = book.contact(last_name="Nord\x07mann\x1b[31m")
    return Made(CONTACTS, "crm", made["id"], REJECTED, "last_name")


@case(CRM_CASES)
def nul_character(book: Book) -> Made:
    made = book.contact(first_name="Ka\x00ri")
    return Made(CONTACTS, "crm", made["id"], REJECTED, "first_name")


@case(CRM_CASES)
def sql_looking_text(book: Book) -> Made:
    made = book.contact(last_name=SQL_TEXT)
    return Made(CONTACTS, "crm", made["id"], SYNCED, exact={"lastname": SQL_TEXT})


@case(CRM_CASES)
def quotes_backslashes_and_tabs(book: Book) -> Made:
    street = "O'Brien \"gate\" 1\\2\tb; \\x00 %s {0} $1"
    made = book.contact(street=street)
    return Made(CONTACTS, "crm", made["id"], SYNCED)


@case(CRM_CASES)
def emoji_and_rtl(book: Book) -> Made:
    made = book.contact(first_name="Zoë 😀 مرحبا", last_name="שלום \u202eRTL\u202c 𝔘𝔫𝔦")
    return Made(CONTACTS, "crm", made["id"], SYNCED,
                exact={"firstname": "Zoë 😀 مرحبا", "lastname": "שלום \u202eRTL\u202c 𝔘𝔫𝔦"})


@case(CRM_CASES)
def invalid_unicode(book: Book) -> Made:
    book.crm.refuses("POST", "/contacts", '{"first_name": "\\ud800", "last_name": "B"}')
    made = book.contact(first_name="Åse 𓀀 ﷽")
    return Made(CONTACTS, "crm", made["id"], SYNCED, exact={"firstname": "Åse 𓀀 ﷽"},
                refused_at_source="a lone surrogate")


@case(CRM_CASES)
def leading_trailing_whitespace(book: Book) -> Made:
    book.crm.refuses("POST", "/contacts", {"first_name": "A", "last_name": "B", "email": " pad@example.org "})
    made = book.contact(first_name="  Kari  ", city=" Oslo\t")
    return Made(CONTACTS, "crm", made["id"], SYNCED, refused_at_source="an email padded with spaces")


@case(CRM_CASES)
def missing_required_fields(book: Book) -> Made:
    book.crm.refuses("POST", "/contacts", {"first_name": "Only"})
    book.crm.refuses("POST", "/contacts", {"first_name": "A", "last_name": "   "})
    made = book.crm.create("contacts", {"first_name": "Bare", "last_name": "Minimum"})  # every option null
    return Made(CONTACTS, "crm", made["id"], SYNCED, refused_at_source="no last_name / a blank one")


@case(CRM_CASES)
def duplicate_email_in_crm(book: Book) -> Made:
    email = book.email("twin")
    first, second = book.contact(email=email), book.contact(email=email.upper())
    return Made(CONTACTS, "crm", first["id"], AMBIGUOUS, others=(("crm", second["id"]),))


@case(CRM_CASES)
def email_matching_two_persons(book: Book) -> Made:
    email = book.email("shared")
    one = book.person(contacts=[{"contactType": "Email", "value": email}])
    two = book.person(contacts=[{"contactType": "Email", "value": email}])
    made = book.contact(email=email)
    return Made(CONTACTS, "crm", made["id"], AMBIGUOUS,
                others=(("membercare", one["debtorAccountNumber"]), ("membercare", two["debtorAccountNumber"])))


@case(CRM_CASES)
def dangling_reference_to_archived_customer(book: Book) -> Made:
    customer_id, _ = book.linked_customer()
    book.crm.delete("customers", customer_id)  # archived, still referencable in the CRM
    made = book.contact(customer_id=customer_id, title="Daglig leder")
    return Made(CONTACTS, "crm", made["id"], SYNCED)


@case(CRM_CASES)
def dangling_reference_to_rejected_contact(book: Book) -> Made:
    contact = book.contact(email="nobody@localhost")  # rejected itself, so never linked
    made = book.crm.create("orders", {"contact_id": contact["id"], "order_date": "2026-01-15",
                                      "lines": [book.line()]})
    # The order waits for its contact; the reject names the debtor row (customer_id, contact_id) and why.
    return Made(ORDERS, "crm", made["id"], REJECTED, "debtor")


@case(CRM_CASES)
def negative_quantity(book: Book) -> Made:
    made = book.order([book.line(quantity=-3)])  # the CRM allows credit lines; MemberCare does not
    return Made(ORDERS, "crm", made["id"], REJECTED, "lines")


@case(CRM_CASES)
def absurd_quantity(book: Book) -> Made:
    made = book.order([book.line(quantity=10**9, unit_price=0.01)])
    return Made(ORDERS, "crm", made["id"], SYNCED)


@case(CRM_CASES)
def three_decimal_quantity(book: Book) -> Made:
    made = book.order([book.line(quantity=1.234)])
    return Made(ORDERS, "crm", made["id"], REJECTED, "lines")


@case(CRM_CASES)
def very_long_lines_list(book: Book) -> Made:
    made = book.order([book.line(description=f"Linje {n}") for n in range(400)])
    return Made(ORDERS, "crm", made["id"], SYNCED)


@case(CRM_CASES)
def ten_mb_notes(book: Book) -> Made:
    made = book.order([book.line()], notes="n" * (10 * 1024 * 1024))
    return Made(ORDERS, "crm", made["id"], REJECTED, "notes")


@case(CRM_CASES)
def negative_and_absurd_prices(book: Book) -> Made:
    book.crm.refuses("POST", "/products", {"sku": "BAD-1", "name": "x", "price": 1.005})
    made = book.crm.create("products", {"sku": f"NEG-{next(book.serial)}", "name": "Rabatt", "price": -250,
                                        "vat_rate": 0})
    return Made(PRODUCTS, "crm", made["id"], SYNCED, exact={"price": -250},
                refused_at_source="a price with 3 decimals")


@case(CRM_CASES)
def absurd_price(book: Book) -> Made:
    made = book.crm.create("products", {"sku": f"BIG-{next(book.serial)}", "name": "Alt", "price": 10**13})
    return Made(PRODUCTS, "crm", made["id"], SYNCED, exact={"price": 10**13})


@case(CRM_CASES)
def rate_with_three_decimals(book: Book) -> Made:
    made = book.crm.create("products", {"sku": f"VAT-{next(book.serial)}", "name": "Rar", "price": 10,
                                        "vat_rate": 12.345})
    return Made(PRODUCTS, "crm", made["id"], REJECTED, "vat_rate")


@case(CRM_CASES)
def wrong_json_types(book: Book) -> Made:
    book.crm.refuses("POST", "/products", {"sku": "T-1", "name": "x", "price": "12.50"})
    book.crm.refuses("POST", "/contacts", {"first_name": "A", "last_name": "B", "newsletter": "yes"})
    book.crm.refuses("POST", "/contacts", {"first_name": ["A"], "last_name": {"B": 1}})
    made = book.crm.create("products", {"sku": f"INT-{next(book.serial)}", "name": "Heltall", "price": 12,
                                        "active": False})
    return Made(PRODUCTS, "crm", made["id"], SYNCED, exact={"price": 12, "active": False},
                refused_at_source="a price as a string, a bool as 'yes', lists and objects for names")


@case(CRM_CASES)
def hostile_url_and_long_digits(book: Book) -> Made:
    book.crm.refuses("POST", "/customers", {"name": "x", "org_number": "98 76 54"})
    made = book.crm.create("customers", {"name": "<script>alert(1)</script> AS", "org_number": "0" * 40,
                                         "website": "javascript:alert(document.cookie)"})
    return Made(CUSTOMERS, "crm", made["id"], SYNCED,
                exact={"url": "javascript:alert(document.cookie)", "organizationNumber": "0" * 40,
                       "companyName": "<script>alert(1)</script> AS"},
                refused_at_source="an org number with spaces")


@case(CRM_CASES)
def invalid_email_edit_of_linked_customer(book: Book) -> Made:
    crm_id, mc_id = book.linked_customer()
    before = book.mc.get("companies", mc_id)
    book.crm.update("customers", crm_id, {"email": "post@firma"})
    return Made(CUSTOMERS, "crm", crm_id, REJECTED, "email", counterpart=before)


@case(CRM_CASES)
def overflowing_quantity(book: Book) -> Made:
    book.crm.refuses("POST", "/orders", {"customer_id": 1, "order_date": "2026-01-15",
                                         "lines": [book.line(quantity=1e30)]})
    made = book.order([book.line(quantity=10**15, unit_price=10**15)])  # the largest both systems accept
    return Made(ORDERS, "crm", made["id"], SYNCED, refused_at_source="a quantity of 1e30")


@case(CRM_CASES)
def overflowing_price(book: Book) -> Made:
    book.crm.refuses("POST", "/products", {"sku": "HUGE-1", "name": "x", "price": 10**16})
    made = book.crm.create("products", {"sku": f"MAX-{next(book.serial)}", "name": "Dyr", "price": 10**15})
    return Made(PRODUCTS, "crm", made["id"], SYNCED, exact={"price": 10**15}, refused_at_source="a price of 1e16")


# --- written in MemberCare --------------------------------------------------------------------------------
def _email_contact(value: str) -> list[dict]:
    return [{"contactType": "Email", "value": value}]


@case(MC_CASES)
def mc_invalid_email(book: Book) -> Made:
    book.mc.refuses("POST", "/persons", {"firstname": "A", "lastname": "B", "contacts": _email_contact("a@nodot")})
    made = book.person(contacts=_email_contact(f"Mixed.Case+tag{next(book.serial)}@Sub.Example.ORG"))
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED,
                refused_at_source="an email without a dotted domain")


@case(MC_CASES)
def mc_email_with_trailing_newline(book: Book) -> Made:
    made = book.person(contacts=_email_contact(book.email("newline") + "\n"))  # passes MemberCare's `$`
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], REJECTED, "email")


@case(MC_CASES)
def mc_unparseable_phone(book: Book) -> Made:
    book.mc.refuses("POST", "/persons", {"firstname": "A", "lastname": "B",
                                         "contacts": [{"contactType": "Mobile", "value": "91234567"}]})
    made = book.person(contacts=[*_email_contact(book.email("phone")),
                                 {"contactType": "Mobile", "value": "+12025550123"}])
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED,
                refused_at_source="a phone not in E.164")


@case(MC_CASES)
def mc_unknown_country(book: Book) -> Made:
    book.mc.refuses("POST", "/persons", {"firstname": "A", "lastname": "B",
                                         "addresses": [{"street": "x", "country": {"id": 99999}}]})
    made = book.person(addresses=[{"street": "Uten land 1", "postalCode": {"zipCode": "0150", "city": "Oslo"}}])
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED,
                exact={"street": "Uten land 1", "country": None}, refused_at_source="country id 99999")


@case(MC_CASES)
def mc_date_zero(book: Book) -> Made:
    book.mc.refuses("POST", "/persons", {"firstname": "A", "lastname": "B", "birthDate": "0000-00-00T00:00:00"})
    made = book.person(birthDate="0001-01-01T00:00:00")
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED, exact={"birth_date": "0001-01-01"},
                refused_at_source="birthDate 0000-00-00")


@case(MC_CASES)
def mc_date_far_future(book: Book) -> Made:
    made = book.person(birthDate="9999-12-31T00:00:00")
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED, exact={"birth_date": "9999-12-31"})


@case(MC_CASES)
def mc_date_not_midnight(book: Book) -> Made:
    made = book.person(birthDate="1980-05-01T23:30:00")
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED, exact={"birth_date": "1980-05-01"})


@case(MC_CASES)
def mc_longest_string(book: Book) -> Made:
    book.mc.refuses("POST", "/persons", {"firstname": "A", "lastname": TEN_MB})
    street = "s" * 4000
    made = book.person(addresses=[{"street": street}])
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED, exact={"street": street},
                refused_at_source="a 10 MB lastname")


@case(MC_CASES)
def mc_control_characters(book: Book) -> Made:
    made = book.person(lastname="Nord\x07mann\x1b[0m")
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], REJECTED, "last_name")


@case(MC_CASES)
def mc_control_characters_edit_of_linked_person(book: Book) -> Made:
    crm_id, mc_id = book.unemployed_contact_pair()
    before = book.crm.get("contacts", crm_id)
    book.mc.update("persons", mc_id, {"firstname": "Bell\x07"})
    return Made(CONTACTS, "membercare", mc_id, REJECTED, "first_name", counterpart=before)


@case(MC_CASES)
def mc_nul_character(book: Book) -> Made:
    made = book.person(firstname="Ka\x00ri")
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], REJECTED, "first_name")


@case(MC_CASES)
def mc_sql_looking_text(book: Book) -> Made:
    made = book.person(lastname=SQL_TEXT)
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED, exact={"last_name": SQL_TEXT})


@case(MC_CASES)
def mc_quotes_backslashes_and_newlines(book: Book) -> Made:
    street = "Kong \"Olav\" V's gate 1\\A\r\nPostboks 7"
    made = book.person(addresses=[{"street": street}])
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED, exact={"street": street})


@case(MC_CASES)
def mc_emoji_and_rtl(book: Book) -> Made:
    name = "Ærlig 😀 شركة \u202eAS\u202c"
    made = book.mc.create("companies", {"companyName": name, "companyType": "Business",
                                        "organizationNumber": f"99{next(book.serial):07d}"})
    return Made(CUSTOMERS, "membercare", made["debtorAccountNumber"], SYNCED, exact={"name": name})


@case(MC_CASES)
def mc_leading_trailing_whitespace(book: Book) -> Made:
    book.mc.refuses("POST", "/persons", {"firstname": "   ", "lastname": "B"})
    made = book.person(firstname="  Ola ", lastname=" Nordmann\t")
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED,
                refused_at_source="a blank firstname")


@case(MC_CASES)
def mc_duplicate_email(book: Book) -> Made:
    email = book.email("mctwin")
    one = book.person(contacts=_email_contact(email))
    two = book.person(contacts=_email_contact(email))
    return Made(CONTACTS, "membercare", one["debtorAccountNumber"], AMBIGUOUS,
                others=(("membercare", two["debtorAccountNumber"]),))


@case(MC_CASES)
def mc_org_number_matching_two_customers(book: Book) -> Made:
    org = f"97{next(book.serial):07d}"
    one = book.crm.create("customers", {"name": "Tvilling A", "org_number": org})
    two = book.crm.create("customers", {"name": "Tvilling B", "org_number": org})
    made = book.mc.create("companies", {"companyName": "Tvilling", "organizationNumber": org,
                                        "companyType": "Business"})
    return Made(CUSTOMERS, "membercare", made["debtorAccountNumber"], AMBIGUOUS,
                others=(("crm", one["id"]), ("crm", two["id"])))


@case(MC_CASES)
def mc_company_without_type(book: Book) -> Made:
    made = book.mc.create("companies", {"companyName": "Typeløs AS", "organizationNumber":
                                        f"96{next(book.serial):07d}"})
    return Made(CUSTOMERS, "membercare", made["debtorAccountNumber"], REJECTED, "customer_type")


@case(MC_CASES)
def mc_negative_quantity(book: Book) -> Made:
    _, company = book.linked_customer()
    book.mc.refuses("POST", "/invoices", {"debtorAccountNumber": company, "invoiceDate": "2026-01-01T00:00:00",
                                          "currency": "NOK",
                                          "invoiceItems": [{"description": "x", "quantity": -1, "unitPrice": 1}]})
    made = book.invoice([book.item(quantity=0), book.item(unitPrice=-500)])
    return Made(ORDERS, "membercare", made["id"], SYNCED, refused_at_source="a negative quantity")


@case(MC_CASES)
def mc_absurd_quantity(book: Book) -> Made:
    made = book.invoice([book.item(quantity=999999999.99, unitPrice=10**9)])
    return Made(ORDERS, "membercare", made["id"], SYNCED)


@case(MC_CASES)
def mc_missing_required_on_target(book: Book) -> Made:
    made = book.invoice([book.item(description=None)])  # optional in MemberCare, required by the CRM
    return Made(ORDERS, "membercare", made["id"], REJECTED, "lines")


@case(MC_CASES)
def mc_product_without_price(book: Book) -> Made:
    made = book.mc.create("products", {"productNumber": f"NOPRICE-{next(book.serial)}", "name": "Gratis?"})
    return Made(PRODUCTS, "membercare", made["id"], REJECTED, "price")


@case(MC_CASES)
def mc_product_without_vat_rate(book: Book) -> Made:
    made = book.mc.create("products", {"productNumber": f"NOVAT-{next(book.serial)}", "name": "Uten mva",
                                       "price": 10})  # MemberCare leaves vatRate null; the CRM needs a number
    return Made(PRODUCTS, "membercare", made["id"], REJECTED, "vat_rate")


@case(MC_CASES)
def mc_wrong_json_types(book: Book) -> Made:
    book.mc.refuses("POST", "/products", {"productNumber": "T-1", "name": "x", "price": "12.50"})
    book.mc.refuses("POST", "/persons", {"firstname": "A", "lastname": "B", "allowEmail": "yes"})
    book.mc.refuses("POST", "/persons", {"firstname": 1, "lastname": ["B"]})
    made = book.mc.create("products", {"productNumber": f"INT-MC-{next(book.serial)}", "name": "Heltall",
                                       "price": 12, "vatRate": 0, "unit": "Hour"})
    return Made(PRODUCTS, "membercare", made["id"], SYNCED, exact={"price": 12, "unit": "hour"},
                refused_at_source="a price as a string, a bool as 'yes', numbers and lists for names")


@case(MC_CASES)
def mc_duplicate_product_number(book: Book) -> Made:
    number = f"DUP-{next(book.serial)}"
    made = book.mc.create("products", {"productNumber": number, "name": "Original", "price": 5, "vatRate": 25})
    book.mc.refuses("POST", "/products", {"productNumber": number, "name": "Kopi", "price": 5})
    return Made(PRODUCTS, "membercare", made["id"], SYNCED, refused_at_source="a second productNumber")


@case(MC_CASES)
def mc_dangling_product_reference(book: Book) -> Made:
    product = book.mc.create("products", {"productNumber": f"GONE-{next(book.serial)}", "name": "Borte",
                                          "price": 7})
    made = book.invoice([{"productId": product["id"], "description": "Borte", "quantity": 1, "unitPrice": 7}])
    book.mc.delete("products", product["id"])  # MemberCare keeps the invoice line's dangling productId
    return Made(ORDERS, "membercare", made["id"], REJECTED, "lines")


@case(MC_CASES)
def mc_employment_at_closed_company(book: Book) -> Made:
    _, company = book.linked_customer()
    book.mc.delete("companies", company)  # closed, the record stays
    made = book.person(employments=[{"companyDebtorAccountNumber": company, "position": "Styreleder"}])
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED)


@case(MC_CASES)
def mc_edit_of_person_employed_at_archived_customer(book: Book) -> Made:
    """A valid edit of a linked person whose company's CRM customer was archived (its link ended)."""
    def employed_at_free_customer(crm_id: int, _: str) -> bool:
        customer_id = book.crm.get("contacts", crm_id)["customer_id"]
        return customer_id is not None and (CUSTOMERS, customer_id) not in book.used

    crm_id, mc_id = book.pair(CONTACTS, employed_at_free_customer)
    customer_id = book.crm.get("contacts", crm_id)["customer_id"]
    book.used.add((CUSTOMERS, customer_id))
    book.crm.delete("customers", customer_id)
    book.mc.update("persons", mc_id, {"lastname": "Etter-arkivering"})
    return Made(CONTACTS, "membercare", mc_id, PROPAGATED, exact={"last_name": "Etter-arkivering"})


@case(MC_CASES)
def mc_very_long_items_list(book: Book) -> Made:
    made = book.invoice([book.item(description=f"Linje {n}") for n in range(400)])
    return Made(ORDERS, "membercare", made["id"], SYNCED)


@case(MC_CASES)
def mc_hostile_url(book: Book) -> Made:
    url = "javascript:alert('x');//\" onmouseover=\"x"
    made = book.mc.create("companies", {"companyName": "Lenke AS", "url": url, "companyType": "Public",
                                        "organizationNumber": f"95{next(book.serial):07d}"})
    return Made(CUSTOMERS, "membercare", made["debtorAccountNumber"], SYNCED, exact={"website": url})


@case(MC_CASES)
def mc_overflowing_quantity(book: Book) -> Made:
    book.mc.refuses("POST", "/invoices", {"debtorAccountNumber": "10001", "invoiceDate": "2026-01-15T00:00:00",
                                          "currency": "NOK", "invoiceItems": [book.item(quantity=1e30)]})
    made = book.invoice([book.item(quantity=10**15, unitPrice=10**15)])  # the largest both systems accept
    return Made(ORDERS, "membercare", made["id"], SYNCED, refused_at_source="a quantity of 1e30")


@case(MC_CASES)
def mc_overflowing_ids(book: Book) -> Made:
    huge = "123456789012345678901234567890"
    book.mc.refuses("POST", "/invoices", {"debtorAccountNumber": huge, "invoiceDate": "2026-01-15T00:00:00",
                                          "currency": "NOK", "invoiceItems": []})
    book.mc.refuses("POST", "/persons", {"firstname": "A", "lastname": "B", "memberType": int(huge),
                                         "employments": [{"companyDebtorAccountNumber": huge}]})
    made = book.person(memberType=2**62)  # not mapped: kept as it is by the sync's full-record PUTs
    return Made(CONTACTS, "membercare", made["debtorAccountNumber"], SYNCED,
                refused_at_source="a 30-digit debtor number, memberType and employer")


# --- running the catalogue ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    world: World
    made: dict[str, Made]
    snap: Snapshot
    normal_edits: dict[str, tuple[str, Any, str, Any]]  # name -> (resource on the other side, id, field, value)


@pytest.fixture(scope="module")
def catalogue() -> Iterator[Outcome]:
    with synced_world(SCALE) as world:
        crm, mc = CrmUser(world.crm_server, CRM_TOKEN), McUser(world.mc_server, MC_API_KEY)
        book = Book(world, crm, mc)
        made = {name: writer(book) for name, writer in {**CRM_CASES, **MC_CASES}.items()}
        normal = _normal_edits(book)
        world.cycle()
        yield Outcome(world, made, world.snapshot(), normal)
        crm.close()
        mc.close()


def _normal_edits(book: Book) -> dict[str, tuple[str, Any, str, Any]]:
    """One ordinary edit per side, made in the same cycle as the bad input."""
    crm_id, mc_id = book.unemployed_contact_pair()
    book.crm.update("contacts", crm_id, {"last_name": "Vanlig-endring"})
    company_crm, company_mc = book.linked_customer()
    book.mc.update("companies", company_mc, {"companyName": "Vanlig Endring AS"})
    return {"crm": ("persons", mc_id, "lastname", "Vanlig-endring"),
            "membercare": ("customers", company_crm, "name", "Vanlig Endring AS")}


def _identity(side: str, flow_name: str, record_id: Any) -> str:
    flow = flow_by_name(flow_name)
    return f"customcrm:{flow.crm_resource}:{record_id}" if side == "crm" else \
        f"membercare:{flow.mc_resource}:{record_id}"


def _links_of(outcome: Outcome, flow: str, side: str, record_id: Any) -> list[tuple]:
    column = "crm_id" if side == "crm" else "mc_id"
    value = int(record_id) if side == "crm" else str(record_id)
    return outcome.world.con.execute(
        f"SELECT crm_id, mc_id, state FROM sync.links WHERE flow = ? AND {column} = ?", [flow, value]).fetchall()


def _other_side(outcome: Outcome, made: Made, other_id: Any) -> dict:
    flow = flow_by_name(made.flow)
    if made.side == "crm":
        return outcome.snap.mc_records(flow)[int(other_id) if flow.mc_id_field == "id" else str(other_id)]
    return outcome.snap.crm_records(flow)[int(other_id)]


def _stamped_elsewhere(outcome: Outcome, made: Made, record_id: Any) -> list:
    """Records on the other side carrying this record's identity (created from it)."""
    flow = flow_by_name(made.flow)
    identity = _identity(made.side, made.flow, record_id)
    if made.side == "crm":
        return [i for i, r in outcome.snap.mc_records(flow).items() if r.get("externalId") == identity]
    return [i for i, r in outcome.snap.crm_records(flow).items() if r.get("external_ref") == identity]


def _open_rejects(outcome: Outcome, made: Made, record_id: Any) -> list[tuple[str, str]]:
    return outcome.world.con.execute(
        "SELECT field, reason FROM sync.rejects WHERE flow = ? AND side = ? AND record_id = ? AND open",
        [made.flow, made.side, str(record_id)]).fetchall()


def _without_markers(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in MARKERS}


def _judge(outcome: Outcome, made: Made) -> None:
    flow = flow_by_name(made.flow)
    links = _links_of(outcome, made.flow, made.side, made.record_id)
    if made.expect == SYNCED:
        assert not _open_rejects(outcome, made, made.record_id)
        assert [state for *_, state in links] == ["active"], f"not linked: {links}"
        crm_id, mc_id, _ = links[0]
        other = _other_side(outcome, made, mc_id if made.side == "crm" else crm_id)
        crm_values, mc_values = pair_values(outcome.world, outcome.snap, flow, crm_id,
                                            int(mc_id) if flow.mc_id_field == "id" else mc_id)
        assert disagreeing_fields(flow, crm_values, mc_values) == []
        for name, value in made.exact.items():
            if value is not None or name in other:
                found = _exact_field(other, name)
                assert found == value, f"{name}: {found!r} != {value!r}"
    elif made.expect == REJECTED:
        rejects = _open_rejects(outcome, made, made.record_id)
        assert any(name.startswith(made.field) and reason for name, reason in rejects), \
            f"no open reject on {made.field}: {rejects}"
        if made.counterpart is None:
            assert not [link for link in links if link[2] == "active"]
            assert _stamped_elsewhere(outcome, made, made.record_id) == []
        else:
            crm_id, mc_id, _ = links[0]
            after = _other_side(outcome, made, mc_id if made.side == "crm" else crm_id)
            assert _without_markers(after) == _without_markers(made.counterpart)
    elif made.expect == PROPAGATED:
        assert [state for *_, state in links] == ["active"], f"not linked: {links}"
        crm_id, mc_id, _ = links[0]
        other = _other_side(outcome, made, mc_id if made.side == "crm" else crm_id)
        assert {name: other[name] for name in made.exact} == made.exact
    else:
        members = [(made.side, made.record_id), *made.others]
        listed = {(side, record_id) for side, record_id in outcome.world.con.execute(
            "SELECT side, record_id FROM sync.ambiguous WHERE flow = ?", [made.flow]).fetchall()}
        assert {(made.side, str(made.record_id))} <= listed
        for side, record_id in members:
            assert _links_of(outcome, made.flow, side, record_id) == []
            assert _stamped_elsewhere(outcome, Made(made.flow, side, record_id, AMBIGUOUS), record_id) == []


def _exact_field(record: dict, name: str) -> Any:
    """A top-level field, or the few nested ones the cases name (first address's street / country)."""
    if name in record:
        return record[name]
    address = (record.get("addresses") or [{}])[0]
    return {"street": address.get("street"), "country": address.get("country")}[name]


@pytest.mark.parametrize("name", list(CRM_CASES))
def test_written_in_customcrm(catalogue: Outcome, name: str) -> None:
    _judge(catalogue, catalogue.made[name])


@pytest.mark.parametrize("name", list(MC_CASES))
def test_written_in_membercare(catalogue: Outcome, name: str) -> None:
    _judge(catalogue, catalogue.made[name])


def test_catalogue_is_at_least_forty_kinds_in_all_twenty_per_side() -> None:
    assert len(CRM_CASES) + len(MC_CASES) >= 40 and len(CRM_CASES) >= 20 and len(MC_CASES) >= 20


@pytest.mark.parametrize("side", ["crm", "membercare"])
def test_the_rest_of_the_run_continued(catalogue: Outcome, side: str) -> None:
    resource, record_id, name, value = catalogue.normal_edits[side]
    records = catalogue.snap.mc[resource] if side == "crm" else catalogue.snap.crm[resource]
    assert records[record_id][name] == value


def test_cycle_completed_and_sync_tables_survived(catalogue: Outcome) -> None:
    con = catalogue.world.con
    assert con.execute("SELECT status FROM sync.cycles ORDER BY id DESC LIMIT 1").fetchone() == ("completed",)
    tables = {name for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'sync'").fetchall()}
    assert set(SYNC_TABLES) <= tables


def test_every_refusal_was_seen_in_advance(catalogue: Outcome) -> None:
    """No write the sync sent was refused by the target: bad values are caught before any request."""
    refused = catalogue.world.con.execute(
        "SELECT flow, direction, operation, crm_id, mc_id, reason FROM sync.outbox WHERE status = 'rejected'"
    ).fetchall()
    assert refused == []


def test_a_second_cycle_writes_nothing(catalogue: Outcome) -> None:
    """Rejects and waits are stable: nothing is retried against either system, nothing flip-flops."""
    catalogue.world.clear_stats()
    catalogue.world.cycle()
    assert catalogue.world.write_requests() == {"customcrm": {}, "membercare": {}}
