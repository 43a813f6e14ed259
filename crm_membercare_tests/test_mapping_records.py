"""Whole records: preservation of unowned data, references, debtors, lossy agreement, validation, hashing."""

from __future__ import annotations

import copy

import pytest

from crm_membercare.mapping import (
    FLOWS,
    CountryTable,
    FieldProblem,
    InMemoryLinks,
    MappingContext,
    UnresolvedReference,
    apply_common_to_mc,
    common_to_crm_patch,
    crm_to_common,
    disagreeing_fields,
    fields_agree,
    flow_by_name,
    mc_to_common,
    problems_for_membercare,
    validate_for_crm,
    validate_for_membercare,
    values_hash,
)
from crm_membercare.sandbox.countries import COUNTRIES

COUNTRY_TABLE = CountryTable.from_api([{"id": c, "name": n, "iso2Letter": a} for c, n, a in COUNTRIES])
CONTACTS = flow_by_name("contacts_persons")
ORDERS = flow_by_name("orders_invoices")
QUOTES = flow_by_name("quotes_invoices")


def context() -> MappingContext:
    links = InMemoryLinks()
    links.add("customers_companies", 5, "10001")
    links.add("customers_companies", 6, "10003")
    links.add("contacts_persons", 7, "10002")
    links.add("contacts_persons", 8, "10004")
    links.add("products_products", 3, 9)
    return MappingContext(links, COUNTRY_TABLE)


PERSON = {
    "debtorAccountNumber": "10002",
    "firstname": "Kari",
    "lastname": "Nordmann",
    "name": "Kari Nordmann",
    "gender": 2,
    "birthDate": "1980-05-01T00:00:00",
    "socialSecurityNumber": {"number": "01058012345", "iso2Letter": "NO"},
    "contacts": [
        {"contactType": "Phone", "value": "+4722334455"},
        {"contactType": "Email", "value": "kari@example.no"},
        {"contactType": "Mobile", "value": "+4791234567"},
        {"contactType": "Email", "value": "kari.private@example.no"},
    ],
    "addresses": [
        {"id": 1, "street": "Storgata 1", "postalCode": {"zipCode": "0155", "city": "Oslo"}, "country": {"id": 160}},
        {"id": 2, "street": "Hyttevegen 9", "postalCode": {"zipCode": "3550", "city": "Gol"}, "country": {"id": 160}},
        {"id": 3, "street": "Kungsgatan 2", "postalCode": {"zipCode": "11143", "city": "Stockholm"},
         "country": {"id": 206}},
    ],
    "employments": [
        {"companyDebtorAccountNumber": "10001", "position": "CEO"},
        {"companyDebtorAccountNumber": "10003", "position": "Board member"},
    ],
    "allowEmail": True,
    "allowSms": True,
    "memberType": 3,
    "closeDate": None,
    "closeReason": None,
    "externalId": "customcrm:contacts:7",
    "lastChange": "2026-11-27T09:15:02",
}


def test_person_with_three_addresses_and_four_contacts_keeps_the_unowned_ones():
    ctx = context()
    values = mc_to_common(CONTACTS, PERSON, ctx)
    assert values["email"] == "kari@example.no" and values["phone"] == "+4791234567"
    assert values["customer_id"] == 5 and values["title"] == "CEO" and values["country"] == "NO"
    edited = {**values, "city": "Bergen", "postal_code": "5003", "phone": "+47 987 65 432", "email": "k@ex.no",
              "title": "CTO", "newsletter": False}
    edited = crm_to_common(CONTACTS, {**common_to_crm_patch(CONTACTS, edited)})
    body = apply_common_to_mc(CONTACTS, edited, PERSON, ctx)

    assert body["addresses"][0] == {"id": 1, "street": "Storgata 1",
                                    "postalCode": {"zipCode": "5003", "city": "Bergen"}, "country": {"id": 160}}
    assert body["addresses"][1:] == PERSON["addresses"][1:]
    assert body["contacts"] == [
        {"contactType": "Phone", "value": "+4722334455"},
        {"contactType": "Email", "value": "k@ex.no"},
        {"contactType": "Mobile", "value": "+4798765432"},
        {"contactType": "Email", "value": "kari.private@example.no"},
    ]
    assert body["employments"] == [{"companyDebtorAccountNumber": "10001", "position": "CTO"},
                                   PERSON["employments"][1]]
    unowned = ("gender", "socialSecurityNumber", "allowSms", "memberType", "externalId", "debtorAccountNumber")
    assert {k: body[k] for k in unowned} == {k: PERSON[k] for k in unowned}
    assert body["allowEmail"] is False
    assert PERSON["contacts"][1]["value"] == "kari@example.no", "the current record must not be modified"


