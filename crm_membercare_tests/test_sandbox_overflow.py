"""Numbers too big to store or compute with (issue 12, item 11; DESIGN A1-A3 error shapes): the sandboxes
answered 500 for an order line with quantity 1e30 (its total overflowed the decimal context) and for a 30-digit
id in a path or a reference (SQLite holds 64-bit integers). Now an id no record can have is a 404 in a path and
a 422 naming the field in a body; a number beyond the bound is a 422 naming the field, in each system's shape.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from crm_membercare.sandbox.serving import serve_in_thread

HUGE_IDS = ("123456789012345678901234567890", str(2**63), f"-{2**63 + 1}", "99999999999999999999")
HUGE_NUMBERS = (1e30, -1e30, 10**30, 1e308, 10**15 + 1)
CRM_RESOURCES = ("contacts", "customers", "orders", "quotes", "products", "users")
MC_RESOURCES = ("persons", "companies", "products", "invoices")
CRM_MINIMAL = {"contacts": {"first_name": "A", "last_name": "B"}, "customers": {"name": "C"},
               "orders": {"order_date": "2026-01-15"}}


@dataclass
class Apis:
    crm: httpx.Client
    mc: httpx.Client
    customer: int
    product: int
    order: int
    company: str
    mc_product: int


@pytest.fixture(scope="module")
def apis(tmp_path_factory) -> Iterator[Apis]:
    from crm_membercare.sandbox.customcrm.app import create_app as customcrm_app
    from crm_membercare.sandbox.membercare.app import create_app as membercare_app

    root = tmp_path_factory.mktemp("overflow")
    crm_server = serve_in_thread(customcrm_app(root / "customcrm.sqlite"))
    mc_server = serve_in_thread(membercare_app(root / "membercare.sqlite"))
    crm = httpx.Client(base_url=crm_server.api_url, headers={"Authorization": "Bearer sandbox-crm-token"})
    mc = httpx.Client(base_url=mc_server.api_url)
    mc.headers["token"] = mc.get("/token", params={"clientApiKey": "sandbox-membercare-key"}).json()["value"]
    customer = crm.post("/customers", json={"name": "Stor AS"}).json()["id"]
    product = crm.post("/products", json={"sku": "BIG", "name": "Stor", "price": 1}).json()["id"]
    order = crm.post("/orders", json={"customer_id": customer, "order_date": "2026-01-15",
                                      "lines": [_line(product)]}).json()["id"]
    company = mc.post("/companies", json={"companyName": "Stor AS", "companyType": "Business"}).json()
    mc_product = mc.post("/products", json={"productNumber": "BIG", "name": "Stor", "price": 1}).json()["id"]
    yield Apis(crm, mc, customer, product, order, company["debtorAccountNumber"], mc_product)
    crm.close()
    mc.close()
    crm_server.stop()
    mc_server.stop()


def _line(product: int, **fields: Any) -> dict:
    return {"product_id": product, "description": "Linje", "quantity": 1, "unit_price": 100, "vat_rate": 25,
            **fields}


def _item(product: int, **fields: Any) -> dict:
    return {"productId": product, "description": "Linje", "quantity": 1, "unitPrice": 100, "vatRate": 25, **fields}


def _crm_field_refused(response: httpx.Response, loc: list) -> str | None:
    """None when `response` is CustomCRM's 422 naming `loc`; otherwise what it was instead."""
    if response.status_code != 422:
        return f"{response.status_code} {response.text[:200]}"
    locs = [problem["loc"] for problem in response.json()["detail"]]
    return None if loc in locs else f"422 naming {locs}"


def _mc_field_refused(response: httpx.Response, field: str) -> str | None:
    if response.status_code != 422:
        return f"{response.status_code} {response.text[:200]}"
    fields = [error["field"] for error in response.json()["errors"]]
    return None if field in fields and all(e["message"] for e in response.json()["errors"]) else f"422 naming {fields}"


def test_a_crm_id_no_record_can_have_is_a_404_in_the_path(apis: Apis) -> None:
    wrong = {}
    for resource in CRM_RESOURCES:
        for huge in HUGE_IDS:
            for method, body in (("GET", None), ("PATCH", {}), ("DELETE", None)):
                response = apis.crm.request(method, f"/{resource}/{huge}", json=body)
                if response.status_code != 404 or not isinstance(response.json().get("detail"), str):
                    wrong[(method, resource, huge)] = f"{response.status_code} {response.text[:100]}"
    assert wrong == {}


def test_a_crm_number_beyond_the_bound_is_a_422_naming_the_field(apis: Apis) -> None:
    wrong = {}
    for value in HUGE_NUMBERS:
        for field in ("quantity", "unit_price"):
            for resource, date_field in (("orders", "order_date"), ("quotes", "quote_date")):
                body = {"customer_id": apis.customer, date_field: "2026-01-15",
                        "lines": [_line(apis.product), _line(apis.product, **{field: value})]}
                wrong[(resource, field, value)] = _crm_field_refused(apis.crm.post(f"/{resource}", json=body),
                                                                     ["body", "lines", 1, field])
            patch = apis.crm.patch(f"/orders/{apis.order}", json={"lines": [_line(apis.product, **{field: value})]})
            wrong[("PATCH orders", field, value)] = _crm_field_refused(patch, ["body", "lines", 0, field])
        product = apis.crm.post("/products", json={"sku": f"P{value}", "name": "x", "price": value})
        wrong[("products", "price", value)] = _crm_field_refused(product, ["body", "price"])
        for resource, field in (("contacts", "customer_id"), ("orders", "customer_id"), ("customers", "owner_id")):
            body = {**CRM_MINIMAL[resource], field: value}
            wrong[(resource, field, value)] = _crm_field_refused(apis.crm.post(f"/{resource}", json=body),
                                                                 ["body", field])
    assert {key: problem for key, problem in wrong.items() if problem} == {}


