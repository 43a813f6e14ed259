"""MemberCare sandbox invoices over real HTTP: lifecycle, numbering, locking, totals, validation."""

from __future__ import annotations

import httpx
import pytest

from crm_membercare_tests.test_membercare_sandbox import admin, api, company, created, error_fields, person, product

__all__ = ["admin", "api"]  # fixtures shared with the sandbox tests


@pytest.fixture
def debtor(api: httpx.Client) -> str:
    return company(api)["debtorAccountNumber"]


def invoice_body(debtor: str, **fields) -> dict:
    return {
        "debtorAccountNumber": debtor,
        "invoiceDate": "2026-11-01T00:00:00",
        "payDueDate": "2026-11-15T00:00:00",
        "currency": "NOK",
        "invoiceItems": [{"description": "Membership", "quantity": 1, "unitPrice": 100, "vatRate": 25}],
        **fields,
    }


def new_invoice(api: httpx.Client, debtor: str, **fields) -> dict:
    return created(api, "invoices", invoice_body(debtor, **fields))


def put(api: httpx.Client, invoice: dict, **changes) -> httpx.Response:
    return api.put(f"/invoices/{invoice['id']}", json={**invoice, **changes})


def test_a_new_invoice_is_a_draft_without_a_number(api, debtor):
    invoice = new_invoice(api, debtor)
    assert (invoice["status"], invoice["invoiceNumber"], invoice["invoiceType"]) == ("Draft", None, "Invoice")
    assert invoice["totalAmount"] == 125.0
    assert api.get("/invoices/ids").json() == {"result": [invoice["id"]]}


def test_invoice_numbers_are_assigned_in_sequence_when_leaving_draft(api, debtor):
    first, second = new_invoice(api, debtor), new_invoice(api, debtor)
    sent_at_once = new_invoice(api, debtor, status="Sent")
    assert isinstance(sent_at_once["invoiceNumber"], int)
    sent_second = put(api, second, status="Sent").json()
    sent_first = put(api, first, status="Sent").json()
    numbers = [sent_at_once["invoiceNumber"], sent_second["invoiceNumber"], sent_first["invoiceNumber"]]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
    paid = put(api, sent_first, status="Paid").json()
    assert (paid["status"], paid["invoiceNumber"]) == ("Paid", sent_first["invoiceNumber"])


@pytest.mark.parametrize("status", ["Sent", "Paid"])
def test_credit_moves_sent_or_paid_to_credited(api, debtor, status):
    invoice = new_invoice(api, debtor, status="Sent")
    if status == "Paid":
        invoice = put(api, invoice, status="Paid").json()
    answer = api.post(f"/invoices/{invoice['id']}/credit")
    assert answer.status_code == 200
    assert answer.json()["status"] == "Credited"
    assert answer.json()["invoiceNumber"] == invoice["invoiceNumber"]
    again = api.post(f"/invoices/{invoice['id']}/credit")
    assert (again.status_code, again.json()) == (409, {"error": "invalid_status_transition"})


def test_illegal_moves_are_409(api, debtor):
    draft = new_invoice(api, debtor)
    assert api.post(f"/invoices/{draft['id']}/credit").json() == {"error": "invoice_is_draft"}
    for status in ("Paid", "Credited"):
        answer = put(api, draft, status=status)
        assert (answer.status_code, answer.json()) == (409, {"error": "invalid_status_transition"})
    sent = put(api, draft, status="Sent").json()
    for status in ("Draft", "Credited"):
        assert put(api, sent, status=status).json() == {"error": "invalid_status_transition"}
    paid = put(api, sent, status="Paid").json()
    assert put(api, paid, status="Sent").json() == {"error": "invalid_status_transition"}
    assert error_fields(api.post("/invoices", json=invoice_body(debtor, status="Paid"))) == {"status": "invalid_value"}


def test_only_drafts_can_be_deleted(api, debtor):
    draft, sent = new_invoice(api, debtor), new_invoice(api, debtor, status="Sent")
    answer = api.delete(f"/invoices/{sent['id']}")
    assert (answer.status_code, answer.json()) == (409, {"error": "invoice_not_draft"})
    assert api.delete(f"/invoices/{draft['id']}").status_code == 204
    assert api.get(f"/invoices/{draft['id']}").status_code == 404
    assert api.get("/invoices/ids").json() == {"result": [sent["id"]]}


