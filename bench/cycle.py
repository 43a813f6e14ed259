"""One sync cycle in a child process: its wall time, its report and the process's peak RSS.

A child per cycle keeps each cycle's peak RSS its own (ru_maxrss never goes down within a process) and
keeps the engine's CPU out of the orchestrating process. The engine itself runs in-process here, exactly as
`crm-membercare sync --once` runs it. Run as
`python -m bench.cycle DB CRM_API_URL MC_API_URL [--profile OUT.prof]`; prints one JSON line.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from crm_membercare.config import Settings
from crm_membercare.engine import analytics
from crm_membercare.engine.cycle import Cycle, EngineSettings, SyncEngine
from crm_membercare.engine.state import open_state
from crm_membercare.engine.steps import ReadStep


@dataclass(frozen=True)
class CycleRun:
    seconds: float
    peak_rss_mb: float
    propagated: int  # records created, updated or deleted in either system
    rejects: int
    pending: int
    flows: dict
    publish_s: float = 0.0  # the analysts' copy published after the cycle (DESIGN C13), within peak_rss_mb
    analytics_mb: float = 0.0
    read_s: float = 0.0  # of `seconds`, the read step (extraction); the rest is planning and writeback


class CycleCapped(Exception):
    """The cycle ran past its time cap and was stopped; `peak_rss_mb` is what it had reached."""

    def __init__(self, seconds: float, peak_rss_mb: float) -> None:
        super().__init__(f"stopped after {seconds:.0f} s at {peak_rss_mb:.0f} MB peak RSS")
        self.seconds, self.peak_rss_mb = seconds, peak_rss_mb


def run_child(db_path: Path, crm_url: str, mc_url: str, *, profile: Path | None = None,
              timeout_s: float | None = None) -> CycleRun:
    """Run one cycle in a child process and return what it measured (`CycleCapped` past `timeout_s`)."""
    args = [sys.executable, "-m", "bench.cycle", str(db_path), crm_url, mc_url]
    if profile:
        args += ["--profile", str(profile)]
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(args, cwd=Path(__file__).resolve().parent.parent, stdout=out, stderr=err, text=True)
        peak = 0.0
        while child.poll() is None:
            peak = max(peak, _peak_rss_mb(child.pid))
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                child.terminate()
                child.wait()
                raise CycleCapped(time.monotonic() - started, peak)
            time.sleep(0.5)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"cycle failed ({child.returncode}): {err.read()[-2000:]}")
        return CycleRun(**json.loads(out.read().strip().splitlines()[-1]))


def _peak_rss_mb(pid: int) -> float:
    """VmHWM (the process's peak resident set so far) from /proc; 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cycle(db_path: str, crm_url: str, mc_url: str, profile: str | None) -> CycleRun:
    settings = Settings(customcrm_base_url=crm_url, membercare_base_url=mc_url, db_path=db_path)
    profiler = cProfile.Profile() if profile else None
    with open_state(settings.db_path) as con, settings.customcrm_client() as crm, settings.membercare_client() as mc:
        engine = SyncEngine(con, crm, mc, EngineSettings())
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        report, read_s = _timed_cycle(Cycle(engine))
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        # As `sync --once` and every Dagster run do: the analysts' copy, beside the state.
        published = analytics.publish(con, settings.db_path, Path(settings.db_path).with_name("analytics.duckdb"))
    if profiler:
        profiler.dump_stats(profile)
    flows = {name: {k: v for k, v in vars(s).items() if k not in ("flow", "breaker")}
             for name, s in report.flows.items()}
    return CycleRun(
        seconds=seconds,
        # The process's own high-water mark: ru_maxrss would also count the parent's resident set as it was
        # when it forked this child (Linux carries it across exec), which inflated small cycles' figures.
        peak_rss_mb=_peak_rss_mb(os.getpid()),
        propagated=sum(s.created + s.updated + s.deleted for s in report.flows.values()),
        rejects=sum(s.rejects for s in report.flows.values()),
        pending=sum(s.pending for s in report.flows.values()),
        flows=flows,
        publish_s=round(published.seconds, 3),
        analytics_mb=round(published.bytes / 1e6, 1),
        read_s=round(read_s, 3),
    )


def _timed_cycle(cycle: Cycle):
    """`Cycle.run_all`, step by step, timing the read step apart: (the report, the read step's seconds)."""
    read_s = 0.0
    try:
        for step in cycle.steps:
            started = time.perf_counter()
            cycle.run(step)
            if isinstance(step, ReadStep):
                read_s += time.perf_counter() - started
    finally:
        cycle.finish()
    return cycle.report, read_s


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("crm_url")
    parser.add_argument("mc_url")
    parser.add_argument("--profile")
    options = parser.parse_args()
    print(json.dumps(vars(_cycle(options.db, options.crm_url, options.mc_url, options.profile))))