def test_a_crm_cursor_with_numbers_no_record_can_have_is_a_422(apis: Apis) -> None:
    for raw in (f"k1:{10**30}:1", f"k1:1:{10**30}", f"k1:-{10**30}:-{10**30}"):
        cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        response = apis.crm.get("/contacts", params={"cursor": cursor})
        assert _crm_field_refused(response, ["query", "cursor"]) is None, raw


def test_the_largest_accepted_numbers_still_compute_a_total(apis: Apis) -> None:
    body = {"customer_id": apis.customer, "order_date": "2026-01-15",
            "lines": [_line(apis.product, quantity=10**15, unit_price=-(10**15), vat_rate=100)] * 3}
    response = apis.crm.post("/orders", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["total"] == -6e30
    item = _item(apis.mc_product, quantity=10**15, unitPrice=10**15, vatRate=100)
    invoice = apis.mc.post("/invoices", json={"debtorAccountNumber": apis.company, "currency": "NOK",
                                               "invoiceDate": "2026-01-15T00:00:00", "invoiceItems": [item]})
    assert invoice.status_code == 201, invoice.text
    assert invoice.json()["totalAmount"] == 2e30


def test_a_membercare_id_no_record_can_have_is_a_404_in_the_path(apis: Apis) -> None:
    wrong = {}
    for resource in MC_RESOURCES:
        for huge in HUGE_IDS[:2] + HUGE_IDS[3:]:  # MemberCare ids are digits: "-…" names no record anyway
            for method, body in (("GET", None), ("PUT", {}), ("DELETE", None)):
                response = apis.mc.request(method, f"/{resource}/{huge}", json=body)
                if (response.status_code, response.json()) != (404, {"error": "not_found"}):
                    wrong[(method, resource, huge)] = f"{response.status_code} {response.text[:100]}"
    credit = apis.mc.post(f"/invoices/{HUGE_IDS[0]}/credit")
    assert (credit.status_code, credit.json()) == (404, {"error": "not_found"})
    assert wrong == {}


def test_a_membercare_number_or_reference_beyond_the_bound_is_a_422_naming_the_field(apis: Apis) -> None:
    def invoice(**fields: Any) -> httpx.Response:
        return apis.mc.post("/invoices", json={"debtorAccountNumber": apis.company, "currency": "NOK",
                                               "invoiceDate": "2026-01-15T00:00:00",
                                               "invoiceItems": [_item(apis.mc_product)], **fields})

    wrong = {}
    for value in HUGE_NUMBERS:
        for field in ("quantity", "unitPrice"):
            items = [_item(apis.mc_product), _item(apis.mc_product, **{field: value})]
            wrong[("invoices", field, value)] = _mc_field_refused(invoice(invoiceItems=items),
                                                                  f"invoiceItems[1].{field}")
        product = apis.mc.post("/products", json={"productNumber": f"P{value}", "name": "x", "price": value})
        wrong[("products", "price", value)] = _mc_field_refused(product, "price")
    for huge in HUGE_IDS[:2] + HUGE_IDS[3:]:
        wrong[("debtor", huge)] = _mc_field_refused(invoice(debtorAccountNumber=huge), "debtorAccountNumber")
        wrong[("contact person", huge)] = _mc_field_refused(invoice(contactPersonDebtorAccountNumber=huge),
                                                            "contactPersonDebtorAccountNumber")
        wrong[("productId", huge)] = _mc_field_refused(
            invoice(invoiceItems=[_item(int(huge))]), "invoiceItems[0].productId")
        person = apis.mc.post("/persons", json={"firstname": "A", "lastname": "B",
                                                "employments": [{"companyDebtorAccountNumber": huge}]})
        wrong[("employment", huge)] = _mc_field_refused(person, "employments[0].companyDebtorAccountNumber")
        member = apis.mc.post("/persons", json={"firstname": "A", "lastname": "B", "memberType": int(huge)})
        wrong[("memberType", huge)] = _mc_field_refused(member, "memberType")
    assert {key: problem for key, problem in wrong.items() if problem} == {}


def test_a_membercare_page_far_past_the_end_is_an_empty_page(apis: Apis) -> None:
    for page in (10**30, 2**63, 2**62):
        response = apis.mc.get("/persons", params={"page": page, "pageSize": 500})
        assert response.status_code == 200, response.text
        assert response.json()["result"] == [] and response.json()["nextPageUrl"] is None


def test_nothing_was_written_by_a_refused_call(apis: Apis) -> None:
    assert len(apis.crm.get("/products").json()["data"]) == 1
    assert [o["id"] for o in apis.crm.get("/orders").json()["data"]] in ([apis.order], [apis.order, apis.order + 1])
    assert apis.mc.get("/persons/ids").json()["result"] == []
