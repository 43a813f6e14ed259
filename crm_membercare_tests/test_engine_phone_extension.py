"""A phone extension ("(0047) 912-34-567 ext 5") has no room in MemberCare: its phones are E.164, and E.164
holds no extension. Dropping it silently lost data; now it is a reject naming the extension, and the rest of
a linked record still syncs. Real HTTP, real state file."""

from __future__ import annotations

import pytest

from crm_membercare.mapping.flows import flow_by_name
from crm_membercare_tests.engine_support import World, links_by, rejects_of

CONTACTS = flow_by_name("contacts_persons")
CUSTOMERS = flow_by_name("customers_companies")


def open_rejects(world: World, flow) -> list[dict]:
    return [r for r in rejects_of(world.con, flow) if r["open"]]


@pytest.mark.parametrize("typed", ["(0047) 912-34-567 ext 5", "+47 22 33 44 55 x12", "91234567#5"])
def test_a_new_contact_with_an_extension_is_a_reject_not_a_shortened_number(world, users, typed):
    crm, _ = users
    contact = crm.create("contacts", {"first_name": "Ext", "last_name": "Ension", "email": "ext@example.org",
                                      "phone": typed})
    world.cycle()
    (reject,) = open_rejects(world, CONTACTS)
    assert (reject["side"], reject["record_id"], reject["field"]) == ("crm", str(contact["id"]), "phone")
    assert "extension" in reject["reason"] and reject["value"] == typed
    assert not [p for p in world.snapshot().mc["persons"].values() if p["contacts"]
                and any(c["contactType"] == "Mobile" for c in p["contacts"])], "no number without its extension"


def test_an_extension_added_to_a_linked_customer_is_rejected_and_the_rest_still_syncs(world, users):
    crm, mc = users
    customer = crm.create("customers", {"name": "Switchboard AS", "customer_type": "company",
                                        "phone": "+47 22 33 44 55"})
    world.cycle()
    ((_, company_id),) = list(links_by(world.con, CUSTOMERS))
    crm.update("customers", customer["id"], {"phone": "+47 22 33 44 55 ext 7", "name": "Switchboard ASA"})
    world.cycle()
    company = mc.get("companies", company_id)
    assert company["companyName"] == "Switchboard ASA"
    assert company["contacts"] == [{"contactType": "Phone", "value": "+4722334455"}], "the old number stays"
    (reject,) = open_rejects(world, CUSTOMERS)
    assert reject["field"] == "phone" and "ext 7" in reject["reason"]

    crm.update("customers", customer["id"], {"phone": "+47 22 33 44 66"})
    world.cycle()
    assert open_rejects(world, CUSTOMERS) == []
    assert mc.get("companies", company_id)["contacts"] == [{"contactType": "Phone", "value": "+4722334466"}]
