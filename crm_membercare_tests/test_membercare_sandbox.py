"""The MemberCare sandbox over real HTTP: token, CRUD per resource, full-replacement PUT, validation, faults,
stats, restart and seeding (DESIGN A2, A3 and the admin API)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from crm_membercare.sandbox.membercare.app import create_app
from crm_membercare.sandbox.serving import serve_in_thread

API_KEY = "sandbox-membercare-key"
LOCAL_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"


def fetch_token(api_url: str) -> str:
    answer = httpx.get(f"{api_url}/token", params={"clientApiKey": API_KEY})
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]


@pytest.fixture
def api(membercare_server):
    token = fetch_token(membercare_server.api_url)
    with httpx.Client(base_url=membercare_server.api_url, headers={"token": token}, timeout=10) as client:
        yield client


@pytest.fixture
def admin(membercare_server):
    with httpx.Client(base_url=f"{membercare_server.root_url}/_sandbox", timeout=60) as client:
        yield client


def set_clock(admin: httpx.Client, instant: datetime | None) -> None:
    answer = admin.put("/clock", json={"now": instant.isoformat() if instant else None})
    assert answer.status_code == 200, answer.text


def created(api: httpx.Client, resource: str, body: dict) -> dict:
    answer = api.post(f"/{resource}", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def company(api: httpx.Client, **fields) -> dict:
    return created(api, "companies", {"companyName": "Fjord AS", "organizationNumber": "912345678", **fields})


def person(api: httpx.Client, **fields) -> dict:
    return created(api, "persons", {"firstname": "Kari", "lastname": "Nordmann", **fields})


def product(api: httpx.Client, number: str = "P-1", **fields) -> dict:
    return created(api, "products", {"productNumber": number, "name": "Membership", "price": 100, **fields})


def error_fields(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    return {error["field"]: error["code"] for error in answer.json()["errors"]}


# --- token -------------------------------------------------------------------------------------------------


def test_token_call_returns_a_value_and_a_local_expiration(membercare_server, admin):
    set_clock(admin, datetime(2026, 7, 1, 10, 0, 0, tzinfo=UTC))
    answer = httpx.get(
        f"{membercare_server.api_url}/token", params={"clientApiKey": API_KEY, "personToImpersonate": 3}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["value"]
    # 900 s after 10:00Z is 10:15Z, shown in Oslo summer time without an offset
    assert body["expiration"] == "2026-07-01T12:15:00"


def test_a_bad_api_key_gets_401(membercare_server):
    answer = httpx.get(f"{membercare_server.api_url}/token", params={"clientApiKey": "wrong"})
    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid_api_key"}


@pytest.mark.parametrize("headers", [{}, {"token": "not-a-token"}], ids=["missing", "unknown"])
def test_calls_without_a_valid_token_get_401(membercare_server, headers):
    answer = httpx.get(f"{membercare_server.api_url}/persons", headers=headers)
    assert answer.status_code == 401
    assert set(answer.json()) == {"error"}


def test_a_token_expires_after_the_ttl_it_was_issued_with(membercare_server, admin):
    long_lived = fetch_token(membercare_server.api_url)
    admin.put("/faults", json={"token_ttl_s": 1})
    short_lived = fetch_token(membercare_server.api_url)
    time.sleep(1.1)
    expired = httpx.get(f"{membercare_server.api_url}/persons", headers={"token": short_lived})
    assert expired.status_code == 401
    assert expired.json() == {"error": "token_expired"}
    still_good = httpx.get(f"{membercare_server.api_url}/persons", headers={"token": long_lived})
    assert still_good.status_code == 200


# --- CRUD per resource -----------------------------------------------------------------------------------

NEW_BODIES = {
    "companies": {"companyName": "Fjord AS", "companyType": "Business"},
    "persons": {"firstname": "Ola", "lastname": "Nordmann"},
    "products": {"productNumber": "P-9", "name": "Course", "price": 250.5, "vatRate": 25},
}
EDITS = {
    "companies": {"companyName": "Fjord Holding AS"},
    "persons": {"firstname": "Per", "lastname": "Nordmann"},
    "products": {"productNumber": "P-9", "name": "Course, advanced"},
}
ID_FIELDS = {"companies": "debtorAccountNumber", "persons": "debtorAccountNumber", "products": "id"}


@pytest.mark.parametrize("resource", sorted(NEW_BODIES))
def test_create_read_replace_and_list(api, resource):
    record = created(api, resource, {**NEW_BODIES[resource], "externalId": "customcrm:x:1"})
    key = record[ID_FIELDS[resource]]
    assert record["externalId"] == "customcrm:x:1"
    assert record["lastChange"] and record["lastChange"][10] == "T"
    assert api.get(f"/{resource}/{key}").json() == record

    replaced = api.put(f"/{resource}/{key}", json={**EDITS[resource], "externalId": "customcrm:x:1"})
    assert replaced.status_code == 200, replaced.text
    assert {k: replaced.json()[k] for k in EDITS[resource]} == EDITS[resource]
    assert api.get(f"/{resource}/{key}").json() == replaced.json()

    by_external_id = api.get(f"/{resource}", params={"externalId": "customcrm:x:1"}).json()
    assert [r[ID_FIELDS[resource]] for r in by_external_id["result"]] == [key]
    assert api.get(f"/{resource}", params={"externalId": "other"}).json()["totalCount"] == 0


@pytest.mark.parametrize("resource", ["companies", "persons", "products", "invoices"])
def test_unknown_ids_are_404(api, resource):
    for path in (f"/{resource}/999999", f"/{resource}/abc"):
        assert api.get(path).status_code == 404
        assert api.get(path).json() == {"error": "not_found"}
    assert api.put(f"/{resource}/999999", json={}).json() == {"error": "not_found"}
    assert api.delete(f"/{resource}/999999").status_code == 404


def test_persons_and_companies_share_one_debtor_numbering(api):
    numbers = [company(api)["debtorAccountNumber"], person(api)["debtorAccountNumber"],
               company(api)["debtorAccountNumber"]]
    assert numbers == ["10001", "10002", "10003"]
    assert api.get("/persons/10001").status_code == 404  # 10001 is a company
    assert api.get("/companies/ids").json() == {"result": ["10001", "10003"]}
    assert api.get("/persons/ids").json() == {"result": ["10002"]}


def test_person_fields_and_server_assigned_parts(api):
    employer = company(api)
    record = person(
        api,
        gender=2,
        birthDate="1980-05-01T00:00:00",
        socialSecurityNumber={"number": "01058012345", "iso2Letter": "NO"},
        contacts=[{"contactType": "Email", "value": "kari@example.no"},
                  {"contactType": "Mobile", "value": "+4791234567"}],
        addresses=[{"street": "Storgata 1", "postalCode": {"zipCode": "0155", "city": "Oslo"}, "country": {"id": 160}},
                   {"street": "Box 7", "country": {"id": 206}}],
        employments=[{"companyDebtorAccountNumber": employer["debtorAccountNumber"], "position": "CEO"}],
        allowEmail=True, allowSms=True, memberType=3,
    )
    assert record["name"] == "Kari Nordmann"
    assert record["closeDate"] is None and record["closeReason"] is None
    address_ids = [address["id"] for address in record["addresses"]]
    assert all(isinstance(i, int) for i in address_ids) and len(set(address_ids)) == 2
    assert record["addresses"][0]["postalCode"] == {"zipCode": "0155", "city": "Oslo"}
    assert record["employments"] == [{"companyDebtorAccountNumber": employer["debtorAccountNumber"], "position": "CEO"}]


def test_put_resets_omitted_writable_fields_to_their_defaults(api):
    record = person(
        api, gender=1, allowEmail=True, allowSms=True, memberType=4, externalId="customcrm:contacts:1",
        birthDate="1990-01-01T00:00:00",
        contacts=[{"contactType": "Email", "value": "kari@example.no"}],
        addresses=[{"street": "Storgata 1", "country": {"id": 160}}],
    )
    answer = api.put(f"/persons/{record['debtorAccountNumber']}", json={"firstname": "Kari", "lastname": "Berg"})
    assert answer.status_code == 200
    after = answer.json()
    assert (after["gender"], after["allowEmail"], after["allowSms"], after["memberType"]) == (0, False, False, 1)
    assert (after["contacts"], after["addresses"], after["employments"]) == ([], [], [])
    assert after["birthDate"] is None and after["externalId"] is None and after["socialSecurityNumber"] is None
    assert after["name"] == "Kari Berg"

    item = product(api, description="Yearly", currency="SEK", unit="Year", active=False, vatRate=25)
    reset = api.put(f"/products/{item['id']}", json={"productNumber": "P-1", "name": "Membership"}).json()
    assert (reset["currency"], reset["unit"], reset["active"]) == ("NOK", "Piece", True)
    assert reset["description"] is None and reset["price"] is None and reset["vatRate"] is None


def test_read_only_fields_in_bodies_are_ignored(api):
    record = person(api, addresses=[{"street": "Storgata 1"}])
    key = record["debtorAccountNumber"]
    body = {
        **record, "name": "Someone Else", "lastChange": "2000-01-01T00:00:00", "debtorAccountNumber": "99999",
        "closeDate": "2000-01-01T00:00:00", "closeReason": "deleted",
        "addresses": [{**record["addresses"][0], "id": 424242}, {"street": "New street"}],
    }
    after = api.put(f"/persons/{key}", json=body).json()
    assert after["debtorAccountNumber"] == key and after["name"] == "Kari Nordmann"
    assert after["closeDate"] is None and after["closeReason"] is None
    assert after["lastChange"] != "2000-01-01T00:00:00"
    # the address kept at its position keeps its id; the new one gets a fresh server id
    assert after["addresses"][0]["id"] == record["addresses"][0]["id"]
    assert after["addresses"][1]["id"] not in (424242, record["addresses"][0]["id"])

    item = product(api)
    again = api.put(f"/products/{item['id']}", json={**item, "id": 77, "lastChange": "x"}).json()
    assert again["id"] == item["id"]


def test_delete_closes_a_debtor_which_stays_listed(api, admin):
    set_clock(admin, datetime(2026, 11, 27, 8, 15, 2, tzinfo=UTC))
    record = person(api)
    key = record["debtorAccountNumber"]
    assert api.delete(f"/persons/{key}").status_code == 204
    closed = api.get(f"/persons/{key}").json()
    assert closed["closeReason"] == "deleted"
    assert closed["closeDate"] == "2026-11-27T09:15:02"
    assert [r["debtorAccountNumber"] for r in api.get("/persons").json()["result"]] == [key]
    assert api.get("/persons/ids").json() == {"result": [key]}

    # closing is final: deleting again changes nothing, a PUT edits but does not reopen
    set_clock(admin, datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC))
    assert api.delete(f"/persons/{key}").status_code == 204
    assert api.get(f"/persons/{key}").json() == closed
    edited = api.put(f"/persons/{key}", json={"firstname": "Kari", "lastname": "Lukket"}).json()
    assert edited["lastname"] == "Lukket"
    assert (edited["closeDate"], edited["closeReason"]) == ("2026-11-27T09:15:02", "deleted")

    firm = company(api)
    assert api.delete(f"/companies/{firm['debtorAccountNumber']}").status_code == 204
    assert api.get(f"/companies/{firm['debtorAccountNumber']}").json()["closeReason"] == "deleted"


def test_products_are_hard_deleted_and_leave_ids(api):
    first, second = product(api, "P-1"), product(api, "P-2")
    assert api.get("/products/ids").json() == {"result": [first["id"], second["id"]]}
    assert api.delete(f"/products/{first['id']}").status_code == 204
    assert api.get(f"/products/{first['id']}").status_code == 404
    assert api.get("/products/ids").json() == {"result": [second["id"]]}
    assert api.get("/products").json()["totalCount"] == 1


def test_duplicate_product_number_is_409(api):
    first = product(api, "P-1")
    second = product(api, "P-2")
    assert api.post("/products", json={"productNumber": "P-1", "name": "Again"}).json() == {
        "error": "duplicate_product_number"
    }
    clash = api.put(f"/products/{second['id']}", json={"productNumber": "P-1", "name": "x"})
    assert clash.status_code == 409
    assert api.put(f"/products/{first['id']}", json={"productNumber": "P-1", "name": "same"}).status_code == 200


def test_countries_need_a_token_and_use_membercare_ids(api, membercare_server):
    countries = api.get("/addresses/countries").json()["result"]
    assert {"id": 160, "name": "Norge", "iso2Letter": "NO"} in countries
    assert httpx.get(f"{membercare_server.api_url}/addresses/countries").status_code == 401


# --- validation ------------------------------------------------------------------------------------------


def test_person_validation_reports_every_error_with_its_path(api):
    firm = company(api)
    answer = api.post("/persons", json={
        "firstname": "", "lastname": 7, "gender": 5, "allowEmail": "yes", "birthDate": "1980-05-01",
        "contacts": [{"contactType": "Email", "value": "not-an-email"},
                     {"contactType": "Mobile", "value": "91234567"},
                     {"contactType": "Fax", "value": "x"}],
        "addresses": [{"street": "x", "country": {"id": 999}}],
        "employments": [{"companyDebtorAccountNumber": "55555"}],
    })
    assert error_fields(answer) == {
        "firstname": "required", "lastname": "invalid_type", "gender": "invalid_value",
        "allowEmail": "invalid_type", "birthDate": "invalid_format",
        "contacts[0].value": "invalid_format", "contacts[1].value": "invalid_format",
        "contacts[2].contactType": "invalid_value", "addresses[0].country.id": "unknown_country",
        "employments[0].companyDebtorAccountNumber": "unknown_reference",
    }
    assert all(error["message"] for error in answer.json()["errors"])
    # an employment must point at a company, not a person
    someone = person(api)
    wrong_kind = api.post("/persons", json={"firstname": "A", "lastname": "B", "employments": [
        {"companyDebtorAccountNumber": someone["debtorAccountNumber"]}]})
    assert error_fields(wrong_kind) == {"employments[0].companyDebtorAccountNumber": "unknown_reference"}
    assert api.get("/persons/ids").json()["result"] == [someone["debtorAccountNumber"]]
    assert firm


def test_company_and_product_validation(api):
    assert error_fields(api.post("/companies", json={"organizationNumber": "912 345 678", "companyType": "Ltd"})) == {
        "companyName": "required", "organizationNumber": "invalid_format", "companyType": "invalid_value",
    }
    assert error_fields(api.post("/products", json={
        "name": "x", "price": "100", "vatRate": 25.125, "unit": "pcs", "active": 1,
    })) == {"productNumber": "required", "price": "invalid_type", "vatRate": "too_many_decimals",
            "unit": "invalid_value", "active": "invalid_type"}
    assert error_fields(api.post("/products", json=["not", "an", "object"])) == {"body": "invalid_type"}


def test_malformed_json_is_400_in_the_errors_shape(api):
    answer = api.post("/persons", content=b'{"firstname": ', headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "malformed_json"


# --- faults, stats, restart, seed ------------------------------------------------------------------------


def test_error_rate_one_fails_every_api_call_but_not_the_admin_api(api, admin):
    admin.put("/faults", json={"error_rate": 1.0})
    answer = api.get("/persons")
    assert answer.status_code in (500, 502, 503)
    assert answer.json() == {"error": "injected_fault"}
    assert admin.get("/stats").json()["faults"]["error"] == 1


def test_rate_limit_answers_429_with_retry_after(api, admin):
    admin.put("/faults", json={"rate_limit_per_s": 1})
    answers = [api.get("/persons") for _ in range(3)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json() == {"error": "rate_limited"}


def test_a_lost_response_still_commits_the_write(api, admin):
    admin.put("/faults", json={"lost_response_rate": 1.0})
    body = {"firstname": "Lost", "lastname": "Answer", "externalId": "customcrm:contacts:9"}
    answer = api.post("/persons", json=body)
    assert answer.status_code == 503
    admin.put("/faults", json={"lost_response_rate": 0.0})
    found = api.get("/persons", params={"externalId": "customcrm:contacts:9"}).json()
    assert found["totalCount"] == 1 and found["result"][0]["firstname"] == "Lost"


def test_stats_count_requests_by_method_and_resource(membercare_server, api, admin):
    admin.delete("/stats")
    fetch_token(membercare_server.api_url)
    api.get("/persons")
    api.get("/persons/ids")
    person(api)
    requests = admin.get("/stats").json()["requests"]
    assert requests == {"GET token": 1, "GET persons": 2, "POST persons": 1}


def test_state_survives_a_restart(tmp_path):
    db_path = tmp_path / "membercare.sqlite"
    app = create_app(db_path)
    server = serve_in_thread(app)
    token = fetch_token(server.api_url)
    with httpx.Client(base_url=server.api_url, headers={"token": token}) as api:
        before = person(api, externalId="customcrm:contacts:1")
        item = product(api)
    server.stop()
    app.state.store.close()

    server = serve_in_thread(create_app(db_path))
    try:
        assert httpx.get(f"{server.api_url}/persons", headers={"token": token}).status_code == 401
        with httpx.Client(base_url=server.api_url, headers={"token": fetch_token(server.api_url)}) as api:
            assert api.get(f"/persons/{before['debtorAccountNumber']}").json() == before
            assert api.get(f"/products/{item['id']}").json() == item
            assert company(api)["debtorAccountNumber"] == "10002"  # the shared numbering carries on
    finally:
        server.stop()


def test_reset_empties_the_store(api, admin):
    person(api)
    assert admin.post("/reset", json={}).status_code == 200
    assert api.get("/persons/ids").json() == {"result": []}
    assert person(api)["debtorAccountNumber"] == "10001"


def test_seed_loads_the_generated_records_as_get_returns_them(api, admin):
    from crm_membercare.sandbox import seeding

    now = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)
    set_clock(admin, now)
    answer = admin.post("/seed", json={"seed": 7, "scale": "small", "overlap": 0.5})
    assert answer.status_code == 200, answer.text
    counts = answer.json()["seeded"]
    assert set(counts) == {"companies", "persons", "products", "invoices"} and all(counts.values())

    expected = {resource: chunk[0] for resource, chunk in reversed(list(
        seeding.generate("membercare", 7, "small", 0.5, now)))}
    for resource, record in expected.items():
        key = record["debtorAccountNumber"] if resource in ("persons", "companies") else record["id"]
        assert api.get(f"/{resource}/{key}").json() == record
        assert len(api.get(f"/{resource}/ids").json()["result"]) == counts[resource]
        assert api.get(f"/{resource}", params={"pageSize": 1}).json()["totalCount"] == counts[resource]
        # seeded data passes the server's own validation: a record PUT back as read is accepted
        for stored in api.get(f"/{resource}", params={"pageSize": 20}).json()["result"]:
            key = stored["debtorAccountNumber"] if resource in ("persons", "companies") else stored["id"]
            again = api.put(f"/{resource}/{key}", json=stored)
            assert again.status_code == 200, (resource, again.text)

    # the sequences continue past the seeded numbers
    debtors = [int(n) for res in ("persons", "companies") for n in api.get(f"/{res}/ids").json()["result"]]
    assert int(person(api)["debtorAccountNumber"]) == max(debtors) + 1
    assert product(api, "NEW-1")["id"] == max(api.get("/products/ids").json()["result"])
    seeded_numbers = [i["invoiceNumber"] for i in api.get("/invoices", params={"pageSize": 500}).json()["result"]]
    debtor = api.get("/persons/ids").json()["result"][0]
    invoice = created(api, "invoices", {"debtorAccountNumber": debtor, "invoiceDate": "2026-11-27T00:00:00",
                                        "currency": "NOK", "status": "Sent"})
    assert invoice["invoiceNumber"] > max(n for n in seeded_numbers if n is not None)
