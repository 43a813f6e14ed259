"""The CustomCRM sandbox's API contract (DESIGN A1, A3) over real HTTP: auth, CRUD, paging, versions, errors."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx
import pytest

TOKEN = "sandbox-crm-token"
RESOURCES = ("contacts", "customers", "orders", "quotes", "products", "users")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@pytest.fixture
def api(customcrm_server):
    with httpx.Client(base_url=customcrm_server.api_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def created(api: httpx.Client, resource: str, body: dict) -> dict:
    response = api.post(f"/{resource}", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def minimal_body(api: httpx.Client, resource: str, n: int = 0) -> dict:
    """A valid body with only the required fields (creating what it must refer to)."""
    if resource == "contacts":
        return {"first_name": "Kari", "last_name": f"Nordmann {n}"}
    if resource == "customers":
        return {"name": f"Fjord {n} AS"}
    if resource == "products":
        return {"sku": f"SKU-{n}", "name": "Konsulenttime", "price": 1250.5}
    if resource == "users":
        return {"email": f"selger{n}@example.no", "first_name": "Siri", "last_name": "Selger"}
    customer = created(api, "customers", {"name": f"Kunde for {resource} {n}"})
    date_field = "order_date" if resource == "orders" else "quote_date"
    return {"customer_id": customer["id"], date_field: "2026-03-01"}


def problems(response: httpx.Response) -> dict[tuple, str]:
    assert response.status_code == 422, response.text
    return {tuple(item["loc"]): item["msg"] for item in response.json()["detail"]}


def listed(api: httpx.Client, resource: str, **params) -> dict:
    response = api.get(f"/{resource}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


# --- auth ----------------------------------------------------------------------------------------------
def test_requests_without_the_bearer_token_are_401(customcrm_server):
    bad_headers = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}]
    for headers in bad_headers:
        for method, path in (("GET", "/contacts"), ("GET", "/contacts/1"), ("POST", "/contacts")):
            response = httpx.request(method, customcrm_server.api_url + path, headers=headers, json={})
            assert response.status_code == 401, (headers, method, path)
            assert isinstance(response.json()["detail"], str)


# --- create, get, list, patch, delete for every resource ------------------------------------------------
@pytest.mark.parametrize("resource", RESOURCES)
def test_lifecycle_of_a_record(api, resource):
    record = created(api, resource, minimal_body(api, resource))
    assert isinstance(record["id"], int)
    assert record["version"] == 1 and record["archived"] is False and record["external_ref"] is None
    assert TIMESTAMP.fullmatch(record["created_at"]) and record["updated_at"] == record["created_at"]
    assert api.get(f"/{resource}/{record['id']}").json() == record
    assert record in listed(api, resource)["data"]

    patch = {"external_ref": f"membercare:{resource}:1"}
    updated = api.patch(f"/{resource}/{record['id']}", json=patch)
    assert updated.status_code == 200
    assert updated.json()["version"] == 2 and updated.json()["external_ref"] == patch["external_ref"]
    assert updated.json()["updated_at"] > record["updated_at"] and updated.json()["created_at"] == record["created_at"]

    assert api.delete(f"/{resource}/{record['id']}").status_code == 204
    archived = api.get(f"/{resource}/{record['id']}").json()
    assert archived["archived"] is True and archived["version"] == 3
    assert archived["updated_at"] > updated.json()["updated_at"]
    assert record["id"] not in [r["id"] for r in listed(api, resource)["data"]]
    assert record["id"] in [r["id"] for r in listed(api, resource, include_archived="true")["data"]]


def test_unknown_records_are_404(api):
    for method, path in (("GET", "/customers/99"), ("PATCH", "/customers/99"), ("DELETE", "/customers/99"),
                         ("GET", "/invoices")):
        response = api.request(method, path, json={"name": "X"})
        assert response.status_code == 404, (method, path)
        assert "detail" in response.json()


def test_defaults_fill_the_fields_a_create_leaves_out(api):
    contact = created(api, "contacts", minimal_body(api, "contacts"))
    assert contact["newsletter"] is False and contact["email"] is None and contact["birth_date"] is None
    product = created(api, "products", minimal_body(api, "products"))
    assert (product["currency"], product["vat_rate"], product["unit"], product["active"]) == ("NOK", 25, "pcs", True)
    user = created(api, "users", minimal_body(api, "users"))
    assert (user["role"], user["active"]) == ("sales", True)
    order = created(api, "orders", minimal_body(api, "orders"))
    assert (order["status"], order["lines"], order["total"]) == ("draft", [], 0)


# --- listing --------------------------------------------------------------------------------------------
def test_keyset_pages_cover_every_record_once_in_order(api):
    ids = {created(api, "customers", minimal_body(api, "customers", n))["id"] for n in range(7)}
    pages, params = [], {"limit": 3}
    while True:
        body = listed(api, "customers", **params)
        pages.append(body["data"])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert [len(page) for page in pages] == [3, 3, 1]
    records = [r for page in pages for r in page]
    assert {r["id"] for r in records} == ids and len(records) == 7
    assert records == sorted(records, key=lambda r: (r["updated_at"], r["id"]))


def test_next_cursor_is_null_when_the_page_ends_exactly_at_the_last_record(api):
    for n in range(4):
        created(api, "customers", minimal_body(api, "customers", n))
    first = listed(api, "customers", limit=2)
    second = listed(api, "customers", limit=2, cursor=first["next_cursor"])
    assert len(second["data"]) == 2 and second["next_cursor"] is None


def test_a_record_updated_between_two_pages_is_seen_again_and_nothing_is_skipped(api):
    ids = [created(api, "customers", minimal_body(api, "customers", n))["id"] for n in range(6)]
    first = listed(api, "customers", limit=3)
    moved = api.patch(f"/customers/{first['data'][0]['id']}", json={"name": "Omdøpt AS"}).json()
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = listed(api, "customers", limit=3, cursor=cursor)
        rest += page["data"]
        cursor = page["next_cursor"]
    assert {r["id"] for r in first["data"] + rest} == set(ids)
    assert rest[-1] == moved


def test_updated_since_is_inclusive_and_accepts_an_offset(api):
    records = [created(api, "customers", minimal_body(api, "customers", n)) for n in range(3)]
    middle = records[1]
    since = listed(api, "customers", updated_since=middle["updated_at"])["data"]
    assert [r["id"] for r in since] == [middle["id"], records[2]["id"]]

    instant = datetime.fromisoformat(middle["updated_at"])
    as_offset = instant.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+02:00").tzinfo).isoformat()
    assert listed(api, "customers", updated_since=as_offset)["data"] == since
    one_ms_later = (instant + timedelta(milliseconds=1)).isoformat()
    assert middle["id"] not in [r["id"] for r in listed(api, "customers", updated_since=one_ms_later)["data"]]


def test_updated_since_without_an_offset_is_422(api):
    for since in ("2026-03-01", "2026-03-01T10:00:00", "yesterday"):
        assert ("query", "updated_since") in problems(api.get("/customers", params={"updated_since": since}))


def test_external_ref_filter_finds_live_and_archived_records(api):
    body = {**minimal_body(api, "customers"), "external_ref": "membercare:companies:10001"}
    record = created(api, "customers", body)
    created(api, "customers", minimal_body(api, "customers", 2))
    assert [r["id"] for r in listed(api, "customers", external_ref="membercare:companies:10001")["data"]] == [
        record["id"]
    ]
    api.delete(f"/customers/{record['id']}")
    assert listed(api, "customers", external_ref="membercare:companies:10001")["data"] == []
    found = listed(api, "customers", external_ref="membercare:companies:10001", include_archived="true")["data"]
    assert [r["id"] for r in found] == [record["id"]]


def test_limit_is_bounded_by_1_and_1000(api):
    for limit in ("0", "1001", "-1", "many"):
        assert ("query", "limit") in problems(api.get("/customers", params={"limit": limit}))
    created(api, "customers", minimal_body(api, "customers"))
    for limit in (1, 1000):
        assert len(listed(api, "customers", limit=limit)["data"]) == 1


def test_a_cursor_the_server_never_handed_out_is_422(api):
    assert ("query", "cursor") in problems(api.get("/customers", params={"cursor": "not-a-cursor"}))


# --- versions, conflicts, read-only fields --------------------------------------------------------------
def test_if_match_with_the_current_version_writes_bare_or_quoted(api):
    record = created(api, "customers", minimal_body(api, "customers"))
    for version, tag in ((1, "1"), (2, '"2"'), (3, 'W/"3"'), (4, "*")):
        response = api.patch(f"/customers/{record['id']}", json={"name": f"Ny {version} AS"},
                             headers={"If-Match": tag})
        assert response.status_code == 200 and response.json()["version"] == version + 1
        assert response.headers["ETag"] == f'"{version + 1}"'


def test_stale_if_match_is_412_and_changes_nothing(api):
    record = created(api, "customers", minimal_body(api, "customers"))
    api.patch(f"/customers/{record['id']}", json={"name": "Først AS"})
    for tag in ("1", '"1"', "3"):
        response = api.patch(f"/customers/{record['id']}", json={"name": "Sist AS"}, headers={"If-Match": tag})
        assert response.status_code == 412 and isinstance(response.json()["detail"], str)
    assert api.get(f"/customers/{record['id']}").json()["name"] == "Først AS"


def test_duplicate_external_ref_is_409_even_against_an_archived_record(api):
    body = {**minimal_body(api, "contacts"), "external_ref": "membercare:persons:10017"}
    first = created(api, "contacts", body)
    assert api.post("/contacts", json=body).status_code == 409
    api.delete(f"/contacts/{first['id']}")
    response = api.post("/contacts", json=body)
    assert response.status_code == 409 and isinstance(response.json()["detail"], str)
    other = created(api, "contacts", minimal_body(api, "contacts", 2))
    taken = api.patch(f"/contacts/{other['id']}", json={"external_ref": "membercare:persons:10017"})
    assert taken.status_code == 409
    assert created(api, "customers", {**minimal_body(api, "customers"), "external_ref": body["external_ref"]})


def test_duplicate_live_sku_is_409_and_archiving_frees_it(api):
    product = created(api, "products", minimal_body(api, "products"))
    assert api.post("/products", json=minimal_body(api, "products")).status_code == 409
    other = created(api, "products", minimal_body(api, "products", 2))
    assert api.patch(f"/products/{other['id']}", json={"sku": product["sku"]}).status_code == 409
    api.delete(f"/products/{product['id']}")
    assert created(api, "products", minimal_body(api, "products"))["sku"] == product["sku"]


def test_duplicate_user_email_is_409_in_any_case(api):
    user = created(api, "users", minimal_body(api, "users"))
    shouting = {**minimal_body(api, "users"), "email": user["email"].upper()}
    assert api.post("/users", json=shouting).status_code == 409


def test_read_only_fields_in_bodies_are_ignored(api):
    order_body = minimal_body(api, "orders")
    sneaky = {"id": 999, "version": 42, "archived": True, "created_at": "2000-01-01T00:00:00.000Z",
              "updated_at": "2000-01-01T00:00:00.000Z", "total": 1e6, "order_number": "SO-1"}
    order = created(api, "orders", {**order_body, **sneaky})
    assert (order["id"], order["version"], order["archived"], order["total"]) == (1, 1, False, 0)
    assert order["order_number"] == "SO-10001" and order["created_at"] != sneaky["created_at"]
    patched = api.patch(f"/orders/{order['id']}", json={**sneaky, "notes": "Hastet"}).json()
    assert (patched["id"], patched["version"], patched["archived"], patched["order_number"]) == (
        1, 2, False, "SO-10001")
    assert patched["notes"] == "Hastet" and patched["created_at"] == order["created_at"]


def test_patch_on_an_archived_record_is_409_and_delete_again_is_204(api):
    record = created(api, "customers", minimal_body(api, "customers"))
    assert api.delete(f"/customers/{record['id']}").status_code == 204
    archived = api.get(f"/customers/{record['id']}").json()
    response = api.patch(f"/customers/{record['id']}", json={"name": "Gjenoppstått AS"})
    assert response.status_code == 409 and isinstance(response.json()["detail"], str)
    assert api.delete(f"/customers/{record['id']}").status_code == 204
    assert api.get(f"/customers/{record['id']}").json() == archived


# --- documents: totals and numbers ----------------------------------------------------------------------
def test_totals_are_computed_per_line_half_up_and_follow_patches(api):
    product = created(api, "products", minimal_body(api, "products"))
    lines = [
        {"product_id": product["id"], "description": "Rådgivning", "quantity": 3, "unit_price": 10.01,
         "discount_percent": 10, "vat_rate": 25},  # 30.03 * 0.9 * 1.25 = 33.78375 -> 33.78
        {"description": "Reise", "quantity": 1, "unit_price": 0.05, "discount_percent": 0, "vat_rate": 10},
    ]  # 0.055 -> 0.06 (half-up)
    order = created(api, "orders", {**minimal_body(api, "orders"), "lines": lines, "total": 1})
    assert order["total"] == 33.84
    patched = api.patch(f"/orders/{order['id']}", json={"lines": lines[1:]}).json()
    assert patched["total"] == 0.06
    quote = created(api, "quotes", {**minimal_body(api, "quotes"), "lines": lines})
    assert quote["total"] == 33.84


def test_order_and_quote_numbers_are_assigned_in_sequence(api):
    orders = [created(api, "orders", minimal_body(api, "orders", n))["order_number"] for n in range(3)]
    quotes = [created(api, "quotes", minimal_body(api, "quotes", n))["quote_number"] for n in range(2)]
    assert orders == ["SO-10001", "SO-10002", "SO-10003"] and quotes == ["Q-1001", "Q-1002"]


def test_a_private_order_needs_only_a_contact(api):
    contact = created(api, "contacts", minimal_body(api, "contacts"))
    order = created(api, "orders", {"contact_id": contact["id"], "order_date": "2026-03-01"})
    assert order["customer_id"] is None
    response = api.patch(f"/orders/{order['id']}", json={"contact_id": None})
    assert ("body", "customer_id") in problems(response)