def test_clearing_owned_values_removes_only_the_owned_entries():
    ctx = context()
    values = {**mc_to_common(CONTACTS, PERSON, ctx), "phone": None, "email": None, "street": None,
              "postal_code": None, "city": None, "country": None}
    body = apply_common_to_mc(CONTACTS, values, PERSON, ctx)
    assert [c["contactType"] for c in body["contacts"]] == ["Phone", "Email"]
    assert body["addresses"][0] == {"id": 1, "street": None, "postalCode": {"zipCode": None, "city": None},
                                    "country": None}
    assert body["addresses"][1:] == PERSON["addresses"][1:]


def test_title_travels_only_with_a_company():
    ctx = context()
    crm = {"first_name": "A", "last_name": "B", "title": "Consultant", "customer_id": None}
    values = crm_to_common(CONTACTS, crm)
    assert values["title"] is None
    body = apply_common_to_mc(CONTACTS, values, {"employments": [{"companyDebtorAccountNumber": "99",
                                                                   "position": "keep"}]}, ctx)
    assert body["employments"] == []
    assert "title" not in common_to_crm_patch(CONTACTS, values), "an unlinked title is never cleared in the CRM"


def test_unlinked_reference_raises_so_the_change_can_wait():
    crm = {"first_name": "A", "last_name": "B", "customer_id": 404}
    with pytest.raises(UnresolvedReference) as unresolved:
        apply_common_to_mc(CONTACTS, crm_to_common(CONTACTS, crm), None, context())
    error = unresolved.value
    assert (error.flow, error.field, error.through, error.record_id) == (
        "contacts_persons", "customer_id", "customers_companies", 404)
    with pytest.raises(UnresolvedReference) as unresolved:
        mc_to_common(ORDERS, {"debtorAccountNumber": "55555", "invoiceItems": []}, context())
    assert unresolved.value.field == "debtor"


def order(**fields):
    return {"order_number": "SO-10001", "customer_id": None, "contact_id": None, "order_date": "2026-01-15",
            "due_date": "2026-02-14", "status": "draft", "currency": "NOK", "notes": None,
            "lines": [{"product_id": 3, "description": "Seat", "quantity": 2, "unit_price": 0.1,
                       "discount_percent": 0, "vat_rate": 25}], **fields}


@pytest.mark.parametrize(
    ("customer_id", "contact_id", "debtor", "contact_person"),
    [(5, 7, "10001", "10002"), (5, None, "10001", None), (None, 7, "10002", None)],
)
def test_invoice_debtor_is_the_company_when_there_is_one_else_the_person(customer_id, contact_id, debtor,
                                                                         contact_person):
    ctx = context()
    values = crm_to_common(ORDERS, order(customer_id=customer_id, contact_id=contact_id))
    body = apply_common_to_mc(ORDERS, values, None, ctx)
    assert (body["debtorAccountNumber"], body["contactPersonDebtorAccountNumber"]) == (debtor, contact_person)
    assert body["invoiceType"] == "Invoice"
    back = common_to_crm_patch(ORDERS, mc_to_common(ORDERS, body, ctx))
    assert (back["customer_id"], back["contact_id"]) == (customer_id, contact_id)


def test_moving_an_invoice_to_a_person_debtor_empties_the_crm_customer():
    ctx = context()
    invoice = apply_common_to_mc(ORDERS, crm_to_common(ORDERS, order(customer_id=5, contact_id=7)), None, ctx)
    invoice.update(debtorAccountNumber="10004", contactPersonDebtorAccountNumber=None)
    patch = common_to_crm_patch(ORDERS, mc_to_common(ORDERS, invoice, ctx))
    assert (patch["customer_id"], patch["contact_id"]) == (None, 8)
    assert "order_number" not in patch, "the CRM assigns order numbers"


def test_lines_carry_exact_amounts_and_product_links():
    ctx = context()
    values = crm_to_common(ORDERS, order(contact_id=7))
    assert values["lines"] == [{"product_id": 3, "description": "Seat", "quantity": "2", "unit_price": "0.10",
                                "discount_percent": "0", "vat_rate": "25"}]
    body = apply_common_to_mc(ORDERS, values, None, ctx)
    assert body["invoiceItems"] == [{"productId": 9, "description": "Seat", "quantity": 2, "unitPrice": 0.1,
                                     "discountPercent": 0, "vatRate": 25}]


