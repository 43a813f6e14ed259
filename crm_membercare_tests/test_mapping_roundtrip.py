"""Property-based round trips (DESIGN Part B): every row of every flow, both ways.

CRM side: to_crm(to_mc(x)) == x for every value the CRM can hold in its normal form (E.164 phones, money with
two places). MemberCare side: a record read, written to the CRM and mapped back gives the same full record.
Lossy rows are checked for their documented result instead; one-way rows are never written to the CRM.
"""

from __future__ import annotations

from datetime import date

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_membercare.mapping import (
    FLOWS,
    CountryTable,
    InMemoryLinks,
    MappingContext,
    apply_common_to_mc,
    common_to_crm_patch,
    crm_to_common,
    fields_agree,
    mc_to_common,
)
from crm_membercare.mapping.rows import CarriedWith, Simple
from crm_membercare.mapping.transforms import EnumCodec
from crm_membercare.sandbox.countries import COUNTRIES

TABLE = CountryTable.from_api([{"id": c, "name": n, "iso2Letter": a} for c, n, a in COUNTRIES])
LINKS = InMemoryLinks()
for flow_name, crm_id, mc_id in [("customers_companies", 5, "10001"), ("customers_companies", 6, "10003"),
                                 ("contacts_persons", 7, "10002"), ("contacts_persons", 8, "10004"),
                                 ("products_products", 3, 9), ("products_products", 4, 10)]:
    LINKS.add(flow_name, crm_id, mc_id)
CTX = MappingContext(LINKS, TABLE)
FLOW = {flow.name: flow for flow in FLOWS}
ABSENT = object()

E164 = sorted({
    phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    for _, _, region in COUNTRIES
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
    if (number := phonenumbers.example_number_for_type(region, kind)) is not None
})

text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
names = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Z")), min_size=1, max_size=12)
emails = st.emails()
phones = st.sampled_from(E164)
iso_dates = st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(date.isoformat)
mc_dates = iso_dates.map(lambda d: f"{d}T00:00:00")
alpha2 = st.sampled_from([iso2 for _, _, iso2 in COUNTRIES])
country_ids = st.sampled_from([country_id for country_id, _, _ in COUNTRIES])
currencies = st.sampled_from(["NOK", "SEK", "EUR", "USD"])
digits = st.from_regex(r"\A[0-9]{9}\Z")


def number(low: int, high: int) -> st.SearchStrategy:
    """A JSON number as a parser hands it over: an int, or the float whose text has at most two decimals."""
    return st.decimals(low, high, places=2).map(lambda d: int(d) if d == d.to_integral_value() else float(d))


