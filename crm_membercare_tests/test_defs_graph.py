"""The Dagster definitions: they load, and the whole graph materializes against both sandboxes.

One module-scoped pair of sandboxes (small, overlap 0.3) and one state file; the tests run in order on it:
a first full sync, a seeded drift the pair-equality check catches, a mass delete the blocking breaker check
stops (other flows proceed), and the run config flag that acknowledges it.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import dagster as dg
import httpx
import pytest

from crm_membercare.defs import keys
from crm_membercare.defs.assets import assets
from crm_membercare.defs.checks import QA_CHECKS, checks
from crm_membercare.defs.jobs import INCREMENTAL_TAGS
from crm_membercare.defs.resources import CustomCrmResource, MemberCareResource, SyncEngineResource, state_database
from crm_membercare.engine.operations import TO_CRM, TO_MEMBERCARE
from crm_membercare.engine.state import open_state
from crm_membercare.mapping.flows import FLOWS, flow_by_name
from crm_membercare.sandbox.serving import serve_in_thread

CRM_TOKEN, MC_KEY = "sandbox-crm-token", "sandbox-membercare-key"
CONTACTS = flow_by_name("contacts_persons")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from crm_membercare.sandbox.customcrm.app import create_app as create_customcrm
    from crm_membercare.sandbox.membercare.app import create_app as create_membercare

    root = tmp_path_factory.mktemp("defs_graph")
    crm_server = serve_in_thread(create_customcrm(root / "customcrm.sqlite"))
    mc_server = serve_in_thread(create_membercare(root / "membercare.sqlite"))
    for server in (crm_server, mc_server):
        httpx.post(f"{server.root_url}/_sandbox/seed", json={"seed": 42, "scale": "small", "overlap": 0.3},
                   timeout=120).raise_for_status()
    crm = CustomCrmResource(base_url=crm_server.api_url, token=CRM_TOKEN)
    mc = MemberCareResource(base_url=mc_server.api_url, api_key=MC_KEY)
    db_path = str(root / "state.duckdb")
    sync = SyncEngineResource(crm=crm, membercare=mc, state=state_database(db_path),
                              analytics_path=str(root / "analytics.duckdb"))
    resources = {"crm": crm, "membercare": mc, "sync": sync}
    yield {"resources": resources, "db": db_path, "crm": crm_server, "mc": mc_server, "root": root}
    crm_server.stop()
    mc_server.stop()


def materialize(world, **options) -> dg.ExecuteInProcessResult:
    return dg.materialize([*assets, *checks], resources=world["resources"], raise_on_error=False, **options)


def metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    assert events, f"{key.to_user_string()} was not materialized"
    return {name: value.value for name, value in events[-1].materialization.metadata.items()}


def evaluations(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


ASSET_COUNT = 10 + 1 + 5 * len(FLOWS) + 2  # raw tables, countries, 5 per flow, conflicts and rejects
CHECK_COUNT = len(FLOWS) * (len(QA_CHECKS) + 4) + 1  # QA + 2 blocking per change set, lingering rejects


# --- loading -------------------------------------------------------------------------------------------

def test_definitions_load_with_the_graph_the_flows_describe():
    from crm_membercare.definitions import defs

    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    asset_keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw/crm_contacts", "raw/membercare_persons", "raw/membercare_countries",
            "links/contacts_persons_links", "changes/contacts_persons_changes_to_membercare",
            "changes/contacts_persons_changes_to_crm", "writeback/contacts_persons_written_to_membercare",
            "writeback/contacts_persons_written_to_crm", "operations/sync_conflicts",
            "operations/sync_rejects"} <= asset_keys
    assert len(asset_keys) == ASSET_COUNT

    orders_deps = {k.to_user_string() for k in graph.get(keys.links_key(flow_by_name("orders_invoices"))).parent_keys}
    for name in ("customers_companies", "contacts_persons", "products_products"):
        assert {f"writeback/{name}_written_to_membercare", f"writeback/{name}_written_to_crm"} <= orders_deps
    node = graph.get(keys.writeback_key(CONTACTS, TO_MEMBERCARE))
    assert node.group_name == "contacts_persons" and {"duckdb", "python", "membercare"} <= set(node.kinds)
    assert "firstname" in node.description
    assert graph.get(dg.AssetKey(["raw", "crm_contacts"])).group_name == "customcrm"

    check_names = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert len(check_names) == CHECK_COUNT
    for flow in FLOWS:
        assert {(f"links/{flow.name}_links", name) for name in QA_CHECKS} <= check_names
        for direction in (TO_MEMBERCARE, TO_CRM):
            target = f"changes/{flow.name}_changes_{direction}"
            assert {(target, "circuit_breaker"), (target, "change_set_validates")} <= check_names
    plan = next(a for a in assets if keys.changes_key(CONTACTS, TO_MEMBERCARE) in a.keys)
    specs = {(spec.asset_key, spec.name): spec for spec in plan.check_specs}
    assert all(spec.blocking for spec in specs.values()) and len(specs) == 4
    assert {s.name for s in defs.sensors} == {"customcrm_changes", "membercare_changes", "breaker_acknowledgements"}
    assert {s.job_name for s in defs.sensors} == {"sync_all"}


def test_every_label_is_unique_and_says_what_it_is():
    from crm_membercare.definitions import defs

    labels = [key.path[-1] for key in defs.resolve_asset_graph().get_all_asset_keys()]
    assert len(labels) == len(set(labels)) == ASSET_COUNT
    assert {"crm_contacts", "membercare_persons", "crm_products", "membercare_products", "contacts_persons_links",
            "contacts_persons_changes_to_crm", "contacts_persons_written_to_membercare", "sync_rejects"} <= set(labels)


def test_tables_carry_their_name_schema_and_the_property_table_as_column_lineage():
    from crm_membercare.definitions import defs

    graph = defs.resolve_asset_graph()

    def meta(key: str) -> dict:
        return graph.get(dg.AssetKey(key.split("/"))).metadata

    assert meta("raw/crm_contacts")["dagster/table_name"] == "crm.contacts"
    assert meta("raw/membercare_persons")["dagster/table_name"] == "membercare.persons"
    assert meta("operations/sync_rejects")["dagster/table_name"] == "sync.rejects"
    assert {"record_id", "field", "reason"} <= {c.name for c in meta("operations/sync_rejects")[
        "dagster/column_schema"].columns}
    persons_columns = {c.name for c in meta("raw/membercare_persons")["dagster/column_schema"].columns}
    assert {"id", "firstname", "lastname", "raw", "raw.contacts[Email].value"} <= persons_columns

    links = meta("links/contacts_persons_links")
    assert links["dagster/table_name"] == "sync.links"
    columns = {c.name for c in links["dagster/column_schema"].columns}
    # DESIGN B1, row by row: the CRM column and the MemberCare field each link column comes from.
    b1 = {"first_name": ("first_name", "firstname"), "last_name": ("last_name", "lastname"),
          "email": ("email", "raw.contacts[Email].value"), "phone": ("phone", "raw.contacts[Mobile].value"),
          "birth_date": ("birth_date", "birth_date"), "street": ("street", "raw.addresses[0].street"),
          "postal_code": ("postal_code", "raw.addresses[0].postalCode.zipCode"),
          "city": ("city", "raw.addresses[0].postalCode.city"), "country": ("country", "raw.addresses[0].country.id"),
          "customer_id": ("customer_id", "raw.employments[0].companyDebtorAccountNumber"),
          "title": ("title", "raw.employments[0].position"), "newsletter": ("newsletter", "allow_email")}
    assert set(b1) <= columns
    email = next(c for c in links["dagster/column_schema"].columns if c.name == "email")
    assert email.description.startswith("from `crm.contacts.email` and `membercare.persons.raw.contacts[Email].value`")
    lineage = links["dagster/column_lineage"].deps_by_column
    for column, (crm_column, mc_column) in b1.items():
        deps = {(d.asset_key.to_user_string(), d.column_name) for d in lineage[column]}
        assert deps == {("raw/crm_contacts", crm_column), ("raw/membercare_persons", mc_column)}, column

    to_mc = meta("changes/contacts_persons_changes_to_membercare")["dagster/column_lineage"].deps_by_column
    assert {(d.asset_key.to_user_string(), d.column_name) for d in to_mc["payload.contacts[Email].value"]} == \
        {("links/contacts_persons_links", "email")}
    to_crm = meta("changes/orders_invoices_changes_to_crm")["dagster/column_lineage"].deps_by_column
    # DESIGN B3: the debtor comes back as customer_id or contact_id; a line's quantity from invoiceItems[].quantity.
    assert {d.column_name for d in to_crm["payload.customer_id"]} == {"debtor"}
    assert {d.column_name for d in to_crm["payload.contact_id"]} == {"debtor", "contact_id"}
    assert {d.column_name for d in to_crm["payload.lines[].quantity"]} == {"lines[].quantity"}


def test_dagster_asset_list_shows_every_asset_without_warnings():
    listed = subprocess.run([str(Path(sys.executable).parent / "dagster"), "asset", "list", "-m",
                             "crm_membercare.definitions"], capture_output=True, text=True, timeout=120, check=True)
    assert len(listed.stdout.split()) == ASSET_COUNT
    assert "Warning" not in listed.stderr and "deprecated" not in listed.stderr.lower()


# --- running against the sandboxes ------------------------------------------------------------------------

def test_first_sync_links_everything_and_every_check_passes(world):
    result = materialize(world)
    assert result.success
    raw = metadata(result, dg.AssetKey(["raw", "crm_contacts"]))
    assert raw["dagster/row_count"] == 300 and raw["read"] == 300 and raw["cursor"]
    assert metadata(result, keys.COUNTRIES_KEY)["dagster/row_count"] >= 20
    links = metadata(result, keys.links_key(CONTACTS))
    assert links["new_links"] == 90  # 30 % of 300 seeded contacts exist on both sides
    assert links["creates"] == 420 and links["conflicts"] == 0
    to_mc = metadata(result, keys.writeback_key(CONTACTS, TO_MEMBERCARE))
    to_crm = metadata(result, keys.writeback_key(CONTACTS, TO_CRM))
    assert to_mc["created"] == 210 and to_crm["created"] == 210 and to_mc["pending"] == to_crm["pending"] == 0
    changes = metadata(result, keys.changes_key(CONTACTS, TO_MEMBERCARE))
    assert changes["dagster/row_count"] > 0 and "| outbox |" in changes["preview"]

    results = evaluations(result)
    assert len(results) == CHECK_COUNT
    failed = {key: e.metadata for key, e in results.items() if not e.passed}
    assert failed == {}
    coverage = results[("links/contacts_persons_links", "crm_records_linked")].metadata
    assert coverage["checked"].value == 510 and coverage["failing"].value == 0
    assert coverage["scope"].value == "full sweep"
    assert metadata(result, keys.REJECTS_KEY)["dagster/row_count"] == 0
    with open_state(world["db"], read_only=True) as con:
        assert con.execute("SELECT count(*), max(status) FROM sync.cycles").fetchone() == (1, "completed")


def test_seeded_drift_fails_the_pair_equality_check_and_names_the_pair(world):
    with open_state(world["db"]) as con:
        crm_id, mc_id, raw = con.execute(
            """SELECT l.crm_id, l.mc_id, p.raw FROM sync.links l JOIN membercare.persons p ON p.id = l.mc_id
               WHERE l.flow = 'contacts_persons' AND l.state = 'active' ORDER BY l.crm_id LIMIT 1""").fetchone()
        drifted = json.loads(raw) | {"firstname": "Drifted"}
        con.execute("UPDATE membercare.persons SET raw = ? WHERE id = ?", [json.dumps(drifted), mc_id])
    try:
        result = materialize(world, selection=[keys.links_key(CONTACTS), keys.changes_key(CONTACTS, TO_MEMBERCARE),
                                               keys.changes_key(CONTACTS, TO_CRM)])
        check = evaluations(result)[("links/contacts_persons_links", "pairs_equal_under_mapping")]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        assert check.metadata["failing_ids"].value == [f"{crm_id}:{mc_id}"]
        assert "first_name" in check.metadata["details"].value and "Drifted" in check.metadata["details"].value
        others = evaluations(result)[("links/contacts_persons_links", "crm_records_linked")]
        assert others.passed
    finally:
        with open_state(world["db"]) as con:
            con.execute("UPDATE membercare.persons SET raw = ? WHERE id = ?", [raw, mc_id])


def test_a_sensor_run_evaluates_every_check_over_what_it_touched_and_keeps_reporting_failures(world):
    from crm_membercare.definitions import defs

    job = defs.resolve_job_def("sync_all")
    every_check = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    assert job.execute_in_process(resources=world["resources"], tags=INCREMENTAL_TAGS, raise_on_error=False).success
    with httpx.Client(base_url=world["crm"].api_url, headers={"Authorization": f"Bearer {CRM_TOKEN}"}) as http:
        contact = http.get("/contacts", params={"limit": 1}).json()["data"][0]
        http.patch(f"/contacts/{contact['id']}", json={"city": "Hammerfest"}).raise_for_status()
    quiet = job.execute_in_process(resources=world["resources"], tags=INCREMENTAL_TAGS, raise_on_error=False)
    assert quiet.success
    results = evaluations(quiet)
    assert set(results) == every_check  # the sensors' job evaluates every check of everything it materializes
    assert {e.asset_key for e in quiet.get_asset_materialization_events()} == set(
        defs.resolve_asset_graph().get_all_asset_keys())
    coverage = results[("links/contacts_persons_links", "crm_records_linked")].metadata
    assert coverage["scope"].value.startswith("incremental") and coverage["checked"].value < 10

    # A drift nobody touches: found by a full sweep, still reported by the incremental runs after it.
    with open_state(world["db"]) as con:
        crm_id, mc_id, raw = con.execute(
            """SELECT l.crm_id, l.mc_id, p.raw FROM sync.links l JOIN membercare.persons p ON p.id = l.mc_id
               WHERE l.flow = 'contacts_persons' AND l.state = 'active'
               ORDER BY l.crm_id LIMIT 1 OFFSET 1""").fetchone()
        con.execute("UPDATE membercare.persons SET raw = ? WHERE id = ?",
                    [json.dumps(json.loads(raw) | {"lastname": "Unseen"}), mc_id])
    try:
        incremental = job.execute_in_process(resources=world["resources"], tags=INCREMENTAL_TAGS, raise_on_error=False)
        assert evaluations(incremental)[("links/contacts_persons_links", "pairs_equal_under_mapping")].passed
        full = job.execute_in_process(resources=world["resources"], raise_on_error=False)
        drift = evaluations(full)[("links/contacts_persons_links", "pairs_equal_under_mapping")]
        assert not drift.passed and drift.metadata["scope"].value == "full sweep"
        assert "Unseen" in drift.metadata["details"].value and "last_name" in drift.metadata["details"].value
        again = job.execute_in_process(resources=world["resources"], tags=INCREMENTAL_TAGS, raise_on_error=False)
        still = evaluations(again)[("links/contacts_persons_links", "pairs_equal_under_mapping")]
        assert not still.passed and still.metadata["failing_ids"].value == [f"{crm_id}:{mc_id}"]
        assert still.metadata["scope"].value.startswith("incremental")
    finally:
        with open_state(world["db"]) as con:
            con.execute("UPDATE membercare.persons SET raw = ? WHERE id = ?", [raw, mc_id])
    healed = job.execute_in_process(resources=world["resources"], tags=INCREMENTAL_TAGS, raise_on_error=False)
    assert evaluations(healed)[("links/contacts_persons_links", "pairs_equal_under_mapping")].passed


def test_a_run_that_finds_the_state_held_waits_and_an_analyst_never_stops_a_run(world):
    import threading
    import time

    from crm_membercare.definitions import defs
    from crm_membercare.defs.jobs import sync_all
    from crm_membercare_tests.process_support import holding

    job = defs.resolve_job_def(sync_all.name)
    analytics = world["root"] / "analytics.duckdb"
    assert job.execute_in_process(resources=world["resources"], tags=INCREMENTAL_TAGS).success

    # Another process holds the state for a few seconds (a CLI command, a forgotten notebook): the run waits.
    with holding(Path(world["db"]), read_only=True) as holder:
        release = threading.Timer(3.0, holder.release)
        release.start()
        started = time.monotonic()
        waited = job.execute_in_process(resources=world["resources"], tags=INCREMENTAL_TAGS, raise_on_error=False)
        release.join()
    assert waited.success and time.monotonic() - started >= 2.5

    # An analyst holds the published copy open through three runs; an edit made meanwhile propagates.
    with holding(analytics, read_only=True) as analyst:
        before = analyst.ask("SELECT count(*) FROM sync.cycles")[0][0]
        with httpx.Client(base_url=world["crm"].api_url, headers={"Authorization": f"Bearer {CRM_TOKEN}"}) as http:
            contact = http.get("/contacts", params={"limit": 3}).json()["data"][2]
            http.patch(f"/contacts/{contact['id']}", json={"last_name": "Analyst-proof"}).raise_for_status()
        for _ in range(3):
            assert job.execute_in_process(resources=world["resources"], tags=INCREMENTAL_TAGS).success
        assert analyst.ask("SELECT count(*) FROM sync.cycles")[0][0] == before  # its snapshot, unchanged
    with holding(analytics, read_only=True) as fresh:
        assert fresh.ask("SELECT count(*) FROM sync.cycles")[0][0] == before + 3
        person = fresh.ask(f"""SELECT p.lastname FROM sync.links l JOIN membercare.persons p ON p.id = l.mc_id
                               WHERE l.flow = 'contacts_persons' AND l.crm_id = {int(contact['id'])}""")
        assert person == [["Analyst-proof"]]
    with world["resources"]["membercare"].client() as mc, httpx.Client(
            base_url=world["crm"].api_url, headers={"Authorization": f"Bearer {CRM_TOKEN}"}) as http:
        person_id = http.get(f"/contacts/{contact['id']}").json()["external_ref"].rsplit(":", 1)[1]
        assert mc.get("persons", person_id)["lastname"] == "Analyst-proof"
    assert oct(analytics.stat().st_mode & 0o777) == "0o600"


def test_conflicts_and_rejects_are_assets_showing_their_rows_with_values(world):
    from crm_membercare.definitions import defs

    with open_state(world["db"], read_only=True) as con:
        (rejected, _), (contested, person) = con.execute(
            """SELECT crm_id, mc_id FROM sync.links WHERE flow = 'contacts_persons' AND state = 'active'
               ORDER BY crm_id LIMIT 2 OFFSET 5""").fetchall()
    with httpx.Client(base_url=world["crm"].api_url, headers={"Authorization": f"Bearer {CRM_TOKEN}"}) as http, \
            world["resources"]["membercare"].client() as mc:
        http.patch(f"/contacts/{rejected}", json={"phone": "call me \x1b[31m later"}).raise_for_status()
        record = mc.get("persons", person)
        address = record["addresses"][0]
        moved = {**address, "postalCode": {**address["postalCode"], "city": "Tromsø"}}
        mc.replace("persons", person, {**record, "addresses": [moved, *record["addresses"][1:]]})
        http.patch(f"/contacts/{contested}", json={"city": "Bergen"}).raise_for_status()
    result = defs.resolve_job_def("sync_all").execute_in_process(
        resources=world["resources"], tags=INCREMENTAL_TAGS, raise_on_error=False)
    rejects = metadata(result, keys.REJECTS_KEY)
    assert rejects["dagster/row_count"] >= 1 and rejects["this_cycle"] >= 1
    rows = [r.data for r in rejects["newest"].records]
    phone = next(r for r in rows if r["record_id"] == str(rejected) and r["field"] == "phone")
    assert phone["flow"] == "contacts_persons" and phone["side"] == "crm" and phone["reason"]
    assert "\\x1b[31m" in phone["value"] and "\x1b" not in phone["value"]  # shown escaped, never raw
    conflicts = metadata(result, keys.CONFLICTS_KEY)
    city = next(r.data for r in conflicts["newest"].records if r.data["crm_id"] == str(contested))
    assert city["field"] == "city" and {city["crm_value"], city["membercare_value"]} == {"Bergen", "Tromsø"}
    assert city["winner"] in ("crm", "membercare") and city["base_value"]

    # A run that touches nothing still shows the drift the open reject explains, as a WARN that says why.
    quiet = defs.resolve_job_def("sync_all").execute_in_process(
        resources=world["resources"], tags=INCREMENTAL_TAGS, raise_on_error=False)
    drift = evaluations(quiet)[("links/contacts_persons_links", "pairs_equal_under_mapping")]
    assert not drift.passed and drift.severity == dg.AssetCheckSeverity.WARN
    assert f"{rejected}:" in drift.metadata["explained_details"].value
    assert "phone" in drift.metadata["explained_details"].value and phone["reason"] in \
        drift.metadata["explained_details"].value
    with httpx.Client(base_url=world["crm"].api_url, headers={"Authorization": f"Bearer {CRM_TOKEN}"}) as http:
        http.patch(f"/contacts/{rejected}", json={"phone": None}).raise_for_status()


def test_mass_delete_trips_the_blocking_breaker_and_other_flows_proceed(world):
    with open_state(world["db"], read_only=True) as con:
        linked = con.execute("""SELECT crm_id FROM sync.links WHERE flow = 'contacts_persons' AND state = 'active'
                                ORDER BY crm_id""").fetchall()
    threshold = max(20, math.ceil(0.1 * len(linked)))
    archived = [row[0] for row in linked[: threshold + 5]]
    with httpx.Client(base_url=world["crm"].api_url, headers={"Authorization": f"Bearer {CRM_TOKEN}"}) as http:
        for crm_id in archived:
            http.delete(f"/contacts/{crm_id}").raise_for_status()
        product = http.get("/products", params={"limit": 1}).json()["data"][0]
        http.patch(f"/products/{product['id']}", json={"name": "Renamed while contacts are held"}).raise_for_status()

    result = materialize(world)
    assert not result.success
    results = evaluations(result)
    breaker = results[("changes/contacts_persons_changes_to_membercare", "circuit_breaker")]
    assert not breaker.passed and breaker.severity == dg.AssetCheckSeverity.ERROR
    assert breaker.metadata["removals"].value == len(archived) and breaker.metadata["tripped"].value is True
    assert breaker.metadata["state"].value.startswith("tripped")
    assert sorted(int(i) for i in breaker.metadata["held_record_ids"].value) == sorted(archived)
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert keys.writeback_key(CONTACTS, TO_MEMBERCARE) not in materialized
    products = flow_by_name("products_products")
    assert keys.writeback_key(products, TO_MEMBERCARE) in materialized
    assert keys.writeback_key(flow_by_name("customers_companies"), TO_MEMBERCARE) in materialized

    acknowledged = materialize(world, run_config=dg.RunConfig(
        ops={"plan_contacts_persons": {"config": {"acknowledge_breaker": True}}}))
    assert acknowledged.success
    assert evaluations(acknowledged)[("changes/contacts_persons_changes_to_membercare", "circuit_breaker")].passed
    assert metadata(acknowledged, keys.writeback_key(CONTACTS, TO_MEMBERCARE))["deleted"] == len(archived)
    with open_state(world["db"], read_only=True) as con:
        assert con.execute("SELECT count(*) FROM sync.breakers").fetchone()[0] == 0  # re-armed
        mc_product = con.execute("SELECT mc_id FROM sync.links WHERE flow = 'products_products' AND crm_id = ?",
                                 [product["id"]]).fetchone()[0]
    with world["resources"]["membercare"].client() as mc:
        assert mc.get("products", mc_product)["name"] == "Renamed while contacts are held"
