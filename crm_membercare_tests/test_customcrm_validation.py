"""The CustomCRM sandbox refuses bad bodies with 422 `{"detail": [{"loc", "msg"}]}` naming the field.

One server serves the whole module: a refused body changes nothing, so the tests cannot disturb each other.
"""

from __future__ import annotations

import httpx
import pytest

from crm_membercare.sandbox.customcrm.app import create_app
from crm_membercare.sandbox.serving import serve_in_thread

TOKEN = "sandbox-crm-token"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    server = serve_in_thread(create_app(tmp_path_factory.mktemp("customcrm") / "customcrm.sqlite"))
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        customer = client.post("/customers", json={"name": "Fjord AS"})
        product = client.post("/products", json={"sku": "P-1", "name": "Time", "price": 100})
        assert (customer.status_code, product.status_code) == (201, 201)
        yield client
    server.stop()


def problems(response: httpx.Response) -> dict[tuple, str]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert all(isinstance(item["msg"], str) and item["msg"] for item in detail)
    return {tuple(item["loc"]): item["msg"] for item in detail}


LINE = {"description": "Time", "quantity": 1, "unit_price": 100, "discount_percent": 0, "vat_rate": 25}
ORDER = {"customer_id": 1, "order_date": "2026-03-01", "lines": [LINE]}
PRODUCT = {"sku": "P-2", "name": "Lisens", "price": 10}

BAD_BODIES = [
    ("contacts", {"first_name": "Kari"}, ("body", "last_name")),
    ("contacts", {"first_name": "Kari", "last_name": None}, ("body", "last_name")),
    ("contacts", {"first_name": "Kari", "last_name": "  "}, ("body", "last_name")),
    ("contacts", {"first_name": "Kari", "last_name": 7}, ("body", "last_name")),
    ("contacts", {"first_name": "Kari", "last_name": "N", "email": "kari.example.no"}, ("body", "email")),
    ("contacts", {"first_name": "Kari", "last_name": "N", "country": "no"}, ("body", "country")),
    ("contacts", {"first_name": "Kari", "last_name": "N", "country": "NOR"}, ("body", "country")),
    ("contacts", {"first_name": "Kari", "last_name": "N", "birth_date": "1980-02-30"}, ("body", "birth_date")),
    ("contacts", {"first_name": "Kari", "last_name": "N", "birth_date": "01.05.1980"}, ("body", "birth_date")),
    ("contacts", {"first_name": "Kari", "last_name": "N", "newsletter": "yes"}, ("body", "newsletter")),
    ("contacts", {"first_name": "Kari", "last_name": "N", "customer_id": 99}, ("body", "customer_id")),
    ("contacts", {"first_name": "Kari", "last_name": "N", "customer_id": "1"}, ("body", "customer_id")),
    ("contacts", {"first_name": "Kari", "last_name": "N", "owner_id": 5}, ("body", "owner_id")),
    ("contacts", {"first_name": "Kari", "last_name": "N", "owner_id": 2**70}, ("body", "owner_id")),
    ("contacts", {"first_name": "Kari", "last_name": "N", "favourite_colour": "blå"}, ("body", "favourite_colour")),
    ("customers", {"name": "X", "customer_type": "cooperative"}, ("body", "customer_type")),
    ("customers", {"name": "X", "org_number": "923 609 016"}, ("body", "org_number")),
    ("customers", {"name": "X", "org_number": 923609016}, ("body", "org_number")),
    ("products", {**PRODUCT, "price": "10.00"}, ("body", "price")),
    ("products", {**PRODUCT, "price": 10.125}, ("body", "price")),
    ("products", {**PRODUCT, "price": True}, ("body", "price")),
    ("products", {**PRODUCT, "unit": "piece"}, ("body", "unit")),
    ("products", {**PRODUCT, "currency": "kr"}, ("body", "currency")),
    ("products", {**PRODUCT, "vat_rate": 125}, ("body", "vat_rate")),
    ("products", {"name": "Uten sku", "price": 1}, ("body", "sku")),
    ("users", {"email": "ola@example.no", "first_name": "Ola", "last_name": "N", "role": "owner"}, ("body", "role")),
    ("users", {"first_name": "Ola", "last_name": "N"}, ("body", "email")),
    ("orders", {**ORDER, "customer_id": None}, ("body", "customer_id")),
    ("orders", {**ORDER, "customer_id": 42}, ("body", "customer_id")),
    ("orders", {**ORDER, "order_date": None}, ("body", "order_date")),
    ("orders", {**ORDER, "status": "shipped"}, ("body", "status")),
    ("orders", {**ORDER, "lines": {"0": LINE}}, ("body", "lines")),
    ("orders", {**ORDER, "lines": ["one line"]}, ("body", "lines", 0)),
    ("orders", {**ORDER, "lines": [{**LINE, "unit_price": 9.999}]}, ("body", "lines", 0, "unit_price")),
    ("orders", {**ORDER, "lines": [LINE, {**LINE, "quantity": "2"}]}, ("body", "lines", 1, "quantity")),
    ("orders", {**ORDER, "lines": [{k: v for k, v in LINE.items() if k != "description"}]},
     ("body", "lines", 0, "description")),
    ("orders", {**ORDER, "lines": [{**LINE, "product_id": 77}]}, ("body", "lines", 0, "product_id")),
    ("quotes", {"customer_id": 1, "quote_date": "2026-13-01"}, ("body", "quote_date")),
    ("quotes", {"customer_id": 1, "quote_date": "2026-03-01", "status": "won"}, ("body", "status")),
    ("quotes", {"quote_date": "2026-03-01"}, ("body", "customer_id")),
]


