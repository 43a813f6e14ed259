"""Latency under `dagster dev`: an edit in one system, until it shows in the other (DESIGN Part E).

Both sandboxes run in their own processes, on the stores and state a bench scale left in steady state;
`dagster dev` runs the project's definitions with its own DAGSTER_HOME (one run at a time, like the
project's instance file) in the work directory and `CRM_MEMBERCARE_SENSOR_INTERVAL=5`. After one warm-up
edit has gone through, 40 edits alternate sides, one every `EDIT_SPACING_S`, each on its own linked pair;
each edit's latency is the time from its write until a read of the other system returns the new value
(polled every `POLL_S`). The QA checklist is evaluated in every run (DESIGN Part E).

Where a sensor's run spends its time is read back from the instance's event log once dagster dev has
stopped (`run_parts`): waiting in the queue, the launch (a new process that imports the code location),
the steps (each step's own time, and the gaps between steps that are Dagster's per-step overhead), the
QA checks' steps, and the end of the run (the resource's teardown: the cycle's bookkeeping and the
analysts' copy).
"""

from __future__ import annotations

import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import scenarios, servers
from crm_membercare.config import Settings

EDITS = 40
EDIT_SPACING_S = 1.5
POLL_S = 0.5
GIVE_UP_S = 120.0
SENSOR_INTERVAL_S = 5
INSTANCE_TEMPLATE = Path(__file__).resolve().parent.parent / "dagster_home" / "dagster.yaml"


@dataclass
class Edit:
    number: int
    side: str  # the system edited: 'customcrm' | 'membercare'
    crm_id: int
    mc_id: str
    value: str
    written_at: float = 0.0
    seen_after: float | None = None


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(share * len(ordered)))) - 1]


def definitions_usable() -> str | None:
    """None when the project's Dagster definitions load; otherwise why not."""
    load = "import crm_membercare.definitions as d; d.defs.get_repository_def()"
    check = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parent.parent, check=False)
    return None if check.returncode == 0 else f"definitions do not load: {check.stderr.strip().splitlines()[-1:]}"


def measure(synced: Path | None, work: Path, *, say: Callable[[str], None] = print, scale: str = "small") -> dict:
    """Measure on the sandboxes and state in `synced` (a directory a bench scale left in steady state)."""
    reason = definitions_usable() or (None if synced else "no synced state to start from (no scale completed)")
    if reason:
        return {"scale": scale, "p50": None, "p95": None, "reason": reason}
    with scenarios.running(synced) as sandboxes:
        db = synced / scenarios.STATE_FILE
        pairs = scenarios.linked_pairs(db, "contacts_persons", EDITS + 1, 2 * scenarios.EDITS_PER_SIDE)
        dagster = _start_dagster(work, sandboxes, db)
        try:
            settings = Settings(customcrm_base_url=sandboxes.crm.api_url, membercare_base_url=sandboxes.mc.api_url)
            with settings.customcrm_client() as crm, settings.membercare_client() as mc:
                warm = Edit(-1, "customcrm", *pairs[0], f"Warm{int(time.time())}")
                say("latency: dagster dev started; warm-up edit")
                _follow(crm, mc, [warm], spacing_s=0, give_up_s=240)
                if warm.seen_after is None:
                    return {"scale": scale, "p50": None, "p95": None,
                            "reason": "the warm-up edit never propagated under dagster dev"}
                say(f"latency: warm-up edit took {warm.seen_after:.1f} s; {EDITS} edits")
                stamp = int(time.time()) % 100000
                edits = [Edit(n, "customcrm" if n % 2 == 0 else "membercare", crm_id, mc_id, f"Lat{stamp}E{n}")
                         for n, (crm_id, mc_id) in enumerate(pairs[1:EDITS + 1])]
                _follow(crm, mc, edits, spacing_s=EDIT_SPACING_S, give_up_s=GIVE_UP_S)
        finally:
            _stop(dagster)
    parts = run_parts(work / "dagster_home")
    seen = [e.seen_after for e in edits if e.seen_after is not None]
    missing = len(edits) - len(seen)
    latencies = seen + [float("inf")] * missing
    return {
        "scale": scale, "edits": len(edits), "never_seen": missing, "warm_up_s": warm.seen_after,
        "p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
        "mean_seen": statistics.fmean(seen) if seen else None,
        "by_side": {side: [round(e.seen_after, 2) for e in edits if e.side == side and e.seen_after is not None]
                    for side in ("customcrm", "membercare")},
        "sensor_interval_s": SENSOR_INTERVAL_S, "edit_spacing_s": EDIT_SPACING_S, "run_parts": parts,
    }