def opt(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


def line(product_ids) -> st.SearchStrategy:
    return st.fixed_dictionaries({
        "product_id": opt(st.sampled_from(product_ids)), "description": text, "quantity": number(0, 10_000),
        "unit_price": number(-100_000, 100_000), "discount_percent": number(0, 100), "vat_rate": number(0, 100),
    })


def with_debtor(record: dict) -> bool:
    return record["customer_id"] is not None or record["contact_id"] is not None


CRM_RECORDS = {
    "products_products": st.fixed_dictionaries({
        "sku": names, "name": names, "description": opt(text), "price": number(-10**6, 10**6),
        "currency": currencies, "vat_rate": number(0, 100), "unit": st.sampled_from(["pcs", "hour", "month", "year"]),
        "active": st.booleans()}),
    "customers_companies": st.fixed_dictionaries({
        "name": names, "org_number": opt(digits), "email": opt(emails), "phone": opt(phones), "website": opt(text),
        "street": opt(text), "postal_code": opt(text), "city": opt(text), "country": opt(alpha2),
        "customer_type": st.sampled_from(["company", "nonprofit", "public"])}),
    "contacts_persons": st.fixed_dictionaries({
        "first_name": names, "last_name": names, "email": opt(emails), "phone": opt(phones), "title": opt(text),
        "customer_id": opt(st.sampled_from([5, 6])), "street": opt(text), "postal_code": opt(text),
        "city": opt(text), "country": opt(alpha2), "birth_date": opt(iso_dates), "newsletter": st.booleans()}),
    "orders_invoices": st.fixed_dictionaries({
        "order_number": names, "customer_id": opt(st.sampled_from([5, 6])), "contact_id": opt(st.sampled_from([7, 8])),
        "order_date": iso_dates, "due_date": opt(iso_dates),
        "status": st.sampled_from(["draft", "confirmed", "invoiced", "paid", "cancelled"]), "currency": currencies,
        "lines": st.lists(line([3, 4]), max_size=3), "notes": opt(text)}).filter(with_debtor),
    "quotes_invoices": st.fixed_dictionaries({
        "quote_number": names, "customer_id": opt(st.sampled_from([5, 6])), "contact_id": opt(st.sampled_from([7, 8])),
        "quote_date": iso_dates, "valid_until": opt(iso_dates),
        "status": st.sampled_from(["draft", "sent", "accepted", "declined", "expired"]), "currency": currencies,
        "lines": st.lists(line([3, 4]), max_size=3)}).filter(with_debtor),
    "users_invoices": st.fixed_dictionaries({"first_name": names, "last_name": names, "email": emails}),
}

contact_entries = st.lists(st.one_of(
    st.fixed_dictionaries({"contactType": st.just("Email"), "value": emails}),
    st.fixed_dictionaries({"contactType": st.sampled_from(["Mobile", "Phone"]), "value": phones}),
), max_size=5)
addresses = st.lists(st.fixed_dictionaries({
    "id": st.integers(1, 10_000), "street": opt(text),
    "postalCode": opt(st.fixed_dictionaries({"zipCode": opt(text), "city": opt(text)})),
    "country": opt(st.fixed_dictionaries({"id": country_ids}))}), max_size=3)
employments = st.lists(st.fixed_dictionaries({
    "companyDebtorAccountNumber": st.sampled_from(["10001", "10003"]), "position": opt(text)}), max_size=2)
items = st.lists(st.fixed_dictionaries({
    "productId": opt(st.sampled_from([9, 10])), "description": text, "quantity": number(0, 10_000),
    "unitPrice": number(-100_000, 100_000), "discountPercent": number(0, 100), "vatRate": number(0, 100)}),
    max_size=3)
debtors = st.one_of(
    st.fixed_dictionaries({"debtorAccountNumber": st.sampled_from(["10001", "10003"]),
                           "contactPersonDebtorAccountNumber": opt(st.sampled_from(["10002", "10004"]))}),
    st.fixed_dictionaries({"debtorAccountNumber": st.sampled_from(["10002", "10004"]),
                           "contactPersonDebtorAccountNumber": st.none()}),
)


def invoice(invoice_type: str, statuses: list[str]) -> st.SearchStrategy:
    fields = st.fixed_dictionaries({
        "id": st.integers(1, 10_000), "invoiceNumber": opt(st.integers(1, 10_000)),
        "invoiceType": st.just(invoice_type), "status": st.sampled_from(statuses), "orderReference": names,
        "invoiceDate": mc_dates, "payDueDate": opt(mc_dates), "currency": currencies, "invoiceItems": items,
        "text": opt(text), "ourReference": opt(text), "ourReferenceEmail": opt(emails),
        "totalAmount": number(0, 10**6), "externalId": opt(text), "lastChange": st.just("2026-11-27T09:15:02")})
    return st.tuples(fields, debtors).map(lambda pair: {**pair[0], **pair[1]})


STATUSES = ["Draft", "Sent", "Paid", "Credited"]
MC_RECORDS = {
    "products_products": st.fixed_dictionaries({
        "id": st.integers(1, 10_000), "productNumber": names, "name": names, "description": opt(text),
        "price": number(-10**6, 10**6), "currency": currencies, "vatRate": number(0, 100),
        "unit": st.sampled_from(["Piece", "Hour", "Month", "Year"]), "active": st.booleans(),
        "externalId": opt(text), "lastChange": st.just("2026-03-29T03:00:00")}),
    "customers_companies": st.fixed_dictionaries({
        "debtorAccountNumber": st.just("10001"), "companyName": names, "organizationNumber": opt(digits),
        "url": opt(text), "companyType": st.sampled_from(["Business", "Nonprofit", "Public"]),
        "contacts": contact_entries, "addresses": addresses, "closeDate": st.none(), "externalId": opt(text)}),
    "contacts_persons": st.fixed_dictionaries({
        "debtorAccountNumber": st.just("10002"), "firstname": names, "lastname": names,
        "gender": st.sampled_from([0, 1, 2]), "birthDate": opt(mc_dates),
        "socialSecurityNumber": opt(st.fixed_dictionaries({"number": digits, "iso2Letter": alpha2})),
        "contacts": contact_entries, "addresses": addresses, "employments": employments,
        "allowEmail": st.booleans(), "allowSms": st.booleans(), "memberType": st.integers(1, 5)}),
    "orders_invoices": invoice("Invoice", STATUSES),
    "quotes_invoices": invoice("Proforma", STATUSES),
    "users_invoices": invoice("Invoice", STATUSES),
}

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.filter_too_much])


