"""The link table can be rebuilt from the systems themselves: every linked record carries the other's identity."""

from __future__ import annotations

import httpx
import pytest

from crm_membercare.engine.cycle import Cycle, EngineSettings, SyncEngine
from crm_membercare.engine.state import open_state
from crm_membercare.systems import CustomCrmClient, MemberCareClient

SCALE = {"users": 4, "customers": 20, "contacts": 50, "products": 12, "orders": 30, "quotes": 12}


def seed(*servers) -> None:
    for server in servers:
        body = {"seed": 11, "scale": SCALE, "overlap": 0.3}
        httpx.post(f"{server.root_url}/_sandbox/seed", json=body, timeout=120).raise_for_status()


def cycle(path, crm_server, mc_server, **settings) -> None:
    with open_state(path) as con, CustomCrmClient(crm_server.api_url, "sandbox-crm-token") as crm, \
            MemberCareClient(mc_server.api_url, "sandbox-membercare-key") as mc:
        Cycle(SyncEngine(con, crm, mc, EngineSettings(**settings))).run_all()


def writes(*servers) -> int:
    total = 0
    for server in servers:
        requests = httpx.get(f"{server.root_url}/_sandbox/stats").json()["requests"]
        total += sum(n for key, n in requests.items() if key.split()[0] in ("POST", "PUT", "PATCH", "DELETE"))
    return total


@pytest.mark.parametrize("plan_chunk", [5000, 7])
def test_a_lost_state_file_relinks_by_identity_and_creates_nothing(tmp_path, customcrm_server, membercare_server,
                                                                    plan_chunk):
    seed(customcrm_server, membercare_server)
    cycle(tmp_path / "first.duckdb", customcrm_server, membercare_server)
    with open_state(tmp_path / "first.duckdb", read_only=True) as con:
        links_before = set(con.execute("SELECT flow, crm_id, mc_id FROM sync.links WHERE flow NOT LIKE 'users%'")
                           .fetchall())
    for server in (customcrm_server, membercare_server):
        httpx.delete(f"{server.root_url}/_sandbox/stats").raise_for_status()

    # A new, empty state file (small planning chunks split every pair across chunks).
    cycle(tmp_path / "rebuilt.duckdb", customcrm_server, membercare_server, plan_chunk=plan_chunk)

    assert writes(customcrm_server, membercare_server) == 0, "rebuilding the links must write nothing"
    with open_state(tmp_path / "rebuilt.duckdb", read_only=True) as con:
        links_after = set(con.execute("SELECT flow, crm_id, mc_id FROM sync.links WHERE flow NOT LIKE 'users%'")
                          .fetchall())
        linked_by = {row[0] for row in con.execute("SELECT DISTINCT linked_by FROM sync.links "
                                                   "WHERE flow NOT LIKE 'users%'").fetchall()}
    assert links_after == links_before
    assert linked_by == {"external_id"}


@pytest.mark.parametrize("overlap", [1.0, 0.4])
def test_systems_seeded_as_already_synced_relink_from_their_stamps_without_a_write(
        tmp_path, customcrm_server, membercare_server, overlap):
    """`stamped` seeding (what `make bench` uses at large) gives every shared record its counterpart's identity:
    the first cycle links exactly those pairs by identity and writes nothing for them."""
    for server in (customcrm_server, membercare_server):
        body = {"seed": 5, "scale": SCALE, "overlap": overlap, "stamped": True}
        httpx.post(f"{server.root_url}/_sandbox/seed", json=body, timeout=120).raise_for_status()
        httpx.delete(f"{server.root_url}/_sandbox/stats").raise_for_status()
    with CustomCrmClient(customcrm_server.api_url, "sandbox-crm-token") as crm:
        stamped = {(resource, r["id"]): r["external_ref"] for resource in ("customers", "contacts", "products",
                                                                          "orders", "quotes")
                   for page in crm.iter_changes(resource) for r in page.records if r["external_ref"]}
    cycle(tmp_path / "sync.duckdb", customcrm_server, membercare_server)
    with open_state(tmp_path / "sync.duckdb", read_only=True) as con:
        by_identity = {row for row in con.execute(
            "SELECT flow, crm_id, mc_id FROM sync.links WHERE linked_by = 'external_id'").fetchall()}
    expected = {(f"{resource}_{ref.split(':')[1]}", crm_id, ref.split(":")[2])
                for (resource, crm_id), ref in stamped.items()}
    assert by_identity == expected and len(expected) >= overlap * 50
    if overlap == 1.0:
        assert writes(customcrm_server, membercare_server) == 0, "an installation in sync needs no write"
