"""The CustomCRM sandbox's `/_sandbox` admin API, its clock, and its store surviving a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm_membercare.sandbox.clock import SandboxClock
from crm_membercare.sandbox.customcrm.app import create_app
from crm_membercare.sandbox.serving import serve_in_thread

TOKEN = "sandbox-crm-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CUSTOMER = {"name": "Fjord AS", "customer_type": "company"}


@pytest.fixture
def api(customcrm_server):
    with httpx.Client(base_url=customcrm_server.api_url, headers=AUTH) as client:
        yield client


@pytest.fixture
def admin(customcrm_server):
    with httpx.Client(base_url=f"{customcrm_server.root_url}/_sandbox", timeout=60) as client:
        yield client


def faults(admin: httpx.Client, **settings) -> dict:
    response = admin.put("/faults", json=settings)
    assert response.status_code == 200, response.text
    return response.json()


# --- faults ---------------------------------------------------------------------------------------------
def test_faults_are_a_partial_update_and_can_be_read_back(admin):
    faults(admin, error_rate=0.25)
    current = faults(admin, latency_ms=5)
    assert (current["error_rate"], current["latency_ms"], current["rate_limit_per_s"]) == (0.25, 5, None)
    assert admin.get("/faults").json() == current
    assert admin.put("/faults", json={"error_rate": 2}).status_code == 422


def test_error_rate_one_fails_every_api_call_before_the_store_but_not_the_admin_api(api, admin):
    faults(admin, error_rate=1.0)
    for response in (api.get("/customers"), api.post("/customers", json=CUSTOMER)):
        assert response.status_code in (500, 502, 503)
        assert response.json() == {"detail": "injected_fault"}
    assert admin.get("/stats").json()["faults"]["error"] == 2
    faults(admin, error_rate=0.0)
    assert api.get("/customers").json()["data"] == [], "a failed call must not have touched the store"


def test_rate_limit_answers_429_with_a_whole_retry_after(api, admin):
    faults(admin, rate_limit_per_s=2)
    responses = [api.get("/customers") for _ in range(6)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "six calls at once must exceed two per second"
    for response in limited:
        assert int(response.headers["Retry-After"]) >= 1
        assert response.json() == {"detail": "rate_limited"}
    assert admin.get("/stats").json()["faults"]["rate_limited"] == len(limited)


def test_a_lost_response_is_503_but_the_write_happened(api, admin):
    faults(admin, lost_response_rate=1.0)
    response = api.post("/customers", json={**CUSTOMER, "external_ref": "membercare:companies:777"})
    assert response.status_code == 503
    assert api.get("/customers").status_code == 200, "reads are never lost"
    faults(admin, lost_response_rate=0.0)
    found = api.get("/customers", params={"external_ref": "membercare:companies:777"}).json()["data"]
    assert [r["name"] for r in found] == ["Fjord AS"]


# --- stats ----------------------------------------------------------------------------------------------
def test_stats_count_by_method_and_resource_and_delete_zeroes_them(api, admin):
    api.post("/customers", json=CUSTOMER)
    api.get("/customers")
    api.get("/customers/1")
    api.patch("/customers/1", json={"name": "Ny AS"})
    api.get("/contacts")
    admin.get("/faults")
    stats = admin.get("/stats").json()
    assert stats["requests"] == {"POST customers": 1, "GET customers": 2, "PATCH customers": 1, "GET contacts": 1}
    assert stats["faults"] == {"error": 0, "rate_limited": 0, "lost_response": 0}
    assert admin.delete("/stats").status_code == 204
    assert admin.get("/stats").json() == {"requests": {}, "faults": {"error": 0, "rate_limited": 0,
                                                                     "lost_response": 0}}


# --- reset, clock, restart ------------------------------------------------------------------------------
def test_reset_empties_the_store_and_restarts_the_numbering(api, admin):
    customer = api.post("/customers", json=CUSTOMER).json()
    api.post("/orders", json={"customer_id": customer["id"], "order_date": "2026-03-01"})
    assert admin.post("/reset", json={}).status_code == 200
    assert api.get("/customers").json()["data"] == [] and api.get("/orders/1").status_code == 404
    customer = api.post("/customers", json=CUSTOMER).json()
    order = api.post("/orders", json={"customer_id": customer["id"], "order_date": "2026-03-01"}).json()
    assert (customer["id"], order["id"], order["order_number"]) == (1, 1, "SO-10001")


def test_writes_are_stamped_by_the_sandbox_clock(api, admin):
    assert admin.put("/clock", json={"now": "2025-01-31T23:59:58Z"}).status_code == 200
    stamped = datetime.fromisoformat(api.post("/customers", json=CUSTOMER).json()["updated_at"])
    assert timedelta(0) <= stamped - datetime(2025, 1, 31, 23, 59, 58, tzinfo=UTC) < timedelta(seconds=2)


class FrozenClock(SandboxClock):
    """Every write in the same millisecond: the case a keyset cursor could skip a record in."""

    def now(self) -> datetime:
        return datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_writes_in_the_same_millisecond_still_move_past_a_cursor_handed_out(tmp_path):
    server = serve_in_thread(create_app(tmp_path / "crm.sqlite", clock=FrozenClock()))
    try:
        with httpx.Client(base_url=server.api_url, headers=AUTH) as api:
            ids = [api.post("/customers", json=CUSTOMER).json()["id"] for _ in range(3)]
            first = api.get("/customers", params={"limit": 2}).json()
            api.patch(f"/customers/{ids[0]}", json={"name": "Omdøpt AS"})
            rest = api.get("/customers", params={"limit": 2, "cursor": first["next_cursor"]}).json()["data"]
            assert [r["id"] for r in rest] == [ids[2], ids[0]]
            stamps = [r["updated_at"] for r in first["data"] + rest]
            assert stamps == sorted(stamps) and len(set(stamps)) == 4
    finally:
        server.stop()


def test_the_store_survives_a_restart_on_the_same_file(tmp_path):
    db_path = tmp_path / "crm.sqlite"
    first_app = create_app(db_path)
    first = serve_in_thread(first_app)
    with httpx.Client(base_url=first.api_url, headers=AUTH) as api:
        customer = api.post("/customers", json={**CUSTOMER, "external_ref": "membercare:companies:10001"}).json()
        order = api.post("/orders", json={"customer_id": customer["id"], "order_date": "2026-03-01"}).json()
        api.delete(f"/orders/{order['id']}")
    first.stop()
    first_app.state.store.close()

    second = serve_in_thread(create_app(db_path))
    try:
        with httpx.Client(base_url=second.api_url, headers=AUTH) as api:
            assert api.get(f"/customers/{customer['id']}").json() == customer
            assert api.get(f"/orders/{order['id']}").json()["archived"] is True
            again = api.post("/customers", json={**CUSTOMER, "external_ref": "membercare:companies:10001"})
            assert again.status_code == 409
            second_order = api.post("/orders", json={"customer_id": customer["id"], "order_date": "2026-03-02"})
            assert (second_order.json()["id"], second_order.json()["order_number"]) == (2, "SO-10002")
    finally:
        second.stop()


# --- seed -----------------------------------------------------------------------------------------------
RESOURCES = ("users", "customers", "contacts", "products", "orders", "quotes")


def everything(api: httpx.Client, resource: str) -> list[dict]:
    records, params = [], {"limit": 1000, "include_archived": "true"}
    while True:
        body = api.get(f"/{resource}", params=params).json()
        records += body["data"]
        if not body["next_cursor"]:
            return records
        params["cursor"] = body["next_cursor"]


def without_timestamps(records: list[dict]) -> list[dict]:
    return sorted(({k: v for k, v in r.items() if k not in ("created_at", "updated_at")} for r in records),
                  key=lambda r: r["id"])


def test_seed_fills_every_resource_deterministically_and_sequences_continue_past_it(api, admin):
    response = admin.post("/seed", json={"seed": 7, "scale": "small", "overlap": 0.5})
    assert response.status_code == 200, response.text
    counts = response.json()["seeded"]
    assert set(counts) == set(RESOURCES) and all(counts[r] > 0 for r in RESOURCES)
    first = {r: everything(api, r) for r in RESOURCES}
    assert {r: len(first[r]) for r in RESOURCES} == counts

    admin.post("/seed", json={"seed": 7, "scale": "small", "overlap": 0.5})
    for resource in RESOURCES:
        assert without_timestamps(everything(api, resource)) == without_timestamps(first[resource])

    customer = api.post("/customers", json=CUSTOMER).json()
    assert customer["id"] == max(r["id"] for r in first["customers"]) + 1
    order = api.post("/orders", json={"customer_id": customer["id"], "order_date": "2026-03-01"}).json()
    highest = max(int(o["order_number"].removeprefix("SO-")) for o in first["orders"])
    assert order["order_number"] == f"SO-{highest + 1}"


def test_seeded_records_look_like_api_records_and_other_seeds_differ(api, admin):
    admin.post("/seed", json={"seed": 1, "scale": "small", "overlap": 0.0})
    contacts = everything(api, "contacts")
    created = api.post("/contacts", json={"first_name": "Kari", "last_name": "Nordmann"}).json()
    assert all(set(c) == set(created) for c in contacts)
    order = everything(api, "orders")[0]
    assert api.patch(f"/orders/{order['id']}", json={"notes": "Sjekket"}).json()["version"] == order["version"] + 1

    admin.post("/seed", json={"seed": 2, "scale": "small", "overlap": 0.0})
    assert without_timestamps(everything(api, "contacts")) != without_timestamps(contacts)
