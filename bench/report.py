"""Figures against DESIGN Part E's targets: the markdown table `make bench` prints and README links."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

FLOOR_RATIO_MAX = 1.3  # first sync / floor, at medium (DESIGN Part E)
# Issue 16's acceptance, at medium: extraction against the parallel floor and against dlt, and the first sync.
EXTRACTION_OVER_PARALLEL_FLOOR_MAX = 1.5
EXTRACTION_OVER_DLT_MAX = 0.5
FIRST_SYNC_FLOOR_RATIO_ISSUE_MAX = 1.2
INCREMENTAL_MEDIUM_MAX_S = 1.0
INCREMENTAL_LARGE_OVER_MEDIUM_MAX = 1.25
LATENCY_P50_MAX_S = 8.0
LATENCY_P95_MAX_S = 12.0
PEAK_RSS_LARGE_MAX_MB = 1024.0
REQUESTS_PER_CHANGE_MAX = 2.5


@dataclass(frozen=True)
class Row:
    figure: str
    scale: str
    measured: str
    target: str
    verdict: str  # 'pass' | 'miss' | 'info' | 'pending'


def machine() -> dict:
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": round(_memory_kb() / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_at_start": _load(),
        "git": _git_state(),
    }


def _git_state() -> str:
    """The commit measured, and whether the engine had uncommitted changes (others edit the same tree)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False,
                              cwd=Path(__file__).resolve().parent.parent)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "crm_membercare")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes in crm_membercare/" if dirty else "")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_kb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _verdict(ok: bool) -> str:
    return "pass" if ok else "miss"


def rows(scales: dict[str, dict], latency: dict | None) -> list[Row]:
    out: list[Row] = []
    for scale, s in scales.items():
        first, flr, causal = s.get("first_sync"), s.get("floor"), s.get("causal_floor")
        binding = scale == "medium"
        if first:
            measured = f"{first['seconds']:.1f} s, {s['first_sync_requests']} req"
            what = ("first cycle: relink of a stamped installation (s, requests)" if s.get("stamped")
                    else "first sync (s, requests)")
            out.append(Row(what, scale, measured, "", "info"))
        elif s.get("first_sync_capped"):
            capped = s["first_sync_capped"]
            out.append(Row("first sync", scale, f"stopped at cap after {capped['seconds']:.0f} s "
                           f"({s['first_sync_requests']} req done)", "", "pending"))
        if first and flr:
            ratio = first["seconds"] / flr["seconds"]
            out.append(Row("HTTP floor (s)", scale, f"{flr['seconds']:.1f} s ({flr['status_mismatches']} status "
                           f"mismatches)", "", "info"))
            out.append(Row("first sync / floor", scale, f"{ratio:.2f}",
                           f"≤ {FLOOR_RATIO_MAX} (at medium; ≤ {FIRST_SYNC_FLOOR_RATIO_ISSUE_MAX} wanted)",
                           _verdict(ratio <= FLOOR_RATIO_MAX) if binding else "info"))
        if first and first.get("read_s"):
            out.append(Row("first sync: read phase / write phase (s)", scale,
                           f"{first['read_s']:.1f} / {first['seconds'] - first['read_s']:.1f}", "", "info"))
        out.extend(_extraction_rows(scale, s.get("extraction"), binding))
        busy = s.get("first_sync_occupancy")
        if first and busy:
            out.append(Row("first sync: share of time with no request in flight", scale,
                           f"{busy['idle_s'] / busy['span_s']:.0%} ({busy['idle_s']:.0f} of {busy['span_s']:.0f} s)",
                           "", "info"))
        if first and causal:
            out.append(Row("first sync / causal floor", scale, f"{first['seconds'] / causal['seconds']:.2f} "
                           f"(causal floor {causal['seconds']:.1f} s)", "", "info"))
        inc = s.get("incremental")
        if inc:
            target = f"≤ {INCREMENTAL_MEDIUM_MAX_S} s" if scale == "medium" else ""
            verdict = _verdict(inc["seconds"] <= INCREMENTAL_MEDIUM_MAX_S) if scale == "medium" else "info"
            out.append(Row("incremental cycle, 100 edits (s)", scale, f"{inc['seconds']:.2f} s "
                           f"({inc['propagated']} propagated)", target, verdict))
            per_change = s["incremental_requests"] / max(inc["propagated"], 1)
            out.append(Row("requests per propagated change", scale,
                           f"{per_change:.2f} ({s['incremental_requests']} / {inc['propagated']})",
                           f"≤ {REQUESTS_PER_CHANGE_MAX}", _verdict(per_change <= REQUESTS_PER_CHANGE_MAX)))
        elif scale in ("medium", "large"):
            out.append(Row("incremental cycle, 100 edits (s)", scale, "not reached (first sync did not finish)",
                           "", "pending"))
        if inc and inc.get("analytics_mb"):
            out.append(Row("analysts' copy after the incremental cycle: publish (s), file (MB)", scale,
                           f"{inc['publish_s']:.2f} s, {inc['analytics_mb']:.0f} MB", "", "info"))
        peaks = [c["peak_rss_mb"] for c in (first, s.get("first_sync_capped"), inc, *s.get("settle", [])) if c]
        if peaks:
            # A cycle stopped at the cap had not reached every flow: its peak is only a lower bound.
            partial = first is None
            verdict = "info" if scale != "large" else "pending" if partial and max(peaks) <= PEAK_RSS_LARGE_MAX_MB \
                else _verdict(max(peaks) <= PEAK_RSS_LARGE_MAX_MB)
            out.append(Row("peak RSS of a cycle (MB)", scale, f"{'≥ ' if partial else ''}{max(peaks):.0f}",
                           f"≤ {PEAK_RSS_LARGE_MAX_MB:.0f} (at large)", verdict))
    medium, large = scales.get("medium", {}).get("incremental"), scales.get("large", {}).get("incremental")
    if medium and large:
        ratio = large["seconds"] / medium["seconds"]
        out.append(Row("incremental large / medium", "large", f"{ratio:.2f}", f"≤ {INCREMENTAL_LARGE_OVER_MEDIUM_MAX}",
                       _verdict(ratio <= INCREMENTAL_LARGE_OVER_MEDIUM_MAX)))
    target = f"p50 ≤ {LATENCY_P50_MAX_S:.0f} s, p95 ≤ {LATENCY_P95_MAX_S:.0f} s"
    if latency and latency.get("p95") is not None:
        figure = f"latency p50 / p95 (s), {latency['edits']} edits, QA checks in every run"
        out.append(Row(figure, latency["scale"], f"{latency['p50']:.1f} / {latency['p95']:.1f}", target,
                       _verdict(latency["p50"] <= LATENCY_P50_MAX_S and latency["p95"] <= LATENCY_P95_MAX_S)))
        parts = latency.get("run_parts") or {}
        if parts.get("step_count"):
            shown = ", ".join(f"{name} {parts[name]:.2f}" for name in (
                "queued", "launch", "start_to_first_step", "steps", "between_steps", "qa_steps", "after_last_step",
                "run_total") if name in parts)
            out.append(Row(f"a sensor's run, median of {parts['runs']} (s): {int(parts['step_count'])} steps",
                           latency["scale"], shown, "", "info"))
    else:
        reason = (latency or {}).get("reason", "not run")
        out.append(Row("latency p50 / p95 (s)", "-", f"pending: {reason}", target, "pending"))
    return out