def run_parts(home: Path) -> dict:
    """Medians over the sensors' successful runs: where a run's wall time goes (seconds)."""
    import dagster as dg
    Event = dg.DagsterEventType

    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = [r for r in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
                if r.tags.get("dagster/sensor_name")]
        parts: dict[str, list[float]] = {}
        for run in runs:
            events = [(e.timestamp, e.dagster_event.event_type, e.dagster_event.step_key)
                      for e in instance.all_logs(run.run_id) if e.dagster_event is not None]
            first_of: dict[Event, float] = {}
            for at, kind, _ in events:
                first_of.setdefault(kind, at)
            steps: dict[str, list[float]] = {}
            for at, kind, step in events:
                if step and kind in (Event.STEP_START, Event.STEP_SUCCESS):
                    steps.setdefault(step, []).append(at)
            spans = sorted((v[0], v[-1], key) for key, v in steps.items() if len(v) == 2)
            if not spans or Event.RUN_START not in first_of or Event.RUN_SUCCESS not in first_of:
                continue
            start, done = first_of[Event.RUN_START], first_of[Event.RUN_SUCCESS]
            enqueued = first_of.get(Event.RUN_ENQUEUED, start)
            dequeued = first_of.get(Event.RUN_DEQUEUED, enqueued)
            inside = sum(end - begin for begin, end, _ in spans)
            first, last = spans[0][0], max(end for _, end, _ in spans)
            values = {
                "queued": dequeued - enqueued,
                "launch": start - dequeued,
                "start_to_first_step": first - start,
                "steps": inside,
                "between_steps": (last - first) - inside,
                "qa_steps": sum(end - begin for begin, end, key in spans if key.startswith("qa_")),
                "after_last_step": done - last,
                "run_total": done - enqueued,
                "step_count": float(len(spans)),
            }
            for name, value in values.items():
                parts.setdefault(name, []).append(value)
    return {"runs": len(runs), **{name: round(statistics.median(v), 3) for name, v in parts.items()}}


def _start_dagster(work: Path, sandboxes: scenarios.Sandboxes, db: Path) -> subprocess.Popen:
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE_TEMPLATE.read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), "CRM_MEMBERCARE_SENSOR_INTERVAL": str(SENSOR_INTERVAL_S),
           "CUSTOMCRM_BASE_URL": sandboxes.crm.api_url, "MEMBERCARE_BASE_URL": sandboxes.mc.api_url,
           "CRM_MEMBERCARE_DB": str(db), "CRM_MEMBERCARE_ANALYTICS_DB": str(work / "analytics.duckdb")}
    dagster = Path(sys.executable).parent / "dagster"
    port = servers.free_port()
    log = (work / "dagster.log").open("w")
    process = subprocess.Popen(
        [str(dagster), "dev", "-m", "crm_membercare.definitions", "-h", servers.LOOPBACK, "-p", str(port)],
        cwd=Path(__file__).resolve().parent.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {process.returncode}; see {work / 'dagster.log'}")
        try:
            if httpx.get(f"http://{servers.LOOPBACK}:{port}/server_info", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(1)
    _stop(process)
    raise RuntimeError("dagster dev did not answer within 180 s")


def _stop(process: subprocess.Popen) -> None:
    """Stop dagster dev and what it started (webserver, daemon, code server, runs): its own process group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _write(crm, mc, edit: Edit) -> None:
    if edit.side == "customcrm":
        crm.update("contacts", edit.crm_id, {"last_name": edit.value})
    else:
        record = mc.get("persons", edit.mc_id)
        mc.replace("persons", edit.mc_id, {**record, "lastname": edit.value})
    edit.written_at = time.monotonic()


def _arrived(crm, mc, edit: Edit) -> bool:
    if edit.side == "customcrm":
        return mc.get("persons", edit.mc_id).get("lastname") == edit.value
    return crm.get("contacts", edit.crm_id).get("last_name") == edit.value


def _follow(crm, mc, edits: list[Edit], *, spacing_s: float, give_up_s: float) -> None:
    """Write the edits `spacing_s` apart, each on its own thread polling the other side until it shows (the
    threads keep one slow read from delaying every other edit's clock)."""
    started = time.monotonic()

    def one(index: int, edit: Edit) -> None:
        time.sleep(max(0.0, started + index * spacing_s - time.monotonic()))
        _write(crm, mc, edit)
        while time.monotonic() - edit.written_at < give_up_s:
            if _arrived(crm, mc, edit):
                edit.seen_after = time.monotonic() - edit.written_at
                return
            time.sleep(POLL_S)

    with ThreadPoolExecutor(max_workers=len(edits)) as pool:
        list(pool.map(one, range(len(edits)), edits))
