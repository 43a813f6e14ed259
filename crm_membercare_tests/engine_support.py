"""What the end-to-end engine tests share: a seeded world of both sandboxes and a state file, one-cycle runs,
and readers that compare both systems under the mapping.

A `World` is both sandbox servers on free loopback ports, their admin APIs and one DuckDB state file with a
connection kept open. `world.cycle()` runs one `Cycle(SyncEngine(...)).run_all()` with fresh clients, as a
`crm-membercare sync --once` would. `world.snapshot()` reads every record of both systems through the
clients (no engine code involved); the comparison helpers then map both sides into the common space with
the links found in `sync.links`.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx

from crm_membercare.engine.cycle import Cycle, CycleReport, EngineSettings, SyncEngine
from crm_membercare.engine.state import open_state
from crm_membercare.mapping.canonical import disagreeing_fields
from crm_membercare.mapping.convert import crm_to_common, mc_to_common
from crm_membercare.mapping.countries import CountryTable
from crm_membercare.mapping.flows import FLOWS, Flow, MatchRule
from crm_membercare.mapping.links import InMemoryLinks, MappingContext
from crm_membercare.sandbox.serving import RunningServer, serve_in_thread
from crm_membercare.systems import CustomCrmClient, MemberCareClient
from crm_membercare.systems.customcrm import CRM_RESOURCES
from crm_membercare.systems.membercare import MC_RESOURCES
from crm_membercare_tests.clients_support import Admin

CRM_TOKEN = "sandbox-crm-token"
MC_API_KEY = "sandbox-membercare-key"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
MATCHED_FLOWS = tuple(flow for flow in FLOWS if flow.match is not None)
# A world small enough to sync in a few seconds, with every resource and every kind of record present.
TINY_SCALE = {"users": 6, "customers": 24, "contacts": 60, "products": 14, "orders": 36, "quotes": 18}


@dataclass(frozen=True)
class Snapshot:
    """Every record of both systems, by resource and id, as the clients read them."""

    crm: dict[str, dict[int, dict]]
    mc: dict[str, dict[Any, dict]]

    def crm_records(self, flow: Flow) -> dict[int, dict]:
        return self.crm[flow.crm_resource]

    def mc_records(self, flow: Flow) -> dict[Any, dict]:
        records = self.mc[flow.mc_resource]
        if flow.mc_part is None:
            return records
        return {i: r for i, r in records.items() if r.get("invoiceType") == flow.mc_part}

    def live_crm(self, flow: Flow) -> dict[int, dict]:
        return {i: r for i, r in self.crm_records(flow).items() if not r.get("archived")}

    def live_mc(self, flow: Flow) -> dict[Any, dict]:
        return {i: r for i, r in self.mc_records(flow).items() if not r.get("closeDate")}


@dataclass
class World:
    crm_server: RunningServer
    mc_server: RunningServer
    con: duckdb.DuckDBPyConnection
    crm_admin: Admin
    mc_admin: Admin
    _countries: CountryTable | None = field(default=None, repr=False)

    # --- running the engine ----------------------------------------------------------------------------
    @contextmanager
    def clients(self) -> Iterator[tuple[CustomCrmClient, MemberCareClient]]:
        with CustomCrmClient(self.crm_server.api_url, CRM_TOKEN) as crm, \
                MemberCareClient(self.mc_server.api_url, MC_API_KEY) as mc:
            yield crm, mc

    def cycle(self, settings: EngineSettings | None = None) -> CycleReport:
        with self.clients() as (crm, mc):
            return Cycle(SyncEngine(self.con, crm, mc, settings)).run_all()

    def seed(self, seed: int, scale: str | dict[str, int], overlap: float) -> None:
        for server in (self.crm_server, self.mc_server):
            response = httpx.post(f"{server.root_url}/_sandbox/seed",
                                  json={"seed": seed, "scale": scale, "overlap": overlap}, timeout=300)
            response.raise_for_status()

    # --- reading both systems --------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self.clients() as (crm, mc):
            crm_side = {res: {r["id"]: r for page in crm.iter_changes(res) for r in page.records}
                        for res in CRM_RESOURCES}
            mc_side = {res: {_mc_id(res, r): r for page in mc.iter_changes(res) for r in page.records}
                       for res in MC_RESOURCES}
        return Snapshot(crm_side, mc_side)

    @property
    def countries(self) -> CountryTable:
        if self._countries is None:
            with self.clients() as (_, mc):
                self._countries = CountryTable.from_api(mc.countries())
        return self._countries

    def context(self) -> MappingContext:
        """The mapping context of the links the state holds now (an ended link still translates references:
        an archived customer and its closed company both still exist)."""
        links = InMemoryLinks()
        for flow in FLOWS:
            rows = self.con.execute("SELECT crm_id, mc_id FROM sync.links WHERE flow = ? ORDER BY state",
                                    [flow.name]).fetchall()
            for crm_id, mc_id in rows:
                links.add(flow.name, crm_id, int(mc_id) if flow.mc_id_field == "id" else mc_id)
        return MappingContext(links, self.countries)

    def write_requests(self) -> dict[str, dict[str, int]]:
        """Write requests served by each sandbox's API since its stats were last cleared."""
        return {name: {key: n for key, n in admin.stats()["requests"].items() if key.split()[0] in WRITE_METHODS}
                for name, admin in (("customcrm", self.crm_admin), ("membercare", self.mc_admin))}

    def clear_stats(self) -> None:
        self.crm_admin.clear_stats()
        self.mc_admin.clear_stats()


