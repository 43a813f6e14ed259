"""End to end: a lost create response makes no duplicate; unowned MemberCare fields survive every update; a
MemberCare edit in the same second as the stored version is still seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_membercare.engine.identity import crm_identity
from crm_membercare.mapping.flows import flow_by_name
from crm_membercare_tests.engine_support import active_links, synced_world

CONTACTS = flow_by_name("contacts_persons")
CUSTOMERS = flow_by_name("customers_companies")
UNOWNED_PERSON_FIELDS = ("socialSecurityNumber", "gender", "memberType", "allowSms")


@pytest.fixture(scope="module")
def world():
    with synced_world(seed=9) as synced:
        yield synced


def test_a_lost_create_response_creates_no_duplicate(world):
    with world.clients() as (crm, _):
        contact = crm.create("contacts", {"first_name": "Lost", "last_name": "Response",
                                          "email": "lost.response@example.org"})
    world.mc_admin.faults(lost_response_rate=1.0)
    try:
        world.cycle()
        assert world.mc_admin.stats()["faults"]["lost_response"] >= 1, "the create's answer was not lost"
    finally:
        world.mc_admin.faults(lost_response_rate=0.0)
    world.cycle()
    snap = world.snapshot()
    stamp = crm_identity("contacts", contact["id"])
    persons = [p for p in snap.mc["persons"].values() if p.get("externalId") == stamp
               or any(c.get("value") == "lost.response@example.org" for c in p.get("contacts") or [])]
    assert len(persons) == 1, persons
    assert (contact["id"], persons[0]["debtorAccountNumber"]) in active_links(world.con, CONTACTS)


def test_unowned_membercare_fields_survive_an_update_of_every_owned_field(world):
    snap = world.snapshot()
    companies = [mc_id for _, mc_id in active_links(world.con, CUSTOMERS)]
    crm_id, mc_id = next((c, m) for c, m in active_links(world.con, CONTACTS)
                         if snap.crm["contacts"][c].get("customer_id") and snap.mc["persons"][m].get("addresses"))
    person = snap.mc["persons"][mc_id]
    extras = {
        "socialSecurityNumber": {"number": "01017012345", "iso2Letter": "NO"},
        "gender": 2, "memberType": 3, "allowSms": True,
        "contacts": [*person["contacts"], {"contactType": "Phone", "value": "+4722334455"},
                     {"contactType": "Email", "value": "second.address@example.org"}],
        "addresses": [*person["addresses"], {"street": "Hyttevegen 2", "postalCode": {"zipCode": "3580",
                                                                                     "city": "Geilo"},
                                             "country": person["addresses"][0]["country"]}],
        "employments": [*person["employments"], {"companyDebtorAccountNumber": companies[-1],
                                                 "position": "Styremedlem"}],
    }
    with world.clients() as (crm, mc):
        mc.replace("persons", mc_id, {**mc.get("persons", mc_id), **extras})
    world.cycle()
    before = world.snapshot().mc["persons"][mc_id]

    owned = {"first_name": "Owned", "last_name": "Everything", "email": "owned.everything@example.org",
             "phone": "+47 912 34 567", "birth_date": "1977-07-07", "street": "Nyvegen 1", "postal_code": "0150",
             "city": "Oslo", "country": "NO", "customer_id": next(c for c, _ in active_links(world.con, CUSTOMERS)
                                                                   if c != snap.crm["contacts"][crm_id]["customer_id"]),
             "title": "Daglig leder", "newsletter": not snap.crm["contacts"][crm_id]["newsletter"]}
    assert set(owned) == set(CONTACTS.keys), "a new contacts row needs an edit here"
    with world.clients() as (crm, _):
        crm.update("contacts", crm_id, owned)
    world.cycle()
    after = world.snapshot().mc["persons"][mc_id]

    assert after["firstname"] == "Owned" and after["employments"][0]["position"] == "Daglig leder"
    for field in UNOWNED_PERSON_FIELDS:
        assert after[field] == before[field] == extras[field], field
    assert [c for c in after["contacts"] if c["value"] == "second.address@example.org"] == \
        [{"contactType": "Email", "value": "second.address@example.org"}]
    assert [c for c in after["contacts"] if c["contactType"] == "Phone"] == \
        [{"contactType": "Phone", "value": "+4722334455"}]
    assert _without_ids(after["addresses"][1:]) == _without_ids(before["addresses"][1:])
    assert after["addresses"][1]["street"] == "Hyttevegen 2"
    assert after["employments"][1:] == before["employments"][1:] == [extras["employments"][-1]]


def _without_ids(addresses: list[dict]) -> list[dict]:
    return [{k: v for k, v in address.items() if k != "id"} for address in addresses]


def test_a_membercare_edit_in_the_same_second_as_the_stored_version_is_seen(world):
    """Two edits stamped with the same lastChange second (the sandbox clock set to it twice)."""
    crm_id, mc_id = active_links(world.con, CONTACTS)[-1]
    instant = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    try:
        with world.clients() as (_, mc):
            world.mc_admin.set_clock(instant)
            mc.replace("persons", mc_id, {**mc.get("persons", mc_id), "firstname": "FirstEdit"})
            world.cycle()
            world.mc_admin.set_clock(instant)
            mc.replace("persons", mc_id, {**mc.get("persons", mc_id), "firstname": "SecondEdit"})
        world.cycle()
    finally:
        # Keep MemberCare's time ahead of the cursor the test moved into the future.
        world.mc_admin.set_clock(instant + timedelta(seconds=5))
    assert world.snapshot().crm["contacts"][crm_id]["first_name"] == "SecondEdit"
