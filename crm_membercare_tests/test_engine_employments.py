"""B1's customer and title are the person's *first* employment; the others are MemberCare's and survive.

A contact linked to a person, the person given a second employment in MemberCare, then the contact's
customer cleared in the CRM: the first employment goes, the second becomes the first, and the pair converges
on it (the CRM takes its company and position) instead of drifting for good. Real HTTP, real state file.
"""

from __future__ import annotations

from crm_membercare.engine.qa import context, pair_drift
from crm_membercare.mapping.flows import flow_by_name
from crm_membercare_tests.engine_support import links_by

CONTACTS = flow_by_name("contacts_persons")
CUSTOMERS = flow_by_name("customers_companies")


def test_clearing_the_customer_of_a_person_with_two_employments_converges(world, users):
    crm, mc = users
    first = crm.create("customers", {"name": "First AS", "customer_type": "company", "org_number": "911111111"})
    second = crm.create("customers", {"name": "Second AS", "customer_type": "company", "org_number": "922222222"})
    contact = crm.create("contacts", {"first_name": "Eva", "last_name": "Employed", "email": "eva@example.org",
                                      "customer_id": first["id"], "title": "CEO"})
    world.cycle()
    companies = {crm_id: mc_id for crm_id, mc_id in links_by(world.con, CUSTOMERS)}
    ((_, person_id),) = list(links_by(world.con, CONTACTS))
    person = mc.get("persons", person_id)
    assert person["employments"] == [{"companyDebtorAccountNumber": companies[first["id"]], "position": "CEO"}]

    mc.update("persons", person_id, {"employments": [
        *person["employments"], {"companyDebtorAccountNumber": companies[second["id"]], "position": "Board member"}]})
    world.cycle()
    crm.update("contacts", contact["id"], {"customer_id": None})
    world.cycle()
    world.cycle()

    after = crm.get("contacts", contact["id"])
    person = mc.get("persons", person_id)
    assert person["employments"] == [{"companyDebtorAccountNumber": companies[second["id"]],
                                      "position": "Board member"}], "only the first employment is the sync's"
    assert (after["customer_id"], after["title"]) == (second["id"], "Board member")
    finding = pair_drift(world.con, CONTACTS, context(world.con, world.countries))
    assert finding.passed and not finding.explained, finding

    world.clear_stats()
    world.cycle()
    assert world.write_requests() == {"customcrm": {}, "membercare": {}}, "converged: a quiet cycle writes nothing"
