"""`sync --once` and the Dagster job run the same cycle (issue 13): one scenario, played on two identical worlds,
synced once through the CLI and once through Dagster, must leave the same records in both systems.

The scenario: a first sync of an overlapping seed; then an edit on each side, a field edited on both sides (a
conflict), a CRM archive, a MemberCare close, a new CRM contact; the next cycles under a fault storm (errors,
lost responses), then cycles without faults until nothing is left to do. Both worlds are seeded as of one
instant, so they start equal record for record.

"The same final state" is judged on what a user of each system sees: every record's business fields, per
resource, as a multiset. Identities the servers assign in the order writes arrive (ids, account and order
numbers, references to them) and clocks are left out: the writers run on threads, so two runs may create the
same records in a different order.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from crm_membercare.defs.jobs import INCREMENTAL_TAGS
from crm_membercare.defs.resources import (
    CustomCrmResource,
    MemberCareResource,
    SyncEngineResource,
    state_database,
)
from crm_membercare.engine.state import open_state
from crm_membercare.sandbox.serving import RunningServer, serve_in_thread
from crm_membercare.systems import CustomCrmClient, MemberCareClient
from crm_membercare_tests.clients_support import Admin
from crm_membercare_tests.engine_support import CRM_TOKEN, MC_API_KEY, TINY_SCALE
from crm_membercare_tests.process_support import cli

SEED, OVERLAP = 11, 0.4
STORM = {"error_rate": 0.15, "lost_response_rate": 0.05, "random_seed": 5}
CALM = {"error_rate": 0.0, "lost_response_rate": 0.0}
# Assigned by a server in the order writes arrive, or a clock: not what a user compares.
VOLATILE = {
    "id", "created_at", "updated_at", "version", "external_ref", "externalId", "lastChange", "customer_id",
    "contact_id", "owner_id", "product_id", "productId", "order_number", "quote_number", "invoiceNumber",
    "debtorAccountNumber", "companyDebtorAccountNumber", "contactPersonDebtorAccountNumber", "orderReference",
}
CRM_RESOURCES = ("contacts", "customers", "orders", "quotes", "products", "users")
MC_RESOURCES = ("persons", "companies", "invoices", "products")


@dataclass
class Side:
    root: Path
    crm: RunningServer
    mc: RunningServer
    crm_admin: Admin
    mc_admin: Admin

    @property
    def db(self) -> Path:
        return self.root / "state.duckdb"

    @property
    def env(self) -> dict[str, str]:
        return {"CUSTOMCRM_BASE_URL": self.crm.api_url, "CUSTOMCRM_TOKEN": CRM_TOKEN,
                "MEMBERCARE_BASE_URL": self.mc.api_url, "MEMBERCARE_API_KEY": MC_API_KEY,
                "CRM_MEMBERCARE_DB": str(self.db), "CRM_MEMBERCARE_ANALYTICS_DB": str(self.root / "analytics.duckdb")}

    @contextmanager
    def clients(self) -> Iterator[tuple[CustomCrmClient, MemberCareClient]]:
        with CustomCrmClient(self.crm.api_url, CRM_TOKEN) as crm, MemberCareClient(self.mc.api_url, MC_API_KEY) as mc:
            yield crm, mc


@contextmanager
def side() -> Iterator[Side]:
    from crm_membercare.sandbox.customcrm.app import create_app as customcrm_app
    from crm_membercare.sandbox.membercare.app import create_app as membercare_app

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        crm = serve_in_thread(customcrm_app(root / "crm.sqlite"))
        mc = serve_in_thread(membercare_app(root / "mc.sqlite"))
        built = Side(root, crm, mc, Admin(crm), Admin(mc))
        try:
            yield built
        finally:
            built.crm_admin.close()
            built.mc_admin.close()
            crm.stop()
            mc.stop()


def seed(world: Side, instant: datetime) -> None:
    """Seeded as of `instant` (each sandbox draws its records' dates from its clock)."""
    for server, admin in ((world.crm, world.crm_admin), (world.mc, world.mc_admin)):
        admin.set_clock(instant)
        try:
            httpx.post(f"{server.root_url}/_sandbox/seed", json={"seed": SEED, "scale": TINY_SCALE,
                                                                 "overlap": OVERLAP}, timeout=300).raise_for_status()
        finally:
            admin.set_clock(None)


# --- the two entry points ----------------------------------------------------------------------------------

def sync_with_cli(world: Side) -> None:
    # A fault storm can end a cycle early (retries exhausted), as it can fail a Dagster step: the next cycle
    # picks up what is left. The exit code is not the point; the systems' final state is.
    cli("sync", "--once", env=world.env, timeout=300)


def sync_with_dagster(world: Side) -> None:
    from crm_membercare.definitions import defs

    crm = CustomCrmResource(base_url=world.crm.api_url, token=CRM_TOKEN)
    mc = MemberCareResource(base_url=world.mc.api_url, api_key=MC_API_KEY)
    sync = SyncEngineResource(crm=crm, membercare=mc, state=state_database(str(world.db)),
                              analytics_path=str(world.root / "analytics.duckdb"))
    # As for the CLI, a step the storm fails for good is left to the next run.
    defs.resolve_job_def("sync_all").execute_in_process(
        resources={"crm": crm, "membercare": mc, "sync": sync}, tags=INCREMENTAL_TAGS, raise_on_error=False)


# --- the scenario --------------------------------------------------------------------------------------

def linked_contacts(crm: CustomCrmClient) -> list[tuple[int, str]]:
    """Live CRM contacts stamped with their person (`external_ref` "...:<debtorAccountNumber>"), by CRM id."""
    contacts = [r for page in crm.iter_changes("contacts") for r in page.records]
    return sorted((c["id"], c["external_ref"].rsplit(":", 1)[1]) for c in contacts
                  if c["external_ref"] and not c["archived"])


def play(world: Side) -> None:
    """The same edits on both worlds, chosen by CRM ids (equal in both: seeded alike, nothing created yet)."""
    with world.clients() as (crm, mc):
        pairs = linked_contacts(crm)
        (edited, _), (_, person), (contested, contested_person), (archived, _), (_, closed) = pairs[:5]
        crm.update("contacts", edited, {"last_name": "Entrypoint"})
        mc.replace("persons", person, {**mc.get("persons", person), "firstname": "Samesame"})
        crm.update("contacts", contested, {"city": "Bergen"})
        time.sleep(1.1)  # MemberCare's clock has whole seconds: its edit is the newer one, and wins
        record = mc.get("persons", contested_person)
        first = record["addresses"][0]
        moved = {**first, "postalCode": {**first["postalCode"], "city": "Tromsø"}}
        mc.replace("persons", contested_person, {**record, "addresses": [moved, *record["addresses"][1:]]})
        crm.archive("contacts", archived)
        mc.delete("persons", closed)
        crm.create("contacts", {"first_name": "Nyfødt", "last_name": "Kontakt", "email": "nyfodt@example.no",
                                "country": "NO"})


def run_scenario(world: Side, sync) -> None:
    sync(world)
    play(world)
    for admin in (world.crm_admin, world.mc_admin):
        admin.faults(**STORM)
    for _ in range(2):
        sync(world)
    for admin in (world.crm_admin, world.mc_admin):
        admin.faults(**CALM)
    for _ in range(3):
        sync(world)


# --- what a user sees ----------------------------------------------------------------------------------

def without_identities(value):
    if isinstance(value, dict):
        kept = {k: without_identities(v) for k, v in value.items() if k not in VOLATILE}
        if kept.get("closeDate"):  # when it was closed is a clock; that it was is what a user sees
            kept["closeDate"] = "closed"
        return kept
    if isinstance(value, list):
        return [without_identities(v) for v in value]
    return value


def everything(world: Side) -> dict[str, Counter]:
    seen: dict[str, Counter] = {}
    with world.clients() as (crm, mc):
        for system, client, resources in (("crm", crm, CRM_RESOURCES), ("mc", mc, MC_RESOURCES)):
            for resource in resources:
                records = [r for page in client.iter_changes(resource) for r in page.records]
                seen[f"{system}.{resource}"] = Counter(json.dumps(without_identities(r), sort_keys=True)
                                                       for r in records)
    return seen


def state_summary(world: Side) -> dict:
    with open_state(world.db, read_only=True) as con:
        return {
            "links": con.execute("SELECT flow, state, count(*) FROM sync.links GROUP BY ALL ORDER BY ALL").fetchall(),
            "open_rejects": con.execute("SELECT flow, field FROM sync.rejects WHERE open ORDER BY ALL").fetchall(),
            "conflicts": con.execute("SELECT flow, field, winner FROM sync.conflicts ORDER BY ALL").fetchall(),
            "open_outbox": con.execute("SELECT count(*) FROM sync.outbox WHERE status IN ('pending', 'held')"
                                       ).fetchall()[0][0],
        }


def test_sync_once_and_the_dagster_job_leave_the_same_records():
    instant = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    with side() as by_cli, side() as by_dagster:
        seed(by_cli, instant)
        seed(by_dagster, instant)
        assert everything(by_cli) == everything(by_dagster), "the two worlds must start equal"
        run_scenario(by_cli, sync_with_cli)
        run_scenario(by_dagster, sync_with_dagster)
        cli_world, dagster_world = everything(by_cli), everything(by_dagster)
        for resource in cli_world:
            only_cli = cli_world[resource] - dagster_world[resource]
            only_dagster = dagster_world[resource] - cli_world[resource]
            assert not only_cli and not only_dagster, \
                f"{resource}\nonly by the CLI: {list(only_cli)}\nonly by Dagster: {list(only_dagster)}"
        cli_state, dagster_state = state_summary(by_cli), state_summary(by_dagster)
    assert cli_state == dagster_state
    assert cli_state["open_outbox"] == 0
    # The scenario's own edits reached the other side (a sanity check on the scenario itself).
    persons = cli_world["mc.persons"]
    assert any('"lastname": "Entrypoint"' in record for record in persons)
    assert any('"city": "Troms\\u00f8"' in record for record in cli_world["crm.contacts"])
    assert ("contacts_persons", "city", "membercare") in cli_state["conflicts"]
