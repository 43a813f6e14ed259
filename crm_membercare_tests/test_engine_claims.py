"""An identity typed by a user is a claim, not a proof (DESIGN C2): it links a pair only when corroborated.

Each test writes as a user of one system would (plain HTTP, `hostile_support`), runs `sync --once`-sized
cycles against the sandboxes and a real state file, and reads both systems back. An uncorroborated claim
links nothing, overwrites nothing, creates nothing, and is reported in `sync.ambiguous` with a reason naming
the claim; a corroborated one (both stamps, the sync's own outbox, or the flow's match key) still links.
"""

from __future__ import annotations

from crm_membercare.engine.operations import CRM_SIDE, MC_SIDE
from crm_membercare.engine.qa import linked_coverage
from crm_membercare.mapping.flows import flow_by_name
from crm_membercare_tests.engine_support import World, links_by

CONTACTS = flow_by_name("contacts_persons")


def person_body(first: str, last: str, email: str, external_id: str | None = None) -> dict:
    return {"firstname": first, "lastname": last, "contacts": [{"contactType": "Email", "value": email}],
            "externalId": external_id}


def ambiguous(world: World, side: str) -> dict[str, tuple[str, list]]:
    rows = world.con.execute("SELECT record_id, match_key, candidates FROM sync.ambiguous WHERE flow = ? AND side = ?",
                             [CONTACTS.name, side]).fetchall()
    return {record_id: (key, candidates) for record_id, key, candidates in rows}


def test_a_person_claiming_an_unlinked_contact_overwrites_nothing(world, users):
    crm, mc = users
    claimed = crm.create("contacts", {"first_name": "Ada", "last_name": "Original", "email": "shared@example.org"})
    crm.create("contacts", {"first_name": "Bea", "last_name": "Twin", "email": "shared@example.org"})
    world.cycle()
    assert str(claimed["id"]) in ambiguous(world, CRM_SIDE), "the shared email makes the contact ambiguous"

    claim = f"customcrm:contacts:{claimed['id']}"
    person = mc.create("persons", person_body("Mallory", "Claimant", "mallory@example.org", claim))
    world.cycle()
    world.cycle()

    contact = crm.get("contacts", claimed["id"])
    assert (contact["first_name"], contact["last_name"], contact["email"]) == ("Ada", "Original",
                                                                               "shared@example.org")
    assert contact["external_ref"] is None
    assert mc.get("persons", person["debtorAccountNumber"])["firstname"] == "Mallory"
    assert links_by(world.con, CONTACTS) == {}
    snap = world.snapshot()
    assert not [c for c in snap.crm["contacts"].values() if c["email"] == "mallory@example.org"], \
        "a claiming record is not created on the other side either"
    reason, candidates = ambiguous(world, MC_SIDE)[str(person["debtorAccountNumber"])]
    assert claim in reason and "not corroborated" in reason
    assert candidates == f'["{claimed["id"]}"]'
    coverage = linked_coverage(world.con, CONTACTS, MC_SIDE)
    assert coverage.passed and str(person["debtorAccountNumber"]) in coverage.explained["ambiguous match"]


def test_a_contact_claiming_an_unlinked_person_overwrites_nothing(world, users):
    crm, mc = users
    claimed = mc.create("persons", person_body("Per", "Original", "twin@example.org"))
    mc.create("persons", person_body("Pål", "Twin", "twin@example.org"))
    world.cycle()
    claim = f"membercare:persons:{claimed['debtorAccountNumber']}"
    contact = crm.create("contacts", {"first_name": "Mallory", "last_name": "Claimant",
                                      "email": "mallory@example.org", "external_ref": claim})
    world.cycle()
    world.cycle()

    person = mc.get("persons", claimed["debtorAccountNumber"])
    assert (person["firstname"], person["lastname"]) == ("Per", "Original")
    assert person["contacts"] == [{"contactType": "Email", "value": "twin@example.org"}]
    assert person["externalId"] is None
    assert links_by(world.con, CONTACTS) == {}
    snap = world.snapshot()
    assert not [p for p in snap.mc["persons"].values()
                if any(c["value"] == "mallory@example.org" for c in p["contacts"])]
    reason, _ = ambiguous(world, CRM_SIDE)[str(contact["id"])]
    assert claim in reason and "not corroborated" in reason
    assert linked_coverage(world.con, CONTACTS, CRM_SIDE).passed


