"""MemberCare sandbox listing over real HTTP: bounds, envelope, changedAfter at second precision in local time
(including both DST transitions), ordering, and the page drift the real API has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm_membercare_tests.test_membercare_sandbox import admin, api, person, product, set_clock

__all__ = ["admin", "api"]  # fixtures shared with the sandbox tests

START = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


def persons_at(api: httpx.Client, admin: httpx.Client, instants: list[datetime]) -> list[str]:
    """One person written at each instant; their debtor numbers."""
    numbers = []
    for index, instant in enumerate(instants):
        set_clock(admin, instant)
        numbers.append(person(api, firstname=f"P{index}")["debtorAccountNumber"])
    return numbers


def listed(api: httpx.Client, resource: str = "persons", **params) -> dict:
    answer = api.get(f"/{resource}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def numbers(page: dict) -> list[str]:
    return [record["debtorAccountNumber"] for record in page["result"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"pageSize": 0}, "pageSize"), ({"pageSize": 501}, "pageSize"), ({"page": 0}, "page"),
     ({"page": "x"}, "page"), ({"changedAfter": "2026-11-27 09:15"}, "changedAfter")],
)
def test_out_of_range_parameters_are_422_naming_the_parameter(api, params, field):
    answer = api.get("/persons", params=params)
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == [field]


def test_the_envelope_pages_and_keeps_filters(api, admin, membercare_server):
    made = persons_at(api, admin, [START + timedelta(seconds=i) for i in range(5)])
    first = listed(api, pageSize=2, changedAfter="2026-11-20T12:00:00")  # 13:00 local is the first write
    assert (first["totalCount"], first["totalPages"], first["previousPageUrl"]) == (5, 3, None)
    assert numbers(first) == made[:2]
    next_url = httpx.URL(first["nextPageUrl"])
    assert str(next_url).startswith(membercare_server.api_url + "/persons?")
    assert (next_url.params["page"], next_url.params["pageSize"]) == ("2", "2")
    assert next_url.params["changedAfter"] == "2026-11-20T12:00:00"

    second = api.get(first["nextPageUrl"]).json()
    assert numbers(second) == made[2:4]
    assert httpx.URL(second["previousPageUrl"]).params["page"] == "1"
    last = api.get(second["nextPageUrl"]).json()
    assert numbers(last) == made[4:] and last["nextPageUrl"] is None
    assert listed(api, page=4, pageSize=2)["result"] == []
    assert len(listed(api)["result"]) == 5  # default pageSize 50


def test_changed_after_is_exclusive_at_second_precision(api, admin):
    early, late = persons_at(api, admin, [START, START + timedelta(seconds=1)])
    shown = listed(api)["result"]
    assert [r["lastChange"] for r in shown] == ["2026-11-20T13:00:00", "2026-11-20T13:00:01"]
    assert numbers(listed(api, changedAfter="2026-11-20T13:00:00")) == [late]
    assert numbers(listed(api, changedAfter="2026-11-20T12:59:59")) == [early, late]
    assert numbers(listed(api, changedAfter="2026-11-20T13:00:01")) == []


def test_ties_in_the_same_second_are_ordered_by_id_numerically(api, admin):
    ids = []
    for index in range(12):
        set_clock(admin, START)  # every write in the same second
        ids.append(product(api, f"P-{index}")["id"])
    assert [r["id"] for r in listed(api, "products")["result"]] == sorted(ids)
    assert sorted(ids) == list(range(1, 13))  # 10..12 after 9: numeric, not text order


def test_pages_drift_when_a_record_changes_between_requests(api, admin):
    made = persons_at(api, admin, [START + timedelta(seconds=i) for i in range(5)])
    first = listed(api, pageSize=2)
    assert numbers(first) == made[:2]

    set_clock(admin, START + timedelta(minutes=5))
    assert api.put(f"/persons/{made[0]}", json={"firstname": "Edited", "lastname": "X"}).status_code == 200

    # the edited record moved to the end; everything behind it shifted forward one place
    second = api.get(first["nextPageUrl"]).json()
    assert numbers(second) == [made[3], made[4]]
    third = api.get(second["nextPageUrl"]).json()
    assert numbers(third) == [made[0]]
    seen = numbers(first) + numbers(second) + numbers(third)
    assert made[2] not in seen, "a naive page-by-page reader misses the record that shifted forward"


def test_order_and_changed_after_follow_the_instant_in_the_repeated_autumn_hour(api, admin):
    # 2026-10-25: 00:00Z-01:00Z is 02:00-03:00 summer time, 01:00Z-02:00Z the same wall-clock hour again
    first_pass, second_early, second_late = persons_at(api, admin, [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 (first occurrence)
        datetime(2026, 10, 25, 1, 10, tzinfo=UTC),  # 02:10 (second occurrence)
        datetime(2026, 10, 25, 1, 40, tzinfo=UTC),  # 02:40 (second occurrence)
    ])
    everything = listed(api)
    assert [r["lastChange"] for r in everything["result"]] == [
        "2026-10-25T02:30:00", "2026-10-25T02:10:00", "2026-10-25T02:40:00"
    ]
    assert numbers(everything) == [first_pass, second_early, second_late]  # by instant, not by wall clock
    # 02:35 means its first occurrence (00:35Z): a superset, including 02:10 of the second pass
    assert numbers(listed(api, changedAfter="2026-10-25T02:35:00")) == [second_early, second_late]
    # a client that saw the record shown as 02:30 asks with that value and misses nothing after it
    assert numbers(listed(api, changedAfter="2026-10-25T02:30:00")) == [second_early, second_late]
    assert numbers(listed(api, changedAfter="2026-10-25T03:00:00")) == []


def test_changed_after_inside_the_skipped_spring_hour_means_just_before_the_jump(api, admin):
    # 2026-03-29 01:00Z: the clock jumps from 02:00 to 03:00; 02:30 local never happens
    before, at_jump = persons_at(api, admin, [
        datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),  # 01:59:59 winter time
        datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),  # 03:00:00 summer time
    ])
    assert [r["lastChange"] for r in listed(api)["result"]] == ["2026-03-29T01:59:59", "2026-03-29T03:00:00"]
    assert numbers(listed(api, changedAfter="2026-03-29T02:30:00")) == [at_jump]
    assert numbers(listed(api, changedAfter="2026-03-29T01:59:58")) == [before, at_jump]
