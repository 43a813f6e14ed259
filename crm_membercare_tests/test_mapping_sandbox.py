"""Mapped bodies against the real MemberCare sandbox over HTTP: what validation accepts, the server accepts,
and what the server returns maps back to the same values."""

from __future__ import annotations

import httpx

from crm_membercare.mapping import (
    CountryTable,
    InMemoryLinks,
    MappingContext,
    apply_common_to_mc,
    crm_to_common,
    flow_by_name,
    mc_to_common,
    validate_for_membercare,
)


def test_mapped_person_is_accepted_and_reads_back_equal(membercare_server):
    base = f"{membercare_server.root_url}/api/v1"
    with httpx.Client(base_url=base, timeout=10) as http:
        token = http.get("/token", params={"clientApiKey": "sandbox-membercare-key"}).json()["value"]
        http.headers["token"] = token
        countries = CountryTable.from_api(http.get("/addresses/countries").json()["result"])
        assert countries.id_for("NO") == 160
        company = http.post("/companies", json={"companyName": "Fjord AS"}).json()
        links = InMemoryLinks()
        links.add("customers_companies", 5, company["debtorAccountNumber"])
        ctx = MappingContext(links, countries)

        contacts = flow_by_name("contacts_persons")
        crm = {"first_name": "Kari", "last_name": "Nordmann", "email": "kari@example.no", "phone": "912 34 567",
               "title": "CEO", "customer_id": 5, "street": "Storgata 1", "postal_code": "0155", "city": "Oslo",
               "country": "NO", "birth_date": "1980-05-01", "newsletter": True}
        values = crm_to_common(contacts, crm)
        body = apply_common_to_mc(contacts, values, None, ctx)
        assert validate_for_membercare(contacts, body, countries) == []
        created = http.post("/persons", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["birthDate"] == "1980-05-01T00:00:00"
        assert mc_to_common(contacts, created.json(), ctx) == values

        bad = apply_common_to_mc(contacts, {**values, "phone": "call me"}, created.json(), ctx)
        assert [p.field for p in validate_for_membercare(contacts, bad, countries)] == ["phone"]
        refused = http.put(f"/persons/{created.json()['debtorAccountNumber']}", json=bad)
        assert refused.status_code == 422