CASE_IDS = [f"{resource}-{'.'.join(map(str, loc[1:]))}" for resource, _, loc in BAD_BODIES]


@pytest.mark.parametrize(("resource", "body", "loc"), BAD_BODIES, ids=CASE_IDS)
def test_a_bad_create_is_422_naming_the_field(api, resource, body, loc):
    assert loc in problems(api.post(f"/{resource}", json=body))


def test_every_problem_is_reported_at_once(api):
    found = problems(api.post("/products", json={"price": 1.001, "unit": "kg"}))
    assert {("body", "sku"), ("body", "name"), ("body", "price"), ("body", "unit")} <= found.keys()


@pytest.mark.parametrize("body", [[{"name": "X"}], "name=X", 17])
def test_a_body_that_is_not_an_object_is_422(api, body):
    assert ("body",) in problems(api.post("/customers", json=body))


def test_a_bad_patch_is_422_and_changes_nothing(api):
    before = api.get("/products/1").json()
    assert ("body", "price") in problems(api.patch("/products/1", json={"price": 1.005, "name": "Ny"}))
    assert ("body", "name") in problems(api.patch("/products/1", json={"name": None}))
    assert api.get("/products/1").json() == before


def test_lenient_fields_take_what_a_crm_user_types(api):
    body = {"first_name": "Åse 🎉", "last_name": "O'Brien; DROP TABLE contacts", "phone": "91234567 (jobb)",
            "email": "ase@localhost", "country": "XX", "title": ""}
    response = api.post("/contacts", json=body)
    assert response.status_code == 201, response.text
    assert {k: response.json()[k] for k in body} == body


def test_money_with_two_decimals_and_integers_is_accepted(api):
    for price in (0, 10, 10.5, 10.25, 1999999.99):
        response = api.post("/products", json={**PRODUCT, "sku": f"P-{price}", "price": price})
        assert response.status_code == 201 and response.json()["price"] == price


def test_text_that_is_not_valid_unicode_is_422(api):
    raw = b'{"name": "Fjord \\ud800 AS"}'
    response = api.post("/customers", content=raw, headers={"Content-Type": "application/json"})
    assert ("body", "name") in problems(response)


def test_a_ten_megabyte_string_is_stored_as_typed(api):
    title = "å" * 10_000_000
    response = api.post("/contacts", json={"first_name": "Lang", "last_name": "Tittel", "title": title})
    assert response.status_code == 201
    assert api.get(f"/contacts/{response.json()['id']}").json()["title"] == title


def test_an_id_too_large_for_the_store_is_404(api):
    assert api.get(f"/customers/{2**70}").status_code == 404
    assert api.delete(f"/customers/{2**70}").status_code == 404