def _extraction_rows(scale: str, measured: dict | None, binding: bool) -> list[Row]:
    """The engine's extraction against the sequential and parallel floors and dlt (bench/extraction.py)."""
    if not measured:
        return []
    medians, over = measured["medians"], measured["over_parallel_floor"]
    shown = ", ".join(f"{name} {value:.2f}" for name, value in medians.items())
    rows = [Row(f"extraction into an empty state, median of {len(measured['rounds']['engine'])} rounds (s)", scale,
                f"{shown} ({measured['requests']} GETs)", "", "info")]
    if "engine" in over:
        ratio = over["engine"]
        rows.append(Row("extraction / parallel floor", scale, f"{ratio:.2f} (dlt {over.get('dlt', 0):.2f}, sequential "
                        f"floor {over.get('sequential floor', 0):.2f})", f"≤ {EXTRACTION_OVER_PARALLEL_FLOOR_MAX} "
                        "(at medium)", _verdict(ratio <= EXTRACTION_OVER_PARALLEL_FLOOR_MAX) if binding else "info"))
    if measured.get("engine_over_dlt") is not None:
        ratio = measured["engine_over_dlt"]
        rows.append(Row("extraction / dlt rest_api", scale, f"{ratio:.2f}",
                        f"≤ {EXTRACTION_OVER_DLT_MAX} (at medium)",
                        _verdict(ratio <= EXTRACTION_OVER_DLT_MAX) if binding else "info"))
    else:
        rows.append(Row("extraction / dlt rest_api", scale, "pending: " + "; ".join(measured.get("notes") or []),
                        f"≤ {EXTRACTION_OVER_DLT_MAX}", "pending"))
    return rows


def markdown(table: list[Row], info: dict, bench_seconds: float) -> str:
    lines = [
        f"Machine: {info['nproc']} cores, {info['cpu']}, {info['memory_gb']} GB, Python {info['python']}; "
        f"{info['date']}; commit {info['git']}; load average at start {info['load_at_start']}, at end {_load()}; "
        f"bench ran {bench_seconds / 60:.1f} min.",
        "",
        "| figure | scale | measured | target | verdict |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r.figure} | {r.scale} | {r.measured} | {r.target} | {r.verdict} |" for r in table]
    return "\n".join(lines) + "\n"
