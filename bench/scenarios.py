"""The measured scenarios at one scale: first sync against the HTTP floor, then the incremental cycle.

Each scale is seeded once; the stopped sandboxes' stores are kept as a pristine copy, so the engine's first
sync and both floor replays start from byte-identical systems (same ids, same timestamps: creates really
create). The incremental cycle continues from the state the first sync left.
"""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import httpx

from bench import floor, servers
from bench.cycle import CycleCapped, CycleRun, run_child
from crm_membercare.config import Settings
from crm_membercare.engine.state import CATALOG

SEED, OVERLAP = 42, 0.3
STATE_FILE = "state.duckdb"  # a bench run's sync state, beside its sandboxes' stores
EDITS_PER_SIDE = 50
WORKERS = 8  # EngineSettings.workers: the engine's requests in flight
DEFAULTS = Settings()


@dataclass
class ScaleResult:
    scale: str
    # Seeded as an installation already in sync (overlap 1.0, every record stamped with its counterpart):
    # the first cycle is then a relink from the stamps, not a first sync (see sandbox/seeding/stamps.py).
    stamped: bool = False
    seeded: dict = field(default_factory=dict)
    seed_seconds: float = 0.0
    first_sync: dict | None = None
    first_sync_requests: int = 0
    first_sync_capped: dict | None = None
    first_sync_occupancy: dict | None = None
    floor: dict | None = None
    causal_floor: dict | None = None
    extraction: dict | None = None  # bench/extraction.py: the engine's read against its floors and dlt
    settle: list = field(default_factory=list)
    incremental: dict | None = None
    incremental_requests: int = 0
    notes: list = field(default_factory=list)


@dataclass
class Sandboxes:
    crm: servers.SandboxProcess
    mc: servers.SandboxProcess

    def each(self) -> tuple[servers.SandboxProcess, servers.SandboxProcess]:
        return self.crm, self.mc

    def requests(self) -> int:
        return sum(sum(s.stats().values()) for s in self.each())

    def clear_stats(self) -> None:
        for sandbox in self.each():
            sandbox.clear_stats()


@contextmanager
def running(directory: Path, *, record: bool = False):
    crm = servers.start("customcrm", directory / "customcrm.sqlite",
                        record=directory / "customcrm.jsonl" if record else None)
    try:
        mc = servers.start("membercare", directory / "membercare.sqlite",
                           record=directory / "membercare.jsonl" if record else None)
    except BaseException:
        crm.stop()
        raise
    try:
        yield Sandboxes(crm, mc)
    finally:
        crm.stop()
        mc.stop()


def fresh_copy(work: Path, name: str) -> Path:
    """A copy of the pristine seeded stores in `work/name`."""
    target = work / name
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.iterdir():
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    for kind in servers.KINDS:
        servers.copy_store(work / "pristine" / f"{kind}.sqlite", target / f"{kind}.sqlite")
    return target


def seed(work: Path, scale: str, result: ScaleResult) -> None:
    pristine = work / "pristine"
    pristine.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with running(pristine) as sandboxes:
        for sandbox in sandboxes.each():
            body = {"seed": SEED, "scale": scale, "overlap": 1.0 if result.stamped else OVERLAP,
                    "stamped": result.stamped}
            result.seeded[sandbox.kind] = sandbox.admin("POST", "seed", json=body).json()["seeded"]
    result.seed_seconds = time.perf_counter() - started


def first_sync(work: Path, result: ScaleResult, *, timeout_s: float | None) -> Path | None:
    """The engine's first cycle over freshly seeded systems; returns the directory holding its state."""
    run = fresh_copy(work, "engine")
    with running(run, record=True) as sandboxes:
        sandboxes.clear_stats()
        try:
            cycle = run_child(run / STATE_FILE, sandboxes.crm.api_url, sandboxes.mc.api_url, timeout_s=timeout_s)
        except CycleCapped as capped:
            result.notes.append(f"first sync stopped at the {timeout_s:.0f} s cap ({capped})")
            result.first_sync_capped = {"seconds": capped.seconds, "peak_rss_mb": capped.peak_rss_mb}
            result.first_sync_requests = sandboxes.requests()
            return None
        result.first_sync = asdict(cycle)
        result.first_sync_requests = sandboxes.requests()
    return run


