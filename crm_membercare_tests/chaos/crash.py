"""The crash scenario: `crm-membercare sync --once` as a separate process, SIGKILLed at random points of
extract and writeback, restarted each time, with user edits and creates between runs.

Both sandboxes add `latency_ms` to every call, so writeback batches take long and most kills during
writeback land between a successful HTTP write and the DuckDB commit that records it. After each kill the
driver counts such writes: open creates (attempted, not recorded) whose record already exists in the target.
Half the kills come at a random delay after start, half a random moment after the run reports it planned a
flow (so inside that flow's writeback). Afterwards, with no kill, runs go on until one plans nothing.
"""

from __future__ import annotations

import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from crm_membercare.engine.state import open_state
from crm_membercare.mapping.flows import flow_by_name
from crm_membercare.sandbox.serving import RunningServer, serve_in_thread
from crm_membercare.systems import CustomCrmClient, MemberCareClient
from crm_membercare_tests.chaos.actor import CRM_TOKEN, MC_API_KEY, UserActor
from crm_membercare_tests.chaos.history import Removal, WriteLog
from crm_membercare_tests.chaos.oracle import Findings, check
from crm_membercare_tests.chaos.storm import CI_SCALE
from crm_membercare_tests.clients_support import Admin
from crm_membercare_tests.engine_support import World

CLI = str(Path(sys.executable).with_name("crm-membercare"))
RUN_TIMEOUT_S = 300
MAX_QUIET_RUNS = 5
CRASH_DELETES = ("products_products", "orders_invoices", "quotes_invoices")
CRASH_CI_SCALE = {"users": 3, "customers": 6, "contacts": 16, "products": 5, "orders": 6, "quotes": 3}


@dataclass(frozen=True)
class CrashConfig:
    seed: int
    kills: int
    scale: dict[str, int]
    latency_ms: int = 15
    operations_between_runs: int = 3
    overlap: float = 0.3


def crash_config(size: str, seed: int) -> CrashConfig:
    if size == "full":
        return CrashConfig(seed, kills=24, scale=CI_SCALE, latency_ms=25, operations_between_runs=4)
    # 10 kills: with 8, a run now and then had no kill land between a write and its commit (the window the
    # test exists for), which `test_some_kills_fell_between_a_write_and_its_commit` rightly reports.
    return CrashConfig(seed, kills=10, scale=CRASH_CI_SCALE, latency_ms=30, operations_between_runs=3)


@dataclass
class CrashResult:
    config: CrashConfig
    log: WriteLog
    findings: Findings
    kills: int
    kill_phases: Counter[str]
    writes_not_recorded: int  # writes that reached a system but not the state file when a run was killed
    runs_completed_before_kill: int
    runs_to_quiet: int
    last_exit_codes: list[int]
    last_errors: list[str]  # the last stderr line of each run without kills that did not exit 0
    seconds: float

    @property
    def deletes(self) -> list[Removal]:
        """Every delete the actor made, with the counterpart it saw at the last refresh."""
        return self.log.removals

    @property
    def deletes_not_propagated(self) -> list[str]:
        """Judged by the oracle from the actor's own deletes and the systems (not the links)."""
        return self.findings.deletes_not_propagated