def test_a_locked_invoice_refuses_changes_but_takes_reference_edits(api, debtor):
    sent = new_invoice(api, debtor, status="Sent", ourReference="Ola", orderReference="SO-10001")
    for change in (
        {"text": "new text"},
        {"currency": "SEK"},
        {"payDueDate": None},
        {"invoiceItems": [{"description": "Membership", "quantity": 2, "unitPrice": 100, "vatRate": 25}]},
    ):
        answer = put(api, sent, **change)
        assert (answer.status_code, answer.json()) == (409, {"error": "invoice_locked"}), change
    references = {"ourReference": "Kari Nordmann", "ourReferenceEmail": "kari@example.no",
                  "orderReference": "SO-10002", "externalId": "customcrm:orders:7"}
    edited = put(api, sent, **references, totalAmount=1, invoiceNumber=999)
    assert edited.status_code == 200, edited.text
    assert {k: edited.json()[k] for k in references} == references
    assert edited.json()["invoiceNumber"] == sent["invoiceNumber"]
    # an unchanged locked field, spelled 100.0 instead of 100, is no change; Sent -> Paid with it is fine
    same_items = [{**sent["invoiceItems"][0], "unitPrice": 100.0}]
    assert put(api, edited.json(), invoiceItems=same_items, status="Paid").status_code == 200
    credited = api.post(f"/invoices/{sent['id']}/credit").json()
    assert put(api, credited, ourReference="Per").status_code == 200
    assert put(api, credited, text="late edit").json() == {"error": "invoice_locked"}


def test_a_draft_takes_any_change(api, debtor):
    draft = new_invoice(api, debtor)
    other = person(api)["debtorAccountNumber"]
    answer = put(api, draft, debtorAccountNumber=other, invoiceType="Proforma", text="hello", invoiceItems=[])
    assert answer.status_code == 200
    assert (answer.json()["debtorAccountNumber"], answer.json()["totalAmount"]) == (other, 0.0)


def test_totals_are_exact_and_rounded_half_up_per_line(api, debtor):
    invoice = new_invoice(api, debtor, invoiceItems=[
        {"quantity": 1, "unitPrice": 0.1, "vatRate": 0},
        {"quantity": 1, "unitPrice": 0.2, "vatRate": 0},
        {"quantity": 3, "unitPrice": 0.1, "vatRate": 0},
        # 0.05 less 50 % is 0.025: half up gives 0.03 (half to even would give 0.02)
        {"quantity": 1, "unitPrice": 0.05, "discountPercent": 50, "vatRate": 0},
    ])
    # 0.1 + 0.2 + 0.3 + 0.03 with no float residue (floats would give 0.6300000000000001)
    assert invoice["totalAmount"] == 0.63
    priced = new_invoice(api, debtor, invoiceItems=[{"quantity": 3, "unitPrice": 33.33, "vatRate": 25}])
    assert priced["totalAmount"] == 124.99  # 99.99 x 1.25 = 124.9875 -> 124.99


def test_invoice_validation(api, debtor):
    someone_company = company(api)["debtorAccountNumber"]
    item = product(api)
    answer = api.post("/invoices", json={
        "debtorAccountNumber": "77777", "contactPersonDebtorAccountNumber": someone_company,
        "invoiceDate": "2026-11-01", "currency": "kroner", "invoiceType": "Order", "ourReferenceEmail": "nope",
        "invoiceItems": [{"productId": item["id"] + 100, "quantity": -1, "unitPrice": "100"},
                         {"productId": item["id"], "quantity": 1, "unitPrice": 1.005, "discountPercent": 120}],
    })
    assert error_fields(answer) == {
        "debtorAccountNumber": "unknown_reference", "contactPersonDebtorAccountNumber": "unknown_reference",
        "invoiceDate": "invalid_format", "currency": "invalid_format", "invoiceType": "invalid_value",
        "ourReferenceEmail": "invalid_format", "invoiceItems[0].productId": "unknown_reference",
        "invoiceItems[0].quantity": "out_of_range", "invoiceItems[0].unitPrice": "invalid_type",
        "invoiceItems[1].unitPrice": "too_many_decimals", "invoiceItems[1].discountPercent": "out_of_range",
    }
    assert error_fields(api.post("/invoices", json={"invoiceItems": "x"})) == {
        "debtorAccountNumber": "required", "invoiceDate": "required", "currency": "required",
        "invoiceItems": "invalid_type",
    }
    assert api.get("/invoices/ids").json() == {"result": []}
    assert debtor