@contextmanager
def running_world(directory: Path | None = None) -> Iterator[World]:
    """Both sandboxes (empty) and a migrated state file, torn down afterwards."""
    from crm_membercare.sandbox.customcrm.app import create_app as customcrm_app
    from crm_membercare.sandbox.membercare.app import create_app as membercare_app

    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        root = Path(tmp)
        crm_server = serve_in_thread(customcrm_app(root / "customcrm.sqlite"))
        mc_server = serve_in_thread(membercare_app(root / "membercare.sqlite"))
        crm_admin, mc_admin = Admin(crm_server), Admin(mc_server)
        try:
            with open_state(root / "sync.duckdb") as con:
                yield World(crm_server, mc_server, con, crm_admin, mc_admin)
        finally:
            crm_admin.close()
            mc_admin.close()
            crm_server.stop()
            mc_server.stop()


@contextmanager
def synced_world(scale: str | dict[str, int] = TINY_SCALE, *, seed: int = 7, overlap: float = 0.3) -> Iterator[World]:
    """A world seeded on both sides and brought in sync by one cycle."""
    with running_world() as world:
        world.seed(seed, scale, overlap)
        world.cycle()
        yield world


def _mc_id(resource: str, record: dict) -> Any:
    return record["debtorAccountNumber"] if resource in ("persons", "companies") else record["id"]


# --- the state -------------------------------------------------------------------------------------------
def mc_key(flow: Flow, mc_id: Any) -> Any:
    """A MemberCare id in its own type (debtor numbers are strings, product and invoice ids integers)."""
    return int(mc_id) if flow.mc_id_field == "id" else str(mc_id)


def active_links(con: duckdb.DuckDBPyConnection, flow: Flow) -> list[tuple[int, Any]]:
    rows = con.execute("SELECT crm_id, mc_id FROM sync.links WHERE flow = ? AND state = 'active' ORDER BY crm_id",
                       [flow.name]).fetchall()
    return [(crm_id, mc_key(flow, mc_id)) for crm_id, mc_id in rows]


def links_by(con: duckdb.DuckDBPyConnection, flow: Flow) -> dict[tuple[int, Any], tuple[str, str]]:
    """(crm id, mc id) -> (state, linked_by) for every link of the flow."""
    rows = con.execute("SELECT crm_id, mc_id, state, linked_by FROM sync.links WHERE flow = ?",
                       [flow.name]).fetchall()
    return {(crm_id, mc_key(flow, mc_id)): (state, how) for crm_id, mc_id, state, how in rows}


def open_reject_records(con: duckdb.DuckDBPyConnection, flow: Flow) -> set[tuple[str, str]]:
    rows = con.execute("SELECT side, record_id FROM sync.rejects WHERE flow = ? AND open", [flow.name]).fetchall()
    return {(side, str(record_id)) for side, record_id in rows}


def rejects_of(con: duckdb.DuckDBPyConnection, flow: Flow) -> list[dict]:
    rows = con.execute("SELECT side, record_id, field, reason, value, open FROM sync.rejects WHERE flow = ?",
                       [flow.name]).fetchall()
    keys = ("side", "record_id", "field", "reason", "value", "open")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def conflicts_of(con: duckdb.DuckDBPyConnection, flow: Flow) -> list[dict]:
    rows = con.execute("""SELECT crm_id, mc_id, field, crm_value, membercare_value, winner, policy
                          FROM sync.conflicts WHERE flow = ? ORDER BY id""", [flow.name]).fetchall()
    keys = ("crm_id", "mc_id", "field", "crm_value", "membercare_value", "winner", "policy")
    return [dict(zip(keys, (*row[:3], _json(row[3]), _json(row[4]), *row[5:]), strict=True)) for row in rows]


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# --- comparing both sides ----------------------------------------------------------------------------------
def pair_values(world: World, snap: Snapshot, flow: Flow, crm_id: int, mc_id: Any,
                ctx: MappingContext | None = None) -> tuple[dict, dict]:
    """Both records of a pair in the common space."""
    ctx = ctx or world.context()
    return (crm_to_common(flow, snap.crm_records(flow)[crm_id], ctx),
            mc_to_common(flow, snap.mc_records(flow)[mc_id], ctx))