def run_crash(config: CrashConfig, root: Path) -> CrashResult:
    from crm_membercare.sandbox.customcrm.app import create_app as customcrm_app
    from crm_membercare.sandbox.membercare.app import create_app as membercare_app

    started = time.monotonic()
    rng = random.Random(config.seed)
    crm_server = serve_in_thread(customcrm_app(root / "customcrm.sqlite"))
    mc_server = serve_in_thread(membercare_app(root / "membercare.sqlite"))
    admins = (Admin(crm_server), Admin(mc_server))
    db_path = root / "state.duckdb"
    env = {**os.environ, "CUSTOMCRM_BASE_URL": crm_server.api_url, "MEMBERCARE_BASE_URL": mc_server.api_url,
           "CRM_MEMBERCARE_DB": str(db_path), "CUSTOMCRM_TOKEN": CRM_TOKEN, "MEMBERCARE_API_KEY": MC_API_KEY}
    log = WriteLog()
    # Products, orders and quotes are deleted here (nothing points at an order or a quote); deletes of parents
    # with children are the storm's business: this scenario is about kills.
    actor = UserActor(crm_server.api_url, mc_server.api_url, config.seed, log, deletable_flows=CRASH_DELETES)
    try:
        for server in (crm_server, mc_server):
            httpx.post(f"{server.root_url}/_sandbox/seed", timeout=300, json={
                "seed": config.seed, "scale": config.scale, "overlap": config.overlap}).raise_for_status()
        for admin in admins:
            admin.faults(latency_ms=config.latency_ms)
        kills, completed, not_recorded, phases = 0, 0, set(), Counter()
        deleted_everywhere = False
        while kills < config.kills:
            killed, phase = _run_and_maybe_kill(env, rng, after_plan=kills % 2 == 1)
            if killed:
                kills += 1
                phases[phase] += 1
                not_recorded |= _writes_not_recorded(db_path, crm_server, mc_server)
            else:
                completed += 1
            actor.refresh()
            if kills == config.kills // 2 and not deleted_everywhere:
                deleted_everywhere = actor.delete_in_every_flow()  # linked deletes in every flow, once
                actor.edit_every_row()
            for _ in range(config.operations_between_runs):
                actor.act()
        for admin in admins:
            admin.faults(latency_ms=0)
        exit_codes, errors, quiet_runs = [], [], 0
        for quiet_runs in range(1, MAX_QUIET_RUNS + 1):  # noqa: B007 - the count is reported
            done = subprocess.run([CLI, "sync", "--once"], env=env, capture_output=True, text=True,
                                  timeout=RUN_TIMEOUT_S)
            exit_codes.append(done.returncode)
            if done.returncode != 0:
                errors.append("\n".join(done.stderr.strip().splitlines()[-12:]))
            if done.returncode == 0 and _planned_nothing(done.stderr):
                break
        with open_state(db_path) as con:
            world = World(crm_server, mc_server, con, *admins)
            findings = check(world, log)
    finally:
        actor.close()
        for admin in admins:
            admin.close()
        crm_server.stop()
        mc_server.stop()
    return CrashResult(config, log, findings, kills, phases, len(not_recorded), completed, quiet_runs, exit_codes,
                       errors, time.monotonic() - started)


def _run_and_maybe_kill(env: dict, rng: random.Random, *, after_plan: bool) -> tuple[bool, str]:
    """Start one run; SIGKILL it at a random point. Returns (killed, the last progress line before the kill)."""
    process = subprocess.Popen([CLI, "sync", "--once"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process, lines), daemon=True).start()
    last = "starting"
    deadline = time.monotonic() + (RUN_TIMEOUT_S if after_plan else rng.uniform(1.5, 4.0))
    kill_at = None
    while process.poll() is None:
        now = time.monotonic()
        if kill_at is not None and now >= kill_at or kill_at is None and now >= deadline:
            break
        try:
            line = lines.get(timeout=0.02).strip()
        except queue.Empty:
            continue
        last = line
        if after_plan and kill_at is None and line.startswith("planned ") and rng.random() < 0.5:
            kill_at = time.monotonic() + rng.uniform(0.0, 0.5)
    if process.poll() is not None:
        return False, last
    process.kill()
    process.wait()
    return True, _phase(last)


def _pump(process: subprocess.Popen, lines: queue.Queue) -> None:
    for line in process.stderr:
        lines.put(line)


def _phase(line: str) -> str:
    """Which step the run was in when killed, from the last progress line it printed."""
    if line.startswith("planned "):
        return f"writeback of {line.split()[1].rstrip(':')}"
    if line.startswith("wrote back "):
        return "planning (after a writeback)"
    if line.startswith("extracted ") or ": " in line and " read" in line:
        return "extract"
    return "start-up or extract"


def _planned_nothing(stderr: str) -> bool:
    return all(line.strip().endswith(": 0 operations") for line in stderr.splitlines()
               if line.strip().startswith("planned "))


def _writes_not_recorded(db_path: Path, crm_server: RunningServer, mc_server: RunningServer) -> set[str]:
    """Writes the killed run attempted but never recorded, which nevertheless reached the target: a create
    whose record exists, or an identity stamp the target already carries."""
    if not db_path.exists():
        return set()
    with open_state(db_path) as con:
        rows = con.execute(
            """SELECT flow, direction, operation, crm_id, mc_id, payload->>'stamp' FROM sync.outbox
               WHERE status = 'pending' AND attempts > 0 AND payload->>'stamp' IS NOT NULL""").fetchall()
    found = set()
    with CustomCrmClient(crm_server.api_url, CRM_TOKEN) as crm, MemberCareClient(mc_server.api_url, MC_API_KEY) as mc:
        for flow_name, direction, operation, crm_id, mc_id, stamp in rows:
            flow = flow_by_name(flow_name)
            if operation == "create" and direction == "to_membercare":
                landed = mc.find_by_external_id(flow.mc_resource, stamp) is not None
            elif operation == "create":
                landed = crm.find_by_external_ref(flow.crm_resource, stamp) is not None
            elif direction == "to_membercare":
                landed = (mc.find(flow.mc_resource, mc_id) or {}).get("externalId") == stamp
            else:
                landed = (crm.find(flow.crm_resource, crm_id) or {}).get("external_ref") == stamp
            if landed:
                found.add(f"{flow_name} {direction} {operation} {stamp}")
    return found