def floors(work: Path, recorded_in: Path, result: ScaleResult, *, causal_too: bool) -> None:
    requests = floor.load({"customcrm": recorded_in / "customcrm.jsonl",
                           "membercare": recorded_in / "membercare.jsonl"})
    result.first_sync_occupancy = asdict(floor.occupancy(requests))
    for causal in (False, True) if causal_too else (False,):
        run = fresh_copy(work, "floor")
        with running(run) as sandboxes:
            roots = {"customcrm": sandboxes.crm.root_url, "membercare": sandboxes.mc.root_url}
            replayed = floor.replay(requests, roots, auth(sandboxes), workers=WORKERS, causal=causal)
        if causal:
            result.causal_floor = asdict(replayed)
        else:
            result.floor = asdict(replayed)


def auth(sandboxes: Sandboxes) -> dict[str, dict]:
    token = httpx.get(f"{sandboxes.mc.api_url}/token", timeout=30,
                      params={"clientApiKey": DEFAULTS.membercare_api_key, "personToImpersonate": 1}).json()["value"]
    return {"customcrm": {"Authorization": f"Bearer {DEFAULTS.customcrm_token}"}, "membercare": {"token": token}}


def incremental(run: Path, result: ScaleResult, *, timeout_s: float | None) -> None:
    """Settle (our own writes read back once), edit 50 linked records per side, time one cycle."""
    with running(run) as sandboxes:
        urls = (sandboxes.crm.api_url, sandboxes.mc.api_url)
        for _ in range(3):
            settle = run_child(run / STATE_FILE, *urls, timeout_s=timeout_s)
            result.settle.append({"seconds": settle.seconds, "propagated": settle.propagated,
                                  "peak_rss_mb": settle.peak_rss_mb})
            if settle.propagated == 0:
                break
        make_edits(run / STATE_FILE, sandboxes, EDITS_PER_SIDE)
        sandboxes.clear_stats()
        cycle: CycleRun = run_child(run / STATE_FILE, *urls, timeout_s=timeout_s)
        result.incremental = asdict(cycle)
        result.incremental_requests = sandboxes.requests()


def linked_pairs(db_path: Path, flow: str, count: int, offset: int) -> list[tuple[int, str]]:
    with duckdb.connect() as con:
        con.execute(f"ATTACH ? AS {CATALOG} (READ_ONLY)", [str(db_path)])
        return con.execute(
            f"""SELECT crm_id, mc_id FROM {CATALOG}.sync.links WHERE flow = ? AND state = 'active'
                ORDER BY crm_id LIMIT ? OFFSET ?""", [flow, count, offset]).fetchall()


def make_edits(db_path: Path, sandboxes: Sandboxes, per_side: int) -> None:
    """Edit `per_side` linked records in each system through the project's clients, on distinct pairs (no
    conflicts): contacts' last names and customers' names in the CRM, persons' and companies' names in
    MemberCare."""
    half = per_side // 2
    stamp = int(time.time()) % 100000
    settings = Settings(customcrm_base_url=sandboxes.crm.api_url, membercare_base_url=sandboxes.mc.api_url)
    with settings.customcrm_client() as crm, settings.membercare_client() as mc:
        for flow, crm_resource, crm_field, mc_resource, mc_field, count in (
            ("contacts_persons", "contacts", "last_name", "persons", "lastname", half),
            ("customers_companies", "customers", "name", "companies", "companyName", per_side - half),
        ):
            pairs = linked_pairs(db_path, flow, 2 * count, 0)
            for n, (crm_id, _) in enumerate(pairs[:count]):
                crm.update(crm_resource, crm_id, {crm_field: f"Bench{stamp}C{n}"})
            for n, (_, mc_id) in enumerate(pairs[count:]):
                record = mc.get(mc_resource, mc_id)
                mc.replace(mc_resource, mc_id, {**record, mc_field: f"Bench{stamp}M{n}"})
