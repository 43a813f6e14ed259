"""`make bench`: DESIGN Part E's performance figures, side by side with the HTTP floor, in one run.

    python -m bench.run [--scales small,medium] [--cap-s 2400] [--no-latency] [--out bench/results.json]

Per scale: seed once, first sync (timed, its read and write phases apart, requests counted and recorded), the
floor replays, the extraction side by side with its floors and dlt (bench/extraction.py), the incremental cycle
after 100 edits, peak RSS of every cycle. Then the latency under `dagster dev` (at the smallest scale
run). Prints a markdown table, writes the JSON. Sandboxes always run in their own processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench import extraction, report, scenarios
from bench import latency as latency_bench
from bench.cycle import CycleCapped


def measure_scale(work: Path, scale: str, cap_s: float, causal_floor: bool,
                  stamped: bool = False) -> tuple[dict, Path | None]:
    """The scale's figures, and the directory of its synced stores and state (None when it never synced)."""
    result = scenarios.ScaleResult(scale, stamped=stamped)
    say(f"[{scale}] seeding")
    scenarios.seed(work, scale, result)
    say(f"[{scale}] seeded {result.seeded} in {result.seed_seconds:.0f} s; first sync")
    run = scenarios.first_sync(work, result, timeout_s=cap_s)
    if run is None:
        say(f"[{scale}] {result.notes[-1]}")
        return asdict(result), None
    what = "relink from stamps" if stamped else "first sync"
    say(f"[{scale}] {what} {result.first_sync['seconds']:.1f} s, {result.first_sync_requests} requests")
    if not stamped:  # a relink's requests are reads only: the floor compares a first sync's writes
        scenarios.floors(work, run, result, causal_too=causal_floor)
        say(f"[{scale}] floor {result.floor['seconds']:.1f} s; extraction side by side")
        result.extraction = extraction.measure(work, say=lambda message: say(f"[{scale}] {message}"))
        say(f"[{scale}] incremental")
    try:
        scenarios.incremental(run, result, timeout_s=cap_s)
    except CycleCapped as capped:
        result.notes.append(f"incremental stopped at the cap: {capped}")
    except RuntimeError as failed:  # a failing cycle is a finding; the figures measured so far still count
        result.notes.append(f"incremental failed: {str(failed)[-400:]}")
        say(f"[{scale}] {result.notes[-1]}")
    if result.incremental:
        say(f"[{scale}] incremental {result.incremental['seconds']:.2f} s, {result.incremental_requests} requests")
    return asdict(result), run if result.incremental else None


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="small,medium")
    parser.add_argument("--cap-s", type=float, default=2400.0, help="longest any one cycle may run")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--causal-floor", action="store_true", help="also replay with the engine's own barriers")
    parser.add_argument("--out", default="bench/results.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (stores, recordings)")
    parser.add_argument("--stamped", default="large",
                        help="scales seeded as already in sync (overlap 1.0, stamped): their first cycle is a relink; "
                             "a real first sync at large needs ~2.5 M requests (hours). '' for none")
    options = parser.parse_args(argv)

    started = time.perf_counter()
    info = report.machine()
    work_root = Path(tempfile.mkdtemp(prefix="crm-membercare-bench-"))
    scales: dict[str, dict] = {}
    latency: dict | None = None
    try:
        synced: dict[str, Path | None] = {}
        for scale in [s.strip() for s in options.scales.split(",") if s.strip()]:
            stamped = scale in options.stamped.split(",")
            scales[scale], synced[scale] = measure_scale(work_root / scale, scale, options.cap_s, options.causal_floor,
                                                         stamped)
        if not options.no_latency:
            # On the smallest scale that synced: the latency target is about the pipeline, not the data size.
            scale, state = next(((name, path) for name, path in synced.items() if path), (None, None))
            say(f"latency under dagster dev, at {scale}")
            latency = latency_bench.measure(state, work_root / "latency", say=say, scale=scale or "-")
    finally:
        if not options.keep:
            shutil.rmtree(work_root, ignore_errors=True)
        else:
            say(f"work directory kept: {work_root}")
    elapsed = time.perf_counter() - started
    table = report.rows(scales, latency)
    text = report.markdown(table, info, elapsed)
    print(text)
    Path(options.out).write_text(json.dumps({
        "machine": info, "load_at_end": list(os.getloadavg()), "bench_seconds": round(elapsed, 1),
        "scales": scales, "latency": latency, "table": [asdict(r) for r in table], "markdown": text,
    }, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