def test_a_claim_whose_match_key_agrees_links(world, users):
    crm, mc = users
    person = mc.create("persons", person_body("Kari", "Nordmann", "kari@example.org"))
    mc.create("persons", person_body("Kari", "Twin", "kari@example.org"))
    contact = crm.create("contacts", {"first_name": "Kari", "last_name": "Nordmann", "email": "KARI@example.org",
                                      "external_ref": f"membercare:persons:{person['debtorAccountNumber']}"})
    world.cycle()
    assert links_by(world.con, CONTACTS) == {(contact["id"], person["debtorAccountNumber"]):
                                             ("active", "external_id")}
    assert mc.get("persons", person["debtorAccountNumber"])["externalId"] == f"customcrm:contacts:{contact['id']}"


def test_a_claim_withdrawn_by_the_user_lets_the_record_sync(world, users):
    crm, mc = users
    target = crm.create("contacts", {"first_name": "Ada", "last_name": "Target", "email": "ada@example.org"})
    world.cycle()
    person = mc.create("persons", person_body("Other", "Person", "other@example.org",
                                              f"customcrm:contacts:{target['id'] + 1000}"))
    world.cycle()
    assert str(person["debtorAccountNumber"]) not in ambiguous(world, MC_SIDE), \
        "a claim naming no record is no claim: the person syncs as any new one"
    person = mc.create("persons", person_body("Eve", "Claimant", "eve@example.org",
                                              f"customcrm:contacts:{target['id']}"))
    world.cycle()
    assert str(person["debtorAccountNumber"]) in ambiguous(world, MC_SIDE)
    assert crm.get("contacts", target["id"])["first_name"] == "Ada"
    mc.update("persons", person["debtorAccountNumber"], {"externalId": None})
    world.cycle()
    assert str(person["debtorAccountNumber"]) not in ambiguous(world, MC_SIDE)
    created = [c for c in world.snapshot().crm["contacts"].values() if c["email"] == "eve@example.org"]
    assert len(created) == 1 and created[0]["external_ref"] == f"membercare:persons:{person['debtorAccountNumber']}"
    assert crm.get("contacts", target["id"])["first_name"] == "Ada"


def test_the_syncs_own_stamp_from_an_unknown_create_outcome_still_links(world, users):
    """A create whose answer was lost leaves the new person claiming the contact and nothing in the state but
    the outbox; the contact's email edited meanwhile, only the outbox corroborates the claim."""
    crm, mc = users
    contact = crm.create("contacts", {"first_name": "Lost", "last_name": "Answer", "email": "lost@example.org"})
    world.mc_admin.faults(lost_response_rate=1.0)
    try:
        world.cycle()
        assert world.mc_admin.stats()["faults"]["lost_response"] >= 1
    finally:
        world.mc_admin.faults(lost_response_rate=0.0)
    crm.update("contacts", contact["id"], {"email": "found@example.org"})
    world.cycle()
    world.cycle()
    persons = [p for p in world.snapshot().mc["persons"].values()
               if p["externalId"] == f"customcrm:contacts:{contact['id']}"]
    assert len(persons) == 1
    person_id = persons[0]["debtorAccountNumber"]
    assert links_by(world.con, CONTACTS)[(contact["id"], person_id)][0] == "active"
    assert persons[0]["contacts"][0]["value"] == "found@example.org"
    assert crm.get("contacts", contact["id"])["external_ref"] == f"membercare:persons:{person_id}"
