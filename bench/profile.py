"""Profile a first sync and an incremental cycle (100 edits) with cProfile, for docs/performance.md.

    python -m bench.profile [--scale medium] [--out data/profiles] [--pristine DIR] [--synced DIR]

`--synced DIR` starts from a directory of already synced stores and state (`bench.run --keep` leaves one per
scale in `<work>/<scale>/engine`), profiles only the incremental cycle, and leaves DIR untouched.

Sandboxes run in their own processes, as in the bench; the engine runs under cProfile in a child process.
cProfile sees the calling thread only: time the engine spends waiting for its HTTP worker threads shows as
`ThreadPoolExecutor.map` / lock waits, which is how HTTP time is told apart from DuckDB, mapping and Python
work. Writes `<phase>.prof` and `<phase>.txt` (top functions by cumulative and by own time).
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import sys
import tempfile
from pathlib import Path

from bench import scenarios
from bench.cycle import run_child


def summarise(profile: Path, out: Path, top: int = 45) -> None:
    with out.open("w") as text:
        stats = pstats.Stats(str(profile), stream=text).strip_dirs()
        text.write("== by cumulative time ==\n")
        stats.sort_stats("cumulative").print_stats(top)
        text.write("\n== by own time ==\n")
        stats.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.profile")
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--out", default="data/profiles")  # data/ is runtime output, ignored by git
    parser.add_argument("--pristine", help="a bench work directory's seeded stores to start from (skips seeding)")
    parser.add_argument("--synced", help="a synced engine directory: profile only the incremental cycle")
    options = parser.parse_args(argv)
    out = Path(options.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="crm-membercare-profile-"))
    try:
        if options.synced:
            run = work / "engine"
            shutil.copytree(options.synced, run)
        else:
            if options.pristine:
                shutil.copytree(options.pristine, work / "pristine")
            else:
                scenarios.seed(work, options.scale, scenarios.ScaleResult(options.scale))
            run = scenarios.fresh_copy(work, "engine")
        with scenarios.running(run) as sandboxes:
            urls = (sandboxes.crm.api_url, sandboxes.mc.api_url)
            if not options.synced:
                first = run_child(run / scenarios.STATE_FILE, *urls, profile=out / "first_sync.prof")
                summarise(out / "first_sync.prof", out / "first_sync.txt")
                print(f"first sync {first.seconds:.1f} s under cProfile", file=sys.stderr, flush=True)
            for _ in range(3):
                settle = run_child(run / scenarios.STATE_FILE, *urls)
                print(f"settle {settle.seconds:.2f} s, {settle.propagated} propagated", file=sys.stderr, flush=True)
                if settle.propagated == 0:
                    break
            scenarios.make_edits(run / scenarios.STATE_FILE, sandboxes, scenarios.EDITS_PER_SIDE)
            incremental = run_child(run / scenarios.STATE_FILE, *urls, profile=out / "incremental.prof")
            summarise(out / "incremental.prof", out / "incremental.txt")
            print(f"incremental {incremental.seconds:.2f} s under cProfile", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
