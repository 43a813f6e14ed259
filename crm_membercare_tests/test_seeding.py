"""The seed generator: determinism, counts, exact overlap, shared records equal under the mapping, valid shapes."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import phonenumbers
import pytest

from crm_membercare.sandbox.countries import ISO2_BY_COUNTRY_ID
from crm_membercare.sandbox.money import document_total
from crm_membercare.sandbox.seeding import CHUNK_SIZE, generate
from crm_membercare.sandbox.seeding.norway import is_valid_org_number, org_number

NOW = datetime(2026, 11, 27, 9, 15, 2, tzinfo=UTC)
SEED = 42
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
CRM_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LOCAL_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
MIDNIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}T00:00:00$")

CRM_COMMON = {"id", "created_at", "updated_at", "version", "archived", "external_ref"}
CRM_FIELDS = {
    "users": CRM_COMMON | {"email", "first_name", "last_name", "phone", "role", "active"},
    "customers": CRM_COMMON | {
        "name", "org_number", "email", "phone", "website", "street", "postal_code", "city", "country",
        "customer_type", "owner_id",
    },
    "contacts": CRM_COMMON | {
        "first_name", "last_name", "email", "phone", "title", "customer_id", "street", "postal_code", "city",
        "country", "birth_date", "newsletter", "owner_id",
    },
    "products": CRM_COMMON | {"sku", "name", "description", "price", "currency", "vat_rate", "unit", "active"},
    "orders": CRM_COMMON | {
        "order_number", "customer_id", "contact_id", "order_date", "due_date", "status", "currency", "lines",
        "total", "notes", "owner_id",
    },
    "quotes": CRM_COMMON | {
        "quote_number", "customer_id", "contact_id", "quote_date", "valid_until", "status", "currency", "lines",
        "total", "owner_id",
    },
}
CRM_LINE = {"product_id", "description", "quantity", "unit_price", "discount_percent", "vat_rate"}
MC_FIELDS = {
    "companies": {
        "debtorAccountNumber", "companyName", "organizationNumber", "url", "companyType", "contacts", "addresses",
        "closeDate", "closeReason", "externalId", "lastChange",
    },
    "persons": {
        "debtorAccountNumber", "firstname", "lastname", "name", "gender", "birthDate", "socialSecurityNumber",
        "contacts", "addresses", "employments", "allowEmail", "allowSms", "memberType", "closeDate", "closeReason",
        "externalId", "lastChange",
    },
    "products": {
        "id", "productNumber", "name", "description", "price", "currency", "vatRate", "unit", "active", "externalId",
        "lastChange",
    },
    "invoices": {
        "id", "invoiceNumber", "invoiceType", "status", "debtorAccountNumber", "contactPersonDebtorAccountNumber",
        "orderReference", "invoiceDate", "payDueDate", "currency", "invoiceItems", "totalAmount", "text",
        "ourReference", "ourReferenceEmail", "externalId", "lastChange",
    },
}
MC_ITEM = {"productId", "description", "quantity", "unitPrice", "discountPercent", "vatRate"}
MC_ADDRESS = {"id", "street", "postalCode", "country"}
ORDER_STATUS = {"draft": "Draft", "confirmed": "Draft", "invoiced": "Sent", "paid": "Paid", "cancelled": "Credited"}
QUOTE_STATUS = {"draft": "Draft", "sent": "Sent", "accepted": "Sent", "declined": "Credited", "expired": "Credited"}
TYPES = {"company": "Business", "nonprofit": "Nonprofit", "public": "Public"}
UNITS = {"pcs": "Piece", "hour": "Hour", "month": "Month", "year": "Year"}


def collect(system, seed=SEED, scale="small", overlap=0.3, now=NOW) -> dict[str, list[dict]]:
    records: dict[str, list[dict]] = {}
    for resource, chunk in generate(system, seed, scale, overlap, now):
        assert 0 < len(chunk) <= CHUNK_SIZE
        records.setdefault(resource, []).extend(chunk)
    return records


@lru_cache(maxsize=16)
def side(system: str, overlap: float = 0.3, scale: str = "small", seed: int = SEED) -> dict[str, list[dict]]:
    """Cached: tests read these records and never change them."""
    return collect(system, seed, scale, overlap)


def first_of(contacts: list[dict], kind: str) -> str | None:
    return next((c["value"] for c in contacts if c["contactType"] == kind), None)


def counts(records: dict[str, list[dict]]) -> dict[str, int]:
    return {resource: len(rows) for resource, rows in records.items()}


# --- determinism and counts -----------------------------------------------------------------------------------


def test_same_arguments_give_the_same_records_and_another_seed_gives_others():
    for system in ("customcrm", "membercare"):
        assert collect(system) == side(system)
        other = collect(system, seed=SEED + 1)
        assert counts(other) == counts(side(system))
        assert other != side(system)
    crm_emails = {c["email"] for c in side("customcrm")["contacts"]}
    assert len(crm_emails & {c["email"] for c in collect("customcrm", seed=SEED + 1)["contacts"]}) < 10


def test_small_counts_follow_design_a3_in_dependency_order():
    crm, mc = side("customcrm"), side("membercare")
    assert list(crm) == ["users", "customers", "contacts", "products", "orders", "quotes"]
    assert counts(crm) == {"users": 10, "customers": 80, "contacts": 300, "products": 40, "orders": 150, "quotes": 60}
    assert list(mc) == ["companies", "persons", "products", "invoices"]
    assert counts(mc) == {"companies": 80, "persons": 300, "products": 40, "invoices": 210}
    types = [invoice["invoiceType"] for invoice in mc["invoices"]]
    assert types.count("Invoice") == 150 and types.count("Proforma") == 60
    assert 900 <= sum(counts(crm).values()) + sum(counts(mc).values()) <= 1400


def test_medium_is_about_fifty_thousand_records_in_all():
    started = time.perf_counter()
    total = sum(len(chunk) for system in ("customcrm", "membercare")
                for _, chunk in generate(system, SEED, "medium", 0.3, NOW))
    print(f"medium, both sides: {total} records in {time.perf_counter() - started:.1f} s")
    assert 45_000 <= total <= 55_000


def test_dict_scale_takes_either_sides_names_and_splits_invoices():
    scale = {"persons": 12, "companies": 3, "products": 4, "invoices": 7}
    assert counts(collect("customcrm", scale=scale)) == {
        "customers": 3, "contacts": 12, "products": 4, "orders": 5, "quotes": 2,
    }
    assert counts(collect("membercare", scale=scale)) == {"companies": 3, "persons": 12, "products": 4, "invoices": 7}
    assert counts(collect("customcrm", scale={"contacts": 5, "orders": 3, "invoices": 10})) == {
        "contacts": 5, "orders": 3, "quotes": 7,
    }


def test_documents_cope_with_missing_parents():
    private = collect("customcrm", scale={"contacts": 20, "orders": 10, "quotes": 5}, overlap=0.5)
    assert all(o["customer_id"] is None and o["contact_id"] is not None for o in private["orders"])
    assert all(line["product_id"] is None for o in private["orders"] for line in o["lines"])
    mc = collect("membercare", scale={"companies": 4, "invoices": 10}, overlap=0.5)
    assert all(i["debtorAccountNumber"] and i["contactPersonDebtorAccountNumber"] is None for i in mc["invoices"])
    assert collect("customcrm", scale={"products": 3, "orders": 10}) == {"products": collect(
        "customcrm", scale={"products": 3})["products"]}
    assert collect("membercare", scale={}) == {}


@pytest.mark.parametrize("bad", [
    {"system": "salesforce"},
    {"scale": "huge"},
    {"scale": {"widgets": 3}},
    {"scale": {"contacts": -1}},
    {"scale": {"contacts": 3, "persons": 4}},
    {"scale": {"orders": 9, "invoices": 5}},
    {"overlap": 1.5},
    {"now": datetime(2026, 1, 1)},
])
def test_bad_arguments_fail_before_any_record_is_made(bad):
    arguments = {"system": "customcrm", "seed": 1, "scale": "small", "overlap": 0.3, "now": NOW} | bad
    with pytest.raises(ValueError):
        generate(**arguments)


def test_chunks_hold_at_most_ten_thousand_records():
    sizes = [len(chunk) for resource, chunk in generate("membercare", 1, {"persons": 10_001}, 0.0, NOW)]
    assert sizes == [CHUNK_SIZE, 1]


# --- overlap --------------------------------------------------------------------------------------------------


def match_keys(records: dict[str, list[dict]], system: str) -> dict[str, set[str]]:
    if system == "customcrm":
        return {
            "contacts": {c["email"] for c in records["contacts"] if c["email"]},
            "customers": {c["org_number"] for c in records["customers"] if c["org_number"]},
            "products": {p["sku"] for p in records["products"]},
            "orders": {o["order_number"] for o in records["orders"]},
            "quotes": {q["quote_number"] for q in records["quotes"]},
        }
    invoices = records["invoices"]
    return {
        "contacts": {e for p in records["persons"] if (e := first_of(p["contacts"], "Email"))},
        "customers": {c["organizationNumber"] for c in records["companies"] if c["organizationNumber"]},
        "products": {p["productNumber"] for p in records["products"]},
        "orders": {i["orderReference"] for i in invoices if i["invoiceType"] == "Invoice" and i["orderReference"]},
        "quotes": {i["orderReference"] for i in invoices if i["invoiceType"] == "Proforma" and i["orderReference"]},
    }


@pytest.mark.parametrize("overlap", [0.0, 0.3, 1.0])
def test_exactly_the_overlap_share_of_each_pair_is_shared(overlap):
    crm, mc = side("customcrm", overlap), side("membercare", overlap)
    crm_keys, mc_keys = match_keys(crm, "customcrm"), match_keys(mc, "membercare")
    sizes = {"contacts": 300, "customers": 80, "products": 40, "orders": 150, "quotes": 60}
    for pair, size in sizes.items():
        assert len(crm_keys[pair] & mc_keys[pair]) == round(overlap * size), pair
    # company e-mails are the fallback key of B2: only the twins may share one
    crm_mail = {c["email"] for c in crm["customers"] if c["email"]}
    mc_mail = {first_of(c["contacts"], "Email") for c in mc["companies"]} - {None}
    shared_orgs = crm_keys["customers"] & mc_keys["customers"]
    twins = {c["email"] for c in crm["customers"] if c["org_number"] in shared_orgs}
    assert crm_mail & mc_mail <= twins


def test_membercare_only_invoices_reference_no_crm_number():
    crm, mc = side("customcrm"), side("membercare")
    numbers = {o["order_number"] for o in crm["orders"]} | {q["quote_number"] for q in crm["quotes"]}
    foreign = [i["orderReference"] for i in mc["invoices"] if i["orderReference"] not in numbers]
    assert len(foreign) == 210 - round(0.3 * 150) - round(0.3 * 60)
    assert all(reference is None or reference.startswith("PO-") for reference in foreign)


def test_shared_records_do_not_line_up_by_id():
    crm, mc = side("customcrm", 1.0), side("membercare", 1.0)
    crm_ids = [p["id"] for p in sorted(crm["products"], key=lambda p: p["sku"])]
    mc_ids = [p["id"] for p in sorted(mc["products"], key=lambda p: p["productNumber"])]
    assert crm_ids != mc_ids


# --- shared records are equal under the mapping ---------------------------------------------------------------


class Twins:
    """Both sides of one seed, indexed by the keys the flows match on."""

    def __init__(self, overlap: float) -> None:
        self.overlap = overlap
        self.crm, self.mc = side("customcrm", overlap), side("membercare", overlap)
        self.crm_by = {res: {r["id"]: r for r in rows} for res, rows in self.crm.items()}
        self.debtors = {d["debtorAccountNumber"]: d for d in self.mc["companies"] + self.mc["persons"]}
        self.mc_products = {p["id"]: p for p in self.mc["products"]}
        self.persons_by_email = {e: p for p in self.mc["persons"] if (e := first_of(p["contacts"], "Email"))}
        self.companies_by_org = {c["organizationNumber"]: c for c in self.mc["companies"] if c["organizationNumber"]}
        self.invoices_by_reference = {i["orderReference"]: i for i in self.mc["invoices"] if i["orderReference"]}


@pytest.fixture(scope="module", params=[0.3, 1.0])
def twins(request) -> Twins:
    return Twins(request.param)


def check_address(crm: dict, mc: dict) -> None:
    if crm["street"] is None:
        assert mc["addresses"] == []
        return
    primary = mc["addresses"][0]
    assert (primary["street"], primary["postalCode"]["zipCode"], primary["postalCode"]["city"]) == (
        crm["street"], crm["postal_code"], crm["city"])
    assert ISO2_BY_COUNTRY_ID[primary["country"]["id"]] == crm["country"]


def e164(typed: str | None, country: str | None) -> str | None:
    if typed is None:
        return None
    number = phonenumbers.parse(typed, country or "NO")
    assert phonenumbers.is_valid_number(number), typed
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_shared_customers_equal_their_companies(twins):
    shared = [c for c in twins.crm["customers"] if c["org_number"] in twins.companies_by_org]
    assert shared
    for customer in shared:
        company = twins.companies_by_org[customer["org_number"]]
        assert company["companyName"] == customer["name"]
        assert first_of(company["contacts"], "Email") == customer["email"]
        assert first_of(company["contacts"], "Phone") == e164(customer["phone"], customer["country"])
        assert company["url"] == customer["website"]
        assert company["companyType"] == TYPES[customer["customer_type"]]
        check_address(customer, company)


def test_shared_contacts_equal_their_persons(twins):
    shared = [c for c in twins.crm["contacts"] if c["email"] in twins.persons_by_email]
    assert shared
    for contact in shared:
        person = twins.persons_by_email[contact["email"]]
        assert (person["firstname"], person["lastname"]) == (contact["first_name"], contact["last_name"])
        assert first_of(person["contacts"], "Mobile") == e164(contact["phone"], contact["country"])
        assert person["birthDate"] == (contact["birth_date"] and f"{contact['birth_date']}T00:00:00")
        assert person["allowEmail"] == contact["newsletter"]
        check_address(contact, person)
        if contact["customer_id"] is None:
            assert person["employments"] == [] and contact["title"] is None
        else:
            employment = person["employments"][0]
            company = twins.debtors[employment["companyDebtorAccountNumber"]]
            assert company["organizationNumber"] == twins.crm_by["customers"][contact["customer_id"]]["org_number"]
            assert employment["position"] == contact["title"]


def test_shared_products_are_equal(twins):
    by_number = {p["productNumber"]: p for p in twins.mc["products"]}
    shared = [p for p in twins.crm["products"] if p["sku"] in by_number]
    assert shared
    for product in shared:
        twin = by_number[product["sku"]]
        assert (twin["name"], twin["description"], twin["price"], twin["currency"], twin["vatRate"], twin["active"]) \
            == (product["name"], product["description"], product["price"], product["currency"], product["vat_rate"],
                product["active"])
        assert twin["unit"] == UNITS[product["unit"]]


@pytest.mark.parametrize("resource", ["orders", "quotes"])
def test_shared_documents_equal_their_invoices(twins, resource):
    is_quote = resource == "quotes"
    number_key = "quote_number" if is_quote else "order_number"
    shared = [d for d in twins.crm[resource] if d[number_key] in twins.invoices_by_reference]
    assert shared and len(shared) == round(twins.overlap * len(twins.crm[resource]))
    users = twins.crm_by["users"]
    for document in shared:
        invoice = twins.invoices_by_reference[document[number_key]]
        assert invoice["invoiceType"] == ("Proforma" if is_quote else "Invoice")
        debtor = twins.debtors[invoice["debtorAccountNumber"]]
        contact = twins.crm_by["contacts"].get(document["contact_id"])
        if document["customer_id"] is not None:
            customer = twins.crm_by["customers"][document["customer_id"]]
            assert debtor.get("organizationNumber") == customer["org_number"]
            person = twins.debtors.get(invoice["contactPersonDebtorAccountNumber"])
            assert (first_of(person["contacts"], "Email") if person else None) == (contact and contact["email"])
        else:
            assert first_of(debtor["contacts"], "Email") == contact["email"]
            assert invoice["contactPersonDebtorAccountNumber"] is None
        day, due = ("quote_date", "valid_until") if is_quote else ("order_date", "due_date")
        assert invoice["invoiceDate"] == f"{document[day]}T00:00:00"
        assert invoice["payDueDate"] == (document[due] and f"{document[due]}T00:00:00")
        if is_quote:
            assert invoice["status"] in {QUOTE_STATUS[document["status"]]} | (
                {"Paid"} if document["status"] == "accepted" else set())
            assert invoice["text"] is None
        else:
            assert invoice["status"] == ORDER_STATUS[document["status"]]
            assert invoice["text"] == document["notes"]
        assert invoice["currency"] == document["currency"]
        assert invoice["totalAmount"] == document["total"]
        assert len(invoice["invoiceItems"]) == len(document["lines"])
        for line, item in zip(document["lines"], invoice["invoiceItems"], strict=True):
            assert (item["description"], item["quantity"], item["unitPrice"], item["discountPercent"],
                    item["vatRate"]) == (line["description"], line["quantity"], line["unit_price"],
                                         line["discount_percent"], line["vat_rate"])
            if line["product_id"] is None:
                assert item["productId"] is None
            else:
                assert twins.mc_products[item["productId"]]["productNumber"] == \
                    twins.crm_by["products"][line["product_id"]]["sku"]
        owner = users.get(document["owner_id"])
        assert invoice["ourReference"] == (owner and f"{owner['first_name']} {owner['last_name']}")
        assert invoice["ourReferenceEmail"] == (owner and owner["email"])


# --- validity of each side on its own -------------------------------------------------------------------------


def test_org_numbers_are_valid_and_match_keys_unique_per_side():
    crm, mc = side("customcrm"), side("membercare")
    for keys in (match_keys(crm, "customcrm"), match_keys(mc, "membercare")):
        assert all(is_valid_org_number(number) for number in keys["customers"])
    assert len({c["org_number"] for c in crm["customers"] if c["org_number"]}) == sum(
        1 for c in crm["customers"] if c["org_number"])
    assert len({c["organizationNumber"] for c in mc["companies"] if c["organizationNumber"]}) == sum(
        1 for c in mc["companies"] if c["organizationNumber"])
    emails = [c["email"].lower() for c in crm["contacts"] if c["email"]]
    assert len(set(emails)) == len(emails) and all(EMAIL.match(e) for e in emails)
    mc_emails = [e.lower() for p in mc["persons"] if (e := first_of(p["contacts"], "Email"))]
    assert len(set(mc_emails)) == len(mc_emails) and all(EMAIL.match(e) for e in mc_emails)
    assert len({p["sku"] for p in crm["products"]}) == 40 and len({p["productNumber"] for p in mc["products"]}) == 40
    assert len({u["email"] for u in crm["users"]}) == 10


def test_org_numbers_stay_valid_and_distinct_far_beyond_large():
    numbers = [org_number(unique, 12345) for unique in range(0, 600_000, 3)]
    assert len(set(numbers)) == len(numbers)
    assert all(is_valid_org_number(n) and n[0] in "89" for n in numbers)


def test_membercare_phones_are_e164_and_crm_phones_as_typed():
    mc = side("membercare")
    values = [c for d in mc["companies"] + mc["persons"] for c in d["contacts"]]
    phones = [c["value"] for c in values if c["contactType"] in ("Mobile", "Phone")]
    assert phones and all(E164.match(p) for p in phones)
    assert all(EMAIL.match(c["value"]) for c in values if c["contactType"] == "Email")
    typed = [c["phone"] for c in side("customcrm")["contacts"] if c["phone"]]
    assert any(" " in t for t in typed) and any(t.isdigit() for t in typed) and any(t.startswith("+") for t in typed)
    assert any(t.startswith("+46") or t.startswith("07") for t in typed)


def test_every_reference_points_at_an_existing_record():
    crm, mc = side("customcrm"), side("membercare")
    ids = {res: {r["id"] for r in rows} for res, rows in crm.items()}
    for res, rows in crm.items():
        for row in rows:
            assert row.get("owner_id") is None or row["owner_id"] in ids["users"]
            assert row.get("customer_id") is None or row["customer_id"] in ids["customers"]
            assert row.get("contact_id") is None or row["contact_id"] in ids["contacts"]
            if res in ("orders", "quotes"):
                assert row["customer_id"] or row["contact_id"]
                assert all(line["product_id"] is None or line["product_id"] in ids["products"]
                           for line in row["lines"])
    companies = {c["debtorAccountNumber"] for c in mc["companies"]}
    persons = {p["debtorAccountNumber"] for p in mc["persons"]}
    products = {p["id"] for p in mc["products"]}
    assert all(e["companyDebtorAccountNumber"] in companies for p in mc["persons"] for e in p["employments"])
    for invoice in mc["invoices"]:
        assert invoice["debtorAccountNumber"] in companies | persons
        assert invoice["contactPersonDebtorAccountNumber"] in persons | {None}
        assert all(item["productId"] in products | {None} for item in invoice["invoiceItems"])


def test_records_carry_every_field_of_design_part_a():
    crm, mc = side("customcrm"), side("membercare")
    for res, rows in crm.items():
        assert all(set(row) == CRM_FIELDS[res] for row in rows), res
        assert [row["id"] for row in rows] == list(range(1, len(rows) + 1))
        assert all(row["version"] == 1 and row["archived"] is False and row["external_ref"] is None for row in rows)
    assert all(set(line) == CRM_LINE for res in ("orders", "quotes") for row in crm[res] for line in row["lines"])
    assert [o["order_number"] for o in crm["orders"][:2]] == ["SO-10001", "SO-10002"]
    assert [q["quote_number"] for q in crm["quotes"][:2]] == ["Q-1001", "Q-1002"]
    assert all(o["total"] == document_total(o["lines"], ("quantity", "unit_price", "discount_percent", "vat_rate"))
               for o in crm["orders"])
    for res, rows in mc.items():
        assert all(set(row) == MC_FIELDS[res] for row in rows), res
        assert all(row["externalId"] is None and LOCAL_STAMP.match(row["lastChange"]) for row in rows)
    debtors = [d["debtorAccountNumber"] for d in mc["companies"] + mc["persons"]]
    assert debtors == [str(n) for n in range(10001, 10001 + len(debtors))]
    addresses = [a for d in mc["companies"] + mc["persons"] for a in d["addresses"]]
    assert all(set(a) == MC_ADDRESS for a in addresses)
    assert len({a["id"] for a in addresses}) == len(addresses)
    assert all(p["name"] == f"{p['firstname']} {p['lastname']}" for p in mc["persons"])
    assert all(set(item) == MC_ITEM for i in mc["invoices"] for item in i["invoiceItems"])
    numbers = [i["invoiceNumber"] for i in mc["invoices"] if i["status"] != "Draft"]
    assert numbers == list(range(1, len(numbers) + 1))
    assert all(i["invoiceNumber"] is None for i in mc["invoices"] if i["status"] == "Draft")
    assert all(MIDNIGHT.match(i["invoiceDate"]) for i in mc["invoices"])


def test_membercare_persons_carry_data_the_sync_does_not_own():
    persons = side("membercare")["persons"]
    share = {
        "second address": sum(len(p["addresses"]) > 1 for p in persons),
        "extra contacts": sum(any(c["contactType"] == "Phone" for c in p["contacts"]) for p in persons),
        "national id": sum(p["socialSecurityNumber"] is not None for p in persons),
        "gender": sum(p["gender"] != 0 for p in persons),
        "member type": sum(p["memberType"] != 1 for p in persons),
        "sms": sum(p["allowSms"] for p in persons),
    }
    assert all(5 <= n < len(persons) for n in share.values()), share
    for person in persons:
        if person["socialSecurityNumber"]:
            number = person["socialSecurityNumber"]["number"]
            assert valid_national_identity_number(number), number
            born = person["birthDate"]
            assert number[:6] == f"{born[8:10]}{born[5:7]}{born[2:4]}"


def valid_national_identity_number(number: str) -> bool:
    digits = [int(c) for c in number]
    checks = []
    for weights in ((3, 7, 6, 1, 8, 9, 4, 5, 2), (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)):
        checks.append((11 - sum(w * d for w, d in zip(weights, digits, strict=False)) % 11) % 11)
    return len(digits) == 11 and checks == digits[9:]


def test_realistic_mixes_and_timestamps_before_now():
    crm, mc = side("customcrm"), side("membercare")
    assert {o["status"] for o in crm["orders"]} == set(ORDER_STATUS)
    assert {i["status"] for i in mc["invoices"]} == {"Draft", "Sent", "Paid", "Credited"}
    assert {p["vat_rate"] for p in crm["products"]} == {25, 15, 12, 0}
    assert all(1 <= len(o["lines"]) <= 5 for o in crm["orders"])
    countries = [c["country"] for c in crm["contacts"] if c["country"]]
    assert countries.count("NO") > len(countries) * 0.7 and len(set(countries)) >= 3
    assert 0 < sum(c["birth_date"] is None for c in crm["contacts"]) < 300
    earliest = NOW - timedelta(days=731)
    for rows in crm.values():
        for row in rows:
            assert CRM_STAMP.match(row["created_at"]) and row["created_at"] <= row["updated_at"]
            created = datetime.fromisoformat(row["created_at"])
            assert earliest < created <= datetime.fromisoformat(row["updated_at"]) < NOW