def disagreements(world: World, snap: Snapshot, flow: Flow) -> dict[tuple[int, Any], list[str]]:
    """Active links whose records differ under the mapping, except pairs with an open reject."""
    ctx = world.context()
    rejected = open_reject_records(world.con, flow)
    found = {}
    for crm_id, mc_id in active_links(world.con, flow):
        if ("crm", str(crm_id)) in rejected or ("membercare", str(mc_id)) in rejected:
            continue
        crm_values, mc_values = pair_values(world, snap, flow, crm_id, mc_id, ctx)
        fields = disagreeing_fields(flow, crm_values, mc_values)
        if fields:
            found[(crm_id, mc_id)] = fields
    return found


def owner_reference_mismatches(world: World, snap: Snapshot) -> list[tuple]:
    """B6: invoices of owned orders/quotes whose ourReference/ourReferenceEmail are not their owner's."""
    users = snap.crm["users"]
    wrong = []
    for flow in FLOWS:
        if flow.mc_part is None:
            continue
        for crm_id, mc_id in active_links(world.con, flow):
            owner_id = snap.crm_records(flow)[crm_id].get("owner_id")
            if owner_id is None:
                continue
            user, invoice = users[owner_id], snap.mc_records(flow)[mc_id]
            expected = (f"{user['first_name']} {user['last_name']}", user["email"])
            if (invoice.get("ourReference"), invoice.get("ourReferenceEmail")) != expected:
                wrong.append((flow.name, crm_id, mc_id, expected,
                              (invoice.get("ourReference"), invoice.get("ourReferenceEmail"))))
    return wrong


# --- match keys ----------------------------------------------------------------------------------------
def keyed(rule: MatchRule, records: dict, side: str) -> dict[str, list]:
    """Match key -> ids of the records carrying it."""
    found: dict[str, list] = {}
    for record_id, record in records.items():
        key = rule.crm_key(record) if side == "crm" else rule.mc_key(record)
        if key is not None:
            found.setdefault(key, []).append(record_id)
    return found


def duplicated_keys(rule: MatchRule, records: dict, side: str) -> list[str]:
    return [key for key, ids in keyed(rule, records, side).items() if len(ids) > 1]


def shared_pairs(flow: Flow, crm_records: dict, mc_records: dict) -> dict[int, Any]:
    """The pairs the match rule should find: a key carried exactly once on each side; the fallback rule
    only for pairs where either record has no key under the main rule."""
    pairs: dict[int, Any] = {}
    main = flow.match
    rule: MatchRule | None = main
    while rule is not None:
        crm_keys, mc_keys = keyed(rule, crm_records, "crm"), keyed(rule, mc_records, "membercare")
        taken = set(pairs.values())
        for key, crm_ids in crm_keys.items():
            mc_ids = mc_keys.get(key, [])
            if len(crm_ids) != 1 or len(mc_ids) != 1 or crm_ids[0] in pairs or mc_ids[0] in taken:
                continue
            crm_id, mc_id = crm_ids[0], mc_ids[0]
            if rule is main or main.crm_key(crm_records[crm_id]) is None or main.mc_key(mc_records[mc_id]) is None:
                pairs[crm_id] = mc_id
        rule = rule.fallback
    return pairs


def duplicate_ids(values: list) -> list:
    return [value for value, n in Counter(values).items() if n > 1]


class Picker:
    """Hands out linked pairs of a flow that no other test of the module has used."""

    def __init__(self) -> None:
        self.used: set[tuple[str, int]] = set()

    def pairs(self, world: World, flow, count: int, where=lambda crm, mc: True) -> list[tuple[int, object]]:
        snap = world.snapshot()
        found = []
        for crm_id, mc_id in active_links(world.con, flow):
            if (flow.name, crm_id) in self.used:
                continue
            if where(snap.crm_records(flow)[crm_id], snap.mc_records(flow)[mc_id]):
                found.append((crm_id, mc_id))
                self.used.add((flow.name, crm_id))
                if len(found) == count:
                    return found
        raise AssertionError(f"only {len(found)} suitable {flow.name} pairs")
