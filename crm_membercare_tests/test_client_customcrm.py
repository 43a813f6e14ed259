"""The CustomCRM client against the real sandbox over HTTP: paging, errors, retries, idempotent creates."""

from __future__ import annotations

import pytest

from crm_membercare.systems import (
    Conflict,
    CustomCrmClient,
    OutcomeUnknown,
    PreconditionFailed,
    RetryableError,
    Unauthorized,
    ValidationFailed,
)
from crm_membercare.systems.retry import RetryPolicy
from crm_membercare_tests.clients_support import Admin, RecordingSleep

TOKEN = "sandbox-crm-token"


@pytest.fixture
def admin(customcrm_server):
    handle = Admin(customcrm_server)
    yield handle
    handle.close()


@pytest.fixture
def sleep():
    return RecordingSleep()


@pytest.fixture
def crm(customcrm_server, sleep):
    with CustomCrmClient(customcrm_server.api_url, TOKEN, sleep=sleep) as client:
        yield client


def make_customers(crm: CustomCrmClient, count: int) -> list[dict]:
    return [crm.create("customers", {"name": f"Kunde {i}", "customer_type": "company"}) for i in range(count)]


def test_iter_changes_yields_every_record_once_across_pages(crm):
    created = make_customers(crm, 25)
    pages = list(crm.iter_changes("customers", page_size=7))
    ids = [record["id"] for page in pages for record in page.records]
    assert sorted(ids) == sorted(c["id"] for c in created)
    assert len(pages) == 4
    assert pages[-1].cursor == max(c["updated_at"] for c in created)


def test_updated_since_is_inclusive_and_the_cursor_rereads_its_instant(crm):
    created = make_customers(crm, 3)
    last = max(created, key=lambda c: (c["updated_at"], c["id"]))
    again = [r for page in crm.iter_changes("customers", last["updated_at"]) for r in page.records]
    assert last["id"] in {r["id"] for r in again}


def test_a_record_updated_between_pages_comes_again_and_nothing_is_skipped(crm):
    created = make_customers(crm, 20)
    iterator = crm.iter_changes("customers", page_size=5)
    first = next(iterator)
    edited = crm.update("customers", first.records[0]["id"], {"name": "Omdøpt AS"})
    rest = [r for page in iterator for r in page.records]
    seen = first.records + rest
    assert {r["id"] for r in seen} == {c["id"] for c in created}
    versions = [(r["id"], r["version"]) for r in seen]
    assert len(versions) == len(set(versions)), "an (id, version) was yielded twice"
    assert (edited["id"], edited["version"]) in versions


def test_wrong_token_is_unauthorized(customcrm_server):
    with CustomCrmClient(customcrm_server.api_url, "not-the-token") as client, pytest.raises(Unauthorized):
        client.get("customers", 1)


def test_stale_if_match_is_a_precondition_failure(crm):
    customer = make_customers(crm, 1)[0]
    crm.update("customers", customer["id"], {"name": "Først"}, if_match=customer["version"])
    with pytest.raises(PreconditionFailed):
        crm.update("customers", customer["id"], {"name": "Sist"}, if_match=customer["version"])


def test_duplicate_external_ref_is_a_conflict_and_can_be_found(crm):
    body = {"name": "Fjord AS", "customer_type": "company", "external_ref": "membercare:companies:10001"}
    created = crm.create("customers", body)
    with pytest.raises(Conflict):
        crm.create("customers", body)
    assert crm.find_by_external_ref("customers", "membercare:companies:10001")["id"] == created["id"]
    assert crm.find_by_external_ref("customers", "membercare:companies:99999") is None


def test_validation_errors_name_the_field(crm):
    with pytest.raises(ValidationFailed) as raised:
        crm.create("products", {"sku": "X-1", "name": "Ting", "price": 10.123, "vat_rate": 25, "unit": "pcs"})
    assert any(error.field.endswith("price") for error in raised.value.field_errors)


def test_rate_limit_is_honoured_with_retry_after(crm, admin, sleep):
    make_customers(crm, 1)
    admin.faults(rate_limit_per_s=2)
    for _ in range(6):
        crm.get("customers", 1)
    assert admin.stats()["faults"]["rate_limited"] >= 1
    assert sleep.calls and min(sleep.calls) >= 1.0, "a 429 must wait at least its Retry-After"


def test_server_errors_on_reads_are_retried(crm, admin):
    make_customers(crm, 3)
    admin.faults(error_rate=0.3, random_seed=7)
    for _ in range(10):
        assert crm.get("customers", 1)["id"] == 1
    assert admin.stats()["faults"]["error"] >= 1


def test_a_lost_create_response_is_an_unknown_outcome_and_the_record_exists(crm, admin):
    admin.faults(lost_response_rate=1.0)
    body = {"name": "Tapt Svar AS", "customer_type": "company", "external_ref": "membercare:companies:777"}
    with pytest.raises(OutcomeUnknown):
        crm.create("customers", body)
    admin.faults(lost_response_rate=0.0)
    assert crm.find_by_external_ref("customers", "membercare:companies:777")["name"] == "Tapt Svar AS"


def test_a_create_that_failed_before_the_store_is_unknown_and_not_retried(customcrm_server, admin):
    admin.faults(error_rate=1.0)
    with CustomCrmClient(customcrm_server.api_url, TOKEN, retry=RetryPolicy(attempts=3)) as client:
        with pytest.raises(OutcomeUnknown):
            client.create("customers", {"name": "Aldri", "customer_type": "company"})
        with pytest.raises(RetryableError):
            client.get("customers", 1)
    assert admin.stats()["requests"]["POST customers"] == 1, "a POST with an unknown outcome must not be resent"


def test_bounded_concurrency_reports_each_outcome(crm):
    bodies = [{"name": f"Parallell {i}", "customer_type": "company"} for i in range(20)]
    bodies[5] = {"name": "Ugyldig", "customer_type": "cooperative"}
    outcomes = crm.map_bounded(lambda body: crm.create("customers", body), bodies, workers=4)
    assert isinstance(outcomes[5], ValidationFailed)
    assert sum(isinstance(o, dict) for o in outcomes) == 19