@pytest.mark.parametrize(
    ("flow", "crm_status", "mc_status", "agree"),
    [(ORDERS, "confirmed", "Draft", True), (ORDERS, "draft", "Draft", True), (ORDERS, "confirmed", "Sent", False),
     (ORDERS, "cancelled", "Credited", True), (QUOTES, "accepted", "Sent", True), (QUOTES, "accepted", "Paid", True),
     (QUOTES, "sent", "Paid", False), (QUOTES, "expired", "Credited", True), (QUOTES, "draft", "Sent", False)],
)
def test_lossy_status_agrees_when_either_direction_maps_one_onto_the_other(flow, crm_status, mc_status, agree):
    mc_side = mc_to_common(flow, {"status": mc_status, "invoiceItems": []}, context())["status"]
    assert fields_agree(flow, "status", crm_status, mc_side) is agree


def test_disagreeing_fields_uses_the_canonical_form():
    ctx = context()
    crm_values = crm_to_common(ORDERS, order(contact_id=7, status="confirmed", notes=" Note "))
    mc_values = mc_to_common(ORDERS, apply_common_to_mc(ORDERS, crm_values, None, ctx), ctx)
    assert mc_values["status"] == "draft"
    assert disagreeing_fields(ORDERS, crm_values, {**mc_values, "notes": "Note"}) == []
    assert disagreeing_fields(ORDERS, crm_values, {**mc_values, "currency": "SEK"}) == ["currency"]


def test_values_hash_ignores_key_order_and_surrounding_spaces_but_not_content():
    values = crm_to_common(CONTACTS, {"first_name": "Åse", "last_name": "Berg", "email": "Ase@Example.no"})
    reordered = dict(reversed(list({**values, "first_name": " Åse "}.items())))
    assert values_hash(CONTACTS, values) == values_hash(CONTACTS, reordered)
    assert values_hash(CONTACTS, values) == values_hash(CONTACTS, {**values, "email": "ase@example.no"})
    assert values_hash(CONTACTS, values) != values_hash(CONTACTS, {**values, "last_name": "Borg"})


def test_validation_names_each_field_membercare_would_reject():
    person = copy.deepcopy(PERSON)
    person.update(firstname="x" * 10_000_000, lastname=None)
    person["contacts"] = [{"contactType": "Email", "value": "not-an-email"},
                          {"contactType": "Mobile", "value": "91234567"}]
    person["addresses"][0]["street"] = "Gate\x00 1"
    person["allowEmail"] = "yes"
    problems = {p.field: p for p in validate_for_membercare(CONTACTS, person, COUNTRY_TABLE)}
    assert set(problems) == {"first_name", "last_name", "email", "phone", "street", "newsletter"}
    assert problems["last_name"].reason == "is required"
    assert len(problems["first_name"].value) < 300, "a huge value is shortened in the problem"
    assert "control characters" in problems["street"].reason


def test_validation_of_invoice_amounts_and_lines():
    invoice = {"debtorAccountNumber": "10001", "invoiceDate": "2026-01-01T00:00:00", "currency": "nok",
               "status": "Open",
               "invoiceItems": [{"productId": None, "description": "a", "quantity": -1, "unitPrice": 0.125,
                                 "discountPercent": 0, "vatRate": 250},
                                {"description": "b", "quantity": "2", "unitPrice": 1}]}
    problems = validate_for_membercare(ORDERS, invoice)
    assert {p.field: p.reason for p in problems} == {
        "status": "is not one of Draft, Sent, Paid, Credited",
        "currency": "is not a currency code (three capital letters, like NOK)",
        "lines[0].quantity": "must not be negative",
        "lines[0].unit_price": "has more than 2 decimals",
        "lines[0].vat_rate": "must be at most 100",
        "lines[1].quantity": "must be a number",
    }


def test_validation_for_the_crm_knows_partial_bodies():
    contacts = flow_by_name("contacts_persons")
    assert validate_for_crm(contacts, {"country": "NO"}, partial=True) == []
    assert validate_for_crm(contacts, {"country": "Norway", "birth_date": "1.5.1980"}, partial=True) == [
        FieldProblem("birth_date", "is not a date (YYYY-MM-DD)", "1.5.1980"),
        FieldProblem("country", "is not an ISO country code like NO", "Norway"),
    ]
    assert [p.field for p in validate_for_crm(ORDERS, {"order_date": "2026-01-01", "currency": "NOK"})] == [
        "debtor"]


def test_clean_mapped_records_validate_on_both_sides():
    ctx = context()
    assert validate_for_membercare(CONTACTS, PERSON, COUNTRY_TABLE) == []
    values = crm_to_common(ORDERS, order(customer_id=5, contact_id=7))
    assert problems_for_membercare(ORDERS, values, None, ctx) == []
    assert validate_for_crm(ORDERS, common_to_crm_patch(ORDERS, values)) == []
    for flow in FLOWS:
        assert validate_for_membercare(flow, apply_common_to_mc(flow, {}, None, ctx)) == [
            FieldProblem(row.key, "is required", None) for row in flow.rows if row.required
        ]
