"""Extraction side by side: the engine reading every resource into an empty state, the same GET requests replayed
by a bare async client (one at a time, and resources side by side: the sequential and parallel floors), and
dlt's `rest_api` source (bench/dlt_extract.py) loading the same resources into DuckDB.

Every contender starts from a fresh copy of the same seeded stores, with the sandboxes in their own processes;
the rounds rotate the order, and each figure is the median of its rounds. The floors replay the requests the
engine made in its first round (recorded on the sandbox side). Run as a child, `python -m bench.extraction DB
CRM_API_URL MC_API_URL` times the engine's `extract_all` and prints one JSON line.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import floor, scenarios

ROUNDS = 3
CONTENDERS = ("engine", "dlt", "sequential floor", "parallel floor")
ROOT = Path(__file__).resolve().parent.parent


def measure(work: Path, rounds: int = ROUNDS, say=print) -> dict:
    """Medians and every round's seconds per contender, and the ratios to the parallel floor."""
    seconds: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    notes: list[str] = []
    requests: list[floor.Recorded] = []
    has_dlt = importlib.util.find_spec("dlt") is not None
    if not has_dlt:
        notes.append("dlt is not installed (the `bench` extra): its column is empty")
    for round_number in range(rounds):
        order = CONTENDERS[round_number % len(CONTENDERS):] + CONTENDERS[:round_number % len(CONTENDERS)]
        for name in order:
            if (name == "dlt" and not has_dlt) or ("floor" in name and not requests and name != "engine"):
                continue  # a floor needs the engine's recording: round 0 starts with the engine
            run = scenarios.fresh_copy(work, "extraction")
            with scenarios.running(run, record=name == "engine" and not requests) as sandboxes:
                seconds[name].append(_one(name, run, sandboxes, requests))
            if name == "engine" and not requests:
                requests[:] = floor.load({kind: run / f"{kind}.jsonl" for kind in ("customcrm", "membercare")})
        say(f"extraction round {round_number + 1}: " + ", ".join(
            f"{name} {values[-1]:.2f} s" for name, values in seconds.items() if values))
    medians = {name: statistics.median(values) for name, values in seconds.items() if values}
    parallel = medians.get("parallel floor")
    return {
        "medians": medians,
        "rounds": seconds,
        "requests": len([r for r in requests if r.method == "GET"]),
        "over_parallel_floor": {name: value / parallel for name, value in medians.items()} if parallel else {},
        "engine_over_dlt": medians["engine"] / medians["dlt"] if "dlt" in medians and "engine" in medians else None,
        "notes": notes,
    }


def _one(name: str, run: Path, sandboxes: scenarios.Sandboxes, requests: list[floor.Recorded]) -> float:
    if name == "engine":
        return _child(["-m", "bench.extraction", str(run / scenarios.STATE_FILE), sandboxes.crm.api_url,
                       sandboxes.mc.api_url])["seconds"]
    if name == "dlt":
        return _child(["-m", "bench.dlt_extract", sandboxes.crm.api_url, sandboxes.mc.api_url, str(run / "dlt")])[
            "seconds"]
    roots = {"customcrm": sandboxes.crm.root_url, "membercare": sandboxes.mc.root_url}
    replayed = floor.replay_reads(requests, roots, scenarios.auth(sandboxes), side_by_side=name == "parallel floor",
                                  workers=scenarios.WORKERS)
    return replayed.seconds


def _child(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _extract(db_path: str, crm_url: str, mc_url: str) -> dict:
    from crm_membercare.config import Settings
    from crm_membercare.engine.state import open_state
    from crm_membercare.engine.sync_engine import SyncEngine

    settings = Settings(customcrm_base_url=crm_url, membercare_base_url=mc_url, db_path=db_path)
    with open_state(settings.db_path) as con, settings.customcrm_client() as crm, settings.membercare_client() as mc:
        engine = SyncEngine(con, crm, mc)
        engine.start_cycle()
        started = time.perf_counter()
        results = engine.extract_all()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "read": sum(r.read for r in results), "changed": sum(r.changed for r in results)}


if __name__ == "__main__":
    print(json.dumps(_extract(*sys.argv[1:4])))