def documented_crm_result(row, record: dict, patch: dict) -> None:
    """A lossy row's CRM value after a trip through MemberCare, as its `lossy_note` says."""
    transform = row.transform
    if isinstance(transform, CarriedWith):
        expected = record[row.key] if record.get(transform.with_field) is not None else ABSENT
        assert patch.get(row.key, ABSENT) == expected
    elif isinstance(transform, Simple) and isinstance(transform.codec, EnumCodec):
        codec = transform.codec
        assert patch[row.key] == codec.from_mc(codec.to_mc(record[row.key], CTX), {}, CTX)
    else:
        raise AssertionError(f"no documented result for lossy row {row.key}")


@pytest.mark.parametrize("flow_name", list(FLOW))
def test_crm_values_round_trip_through_membercare(flow_name):
    flow = FLOW[flow_name]

    @FAST
    @given(CRM_RECORDS[flow_name])
    def check(record):
        common = crm_to_common(flow, record)
        body = apply_common_to_mc(flow, common, None, CTX)
        back = mc_to_common(flow, body, CTX)
        for row in flow.rows:
            assert fields_agree(flow, row.key, common[row.key], back[row.key]), row.key
            if not row.lossy:
                assert back[row.key] == common[row.key], row.key
        patch = common_to_crm_patch(flow, back)
        for row in flow.rows:
            if row.direction == "to_membercare":
                assert not set(row.crm_fields) & set(patch), f"{row.key} is written to the CRM"
            elif row.lossy:
                documented_crm_result(row, record, patch)
            else:
                assert {f: patch[f] for f in row.crm_fields} == {f: record[f] for f in row.crm_fields}, row.key

    check()


@pytest.mark.parametrize("flow_name", list(FLOW))
def test_membercare_values_round_trip_through_the_crm(flow_name):
    flow = FLOW[flow_name]

    @FAST
    @given(MC_RECORDS[flow_name])
    def check(record):
        common = mc_to_common(flow, record, CTX)
        crm_record = common_to_crm_patch(flow, common)
        back = crm_to_common(flow, crm_record)
        for row in flow.rows:
            if row.direction == "to_membercare":
                back[row.key] = common[row.key]  # the CRM keeps its own value; MemberCare's never travels
        body = apply_common_to_mc(flow, back, record, CTX)
        expected = dict(record)
        for row in flow.rows:
            if row.lossy and isinstance(row.transform, Simple) and isinstance(row.transform.codec, EnumCodec):
                codec, path = row.transform.codec, row.transform.mc
                path.put(expected, codec.to_mc(codec.from_mc(path.get(record), record, CTX), CTX))
        assert body == expected

    check()


def test_quote_paid_comes_back_as_sent_as_documented():
    quotes = FLOW["quotes_invoices"]
    record = {"debtorAccountNumber": "10002", "status": "Paid", "invoiceItems": []}
    common = mc_to_common(quotes, record, CTX)
    assert common["status"] == "accepted"
    assert apply_common_to_mc(quotes, common, record, CTX)["status"] == "Sent"
