"""The MemberCare client against the real sandbox over HTTP: tokens, drift-proof paging, DST, faults."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm_membercare.systems import MemberCareClient, OutcomeUnknown, Unauthorized
from crm_membercare_tests.clients_support import Admin, RecordingSleep

API_KEY = "sandbox-membercare-key"


@pytest.fixture
def admin(membercare_server):
    handle = Admin(membercare_server)
    yield handle
    handle.close()


@pytest.fixture
def sleep():
    return RecordingSleep()


@pytest.fixture
def mc(membercare_server, sleep):
    with MemberCareClient(membercare_server.api_url, API_KEY, sleep=sleep) as client:
        yield client


def make_persons(mc: MemberCareClient, count: int, prefix: str = "Person") -> list[dict]:
    return [mc.create("persons", {"firstname": f"{prefix}{i}", "lastname": "Nordmann"}) for i in range(count)]


def collect(mc: MemberCareClient, seen_through: str | None = None, page_size: int = 10):
    pages = list(mc.iter_changes("persons", seen_through, page_size=page_size))
    return [record for page in pages for record in page.records], pages


def assert_once_per_version(records: list[dict]) -> None:
    versions = [(r["debtorAccountNumber"], r["lastChange"]) for r in records]
    assert len(versions) == len(set(versions)), "a record was yielded twice at the same version"


def spread_in_time(admin: Admin, mc: MemberCareClient, count: int, start: datetime, step_s: int) -> list[dict]:
    """Create persons whose lastChange values lie `step_s` seconds apart, from `start`."""
    made = []
    for i in range(count):
        admin.set_clock(start + timedelta(seconds=i * step_s))
        made += make_persons(mc, 1, prefix=f"T{i}-")
    return made


def test_the_token_is_fetched_once_and_reused(mc, admin):
    make_persons(mc, 3)
    mc.list_ids("persons")
    assert admin.stats()["requests"]["GET token"] == 1


def test_a_wrong_api_key_is_unauthorized(membercare_server):
    with MemberCareClient(membercare_server.api_url, "wrong-key") as client, pytest.raises(Unauthorized):
        client.list_ids("persons")


def test_an_expired_token_mid_iteration_is_refreshed(mc, admin):
    admin.faults(token_ttl_s=1)
    made = make_persons(mc, 12)
    records = []
    for page in mc.iter_changes("persons", page_size=4):
        records += page.records
        time.sleep(1.2)  # the token expires between pages
    assert {r["debtorAccountNumber"] for r in records} == {p["debtorAccountNumber"] for p in made}
    assert admin.stats()["requests"]["GET token"] >= 2


def test_changed_after_is_exclusive_so_the_client_rereads_the_cursor_second(mc, admin):
    start = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
    made = spread_in_time(admin, mc, 3, start, 5)
    cursor = made[1]["lastChange"]
    # A second write in the same second as the cursor, made after the cursor was taken.
    admin.set_clock(start + timedelta(seconds=5, milliseconds=500))
    late = make_persons(mc, 1, prefix="Sen")[0]
    assert late["lastChange"] == cursor
    records, _ = collect(mc, cursor)
    ids = {r["debtorAccountNumber"] for r in records}
    assert {late["debtorAccountNumber"], made[2]["debtorAccountNumber"]} <= ids
    assert made[0]["debtorAccountNumber"] not in ids


def test_page_drift_loses_nothing_when_records_are_spread_in_time(mc, admin, membercare_server):
    made = spread_in_time(admin, mc, 30, datetime(2026, 3, 2, 10, 0, tzinfo=UTC), 2)
    admin.set_clock(datetime(2026, 3, 2, 11, 0, tzinfo=UTC))
    iterator = mc.iter_changes("persons", page_size=10)
    first = next(iterator)
    target = first.records[0]
    mc.replace("persons", target["debtorAccountNumber"], {"firstname": "Endret", "lastname": "Nordmann"})
    records = first.records + [r for page in iterator for r in page.records]
    assert {r["debtorAccountNumber"] for r in records} == {p["debtorAccountNumber"] for p in made}
    assert_once_per_version(records)
    assert any(r["firstname"] == "Endret" for r in records), "the edit is a new version and must be seen"


def test_a_naive_page_reader_really_loses_a_record_under_drift(mc, admin, membercare_server):
    """The sandbox behaves as specified, so the test above can fail."""
    admin.set_clock(datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC))
    made = make_persons(mc, 30)
    token = mc.auth_headers()
    url = f"{membercare_server.api_url}/persons"
    with httpx.Client(headers=token) as http:
        page1 = http.get(url, params={"page": 1, "pageSize": 10}).json()["result"]
        admin.set_clock(datetime(2026, 3, 2, 12, 1, 0, tzinfo=UTC))  # the edit lands in a later second
        mc.replace("persons", page1[0]["debtorAccountNumber"], {"firstname": "Flyttet", "lastname": "Nordmann"})
        rest = [r for p in (2, 3, 4) for r in http.get(url, params={"page": p, "pageSize": 10}).json()["result"]]
    naive = {r["debtorAccountNumber"] for r in page1 + rest}
    assert naive != {p["debtorAccountNumber"] for p in made}


def test_page_drift_in_a_block_of_one_second_loses_nothing(mc, admin):
    admin.set_clock(datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC))  # runs on, but 30 creates fit in a second or two
    made = make_persons(mc, 30)
    iterator = mc.iter_changes("persons", page_size=5)
    records = next(iterator).records + next(iterator).records
    admin.set_clock(datetime(2026, 3, 2, 12, 1, 0, tzinfo=UTC))  # the edit lands in a later second
    mc.replace("persons", records[0]["debtorAccountNumber"], {"firstname": "Blokk", "lastname": "Nordmann"})
    records += [r for page in iterator for r in page.records]
    assert {r["debtorAccountNumber"] for r in records} == {p["debtorAccountNumber"] for p in made}
    assert_once_per_version(records)
    assert any(r["firstname"] == "Blokk" for r in records)


def test_a_hard_delete_during_a_one_second_block_loses_nothing(mc, admin):
    admin.set_clock(datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC))
    made = [mc.create("products", {"productNumber": f"P-{i}", "name": f"Vare {i}"}) for i in range(30)]
    pages = mc.iter_changes("products", page_size=5)
    records = next(pages).records + next(pages).records
    mc.delete("products", records[0]["id"])
    records += [r for page in pages for r in page.records]
    assert {r["id"] for r in records} == {p["id"] for p in made}
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("page_size", [2, 50])
def test_a_cursor_in_the_repeated_autumn_hour(mc, admin, page_size):
    # 2026-10-25: 00:00-01:00 UTC is 02:00-03:00 CEST, 01:00-02:00 UTC is 02:00-03:00 CET again.
    first_hour = spread_in_time(admin, mc, 4, datetime(2026, 10, 25, 0, 20, tzinfo=UTC), 60)
    second_hour = spread_in_time(admin, mc, 4, datetime(2026, 10, 25, 1, 10, tzinfo=UTC), 60)
    assert first_hour[0]["lastChange"][11:13] == "02" and second_hour[0]["lastChange"][11:13] == "02"
    cursor = second_hour[0]["lastChange"]  # wall clock 02:10, second occurrence
    records, _ = collect(mc, cursor, page_size=page_size)
    assert {r["debtorAccountNumber"] for r in second_hour} <= {r["debtorAccountNumber"] for r in records}
    assert_once_per_version(records)
    everything, _ = collect(mc, None, page_size=page_size)
    assert len(everything) == 8
    assert_once_per_version(everything)


def test_rate_limit_is_honoured_with_retry_after(mc, admin, sleep):
    make_persons(mc, 1)
    admin.faults(rate_limit_per_s=2)
    for _ in range(6):
        mc.list_ids("persons")
    assert admin.stats()["faults"]["rate_limited"] >= 1
    assert sleep.calls and min(sleep.calls) >= 1.0


def test_a_lost_create_response_is_an_unknown_outcome_and_the_record_exists(mc, admin):
    mc.list_ids("persons")  # fetch the token before the fault starts
    admin.faults(lost_response_rate=1.0)
    with pytest.raises(OutcomeUnknown):
        mc.create("persons", {"firstname": "Kari", "lastname": "Tapt", "externalId": "customcrm:contacts:42"})
    admin.faults(lost_response_rate=0.0)
    found = mc.find_by_external_id("persons", "customcrm:contacts:42")
    assert found is not None and found["lastname"] == "Tapt"


def test_countries_and_ids(mc):
    countries = {c["iso2Letter"]: c["id"] for c in mc.countries()}
    assert countries["NO"] == 160
    made = make_persons(mc, 2)
    assert set(mc.list_ids("persons")) >= {p["debtorAccountNumber"] for p in made}
