"""The `crm-membercare` command (DESIGN A0)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from crm_membercare.display import printable
from crm_membercare.sandbox.serving import LOOPBACK

if TYPE_CHECKING:
    from crm_membercare.config import Settings

READ_WAIT_S = 10.0  # how long the read commands and `breaker ack` wait for a running cycle


def _run_sandboxes(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from crm_membercare.sandbox import processes

    ports = {"CustomCRM": args.crm_port, "MemberCare": args.membercare_port}

    def prepare(sandbox: processes.SandboxProcess) -> str:
        with httpx.Client(base_url=f"{sandbox.root_url}/_sandbox", timeout=600) as admin:
            if args.reset:
                admin.post("/reset", json={}).raise_for_status()
            if args.seed is None:
                return f"{sandbox.name} sandbox: {sandbox.root_url}/api/v1"
            body = {"seed": args.seed, "scale": args.scale, "overlap": args.overlap}
            seeded = admin.post("/seed", json=body).raise_for_status().json()["seeded"]
        return f"{sandbox.name} sandbox: {sandbox.root_url}/api/v1 (seeded {seeded})"

    # SIGTERM (a service manager) and SIGHUP (a closed terminal) stop both servers like Ctrl-C.
    with processes.stop_on_signals():
        try:
            sandboxes = processes.start(Path(args.data_dir), args.host, ports)
        except KeyboardInterrupt:
            return 130
        pool = ThreadPoolExecutor(max_workers=len(sandboxes))  # both seed at once: each server is a process
        try:
            for line in pool.map(prepare, sandboxes):
                print(line, flush=True)
            while all(sandbox.process.is_alive() for sandbox in sandboxes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            processes.stop(sandboxes)  # first: a seed still in flight then fails at once instead of being awaited
            pool.shutdown(wait=False, cancel_futures=True)
    return 0


def _print_docs(_: argparse.Namespace) -> int:
    from crm_membercare.mapping.document import render_dataflow_document

    sys.stdout.write(render_dataflow_document())
    return 0


def _table(rows: list[dict]) -> str:
    """A plain text table of dicts with the same keys."""
    if not rows:
        return "(none)"
    keys = list(rows[0])
    cells = [[_cell(row.get(k)) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    # Values come from the systems: their control characters are shown escaped, never sent to the terminal.
    return printable(value, limit=60)


# Exit codes besides 0 and 1: a setting refused (a state path, a plain-HTTP base URL), and a state another
# process holds.
EXIT_REFUSED_SETTING, EXIT_IN_USE = 2, 3


def _paths() -> tuple[Settings, Path, Path]:
    """The settings and the resolved state and analytics paths (a legacy state file is taken over here)."""
    from crm_membercare.config import Settings, resolve_analytics_path, resolve_state_path

    # Whatever the state commands create (the state, its WAL, the analysts' copy, the acks) is owner-only:
    # it holds personal data of both systems.
    os.umask(0o077)
    settings = Settings.from_env()
    return settings, resolve_state_path(settings), resolve_analytics_path(settings)


def _sync(args: argparse.Namespace) -> int:
    from crm_membercare.engine.cycle import Cycle, EngineSettings, SyncEngine
    from crm_membercare.engine.state import StateLocked, open_state
    from crm_membercare.systems import SystemApiError

    settings, state_path, analytics_path = _paths()
    engine_settings = EngineSettings(conflict_policy=settings.conflict_policy, delete_policy=settings.delete_policy,
                                     ids_interval_s=settings.ids_interval_s, page_size=settings.page_size)

    def progress(message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)

    while True:
        try:
            # The clients first: a base URL they refuse stops the command before the state is touched.
            with settings.customcrm_client() as crm, settings.membercare_client() as mc, \
                    open_state(state_path, memory_limit=settings.duckdb_memory_limit, wait_s=args.wait) as con:
                report = Cycle(SyncEngine(con, crm, mc, engine_settings, progress=progress)).run_all()
                published = _publish(con, state_path, analytics_path)
        except SystemApiError as error:
            print(f"sync could not run: {error}", file=sys.stderr)
            return 1
        except StateLocked as error:
            print(f"sync could not run: {error}: another sync or a Dagster run is under way", file=sys.stderr)
            return EXIT_IN_USE
        rows = [{k: v for k, v in vars(s).items() if k not in ("breaker", "skipped")}
                | {"breaker": _breaker_text(s.breaker)} for s in report.flows.values()]
        print(f"cycle {report.cycle_id}")
        print(_table(rows), flush=True)
        for summary in report.flows.values():
            if summary.skipped:
                print(f"{summary.flow}: not written back this cycle: {_cell(summary.skipped)}", flush=True)
        if published:
            print(published, flush=True)
        if args.once:
            return 0
        time.sleep(settings.sensor_interval_s)


def _publish(con, state_path: Path, analytics_path: Path) -> str:
    """The analysts' copy after a cycle; a failure to publish is said in one line and does not fail the sync."""
    from crm_membercare.engine import analytics

    try:
        result = analytics.publish(con, state_path, analytics_path)
    except (OSError, analytics.PublishError) as error:
        print(f"the analysts' copy {analytics_path} was not refreshed: {error}", file=sys.stderr)
        return ""
    return f"analysts' copy: {result.path} ({result.bytes / 1e6:.1f} MB in {result.seconds:.2f} s)"


def _breaker_text(status) -> str:
    if status is None or not status.tripped:
        return "ok"
    return f"{'acknowledged' if status.acknowledged else 'TRIPPED'} ({status.destructive} > {status.threshold})"


def _read_state(args: argparse.Namespace) -> int:
    import duckdb

    from crm_membercare.engine.state import StateLocked, open_state

    _, state_path, analytics_path = _paths()
    if not state_path.exists():
        print(f"no sync state at {state_path} yet: run `crm-membercare sync --once` first", file=sys.stderr)
        return 1
    try:
        try:
            with open_state(state_path, read_only=True, wait_s=args.wait) as con:
                result = _report(con, args)
        except StateLocked:
            if not analytics_path.exists():
                print(f"the state is in use by a running cycle and there is no analysts' copy at {analytics_path} "
                      "yet: try again when the cycle ends", file=sys.stderr)
                return EXIT_IN_USE
            with open_state(analytics_path, read_only=True, wait_s=args.wait) as con:
                result = _report(con, args)
            print("the state is in use by a running cycle: showing the analysts' copy as of "
                  f"{_modified(analytics_path)}", file=sys.stderr)
    except StateLocked as error:
        print(f"{error}: try again when the cycle ends", file=sys.stderr)
        return EXIT_IN_USE
    except duckdb.Error as error:
        print(f"could not read the state: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    elif isinstance(result, dict):
        for name, rows in result.items():
            print(f"{name}:\n{_table(rows)}\n")
    else:
        print(_table(result))
    return 0


def _report(con, args: argparse.Namespace) -> dict | list:
    from crm_membercare.engine import reports

    if args.command == "status":
        return {"cycles": reports.last_cycles(con), "flows": reports.flow_status(con),
                "waiting": reports.waiting(con, limit=20)}
    if args.command == "rejects":
        return reports.rejects(con, open_only=not args.all, limit=args.limit)
    return reports.conflicts(con, limit=args.limit)


def _modified(path: Path) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(path.stat().st_mtime).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _breaker(args: argparse.Namespace) -> int:
    from crm_membercare.engine import breaker
    from crm_membercare.engine.acks import record_ack
    from crm_membercare.engine.state import StateLocked, open_state
    from crm_membercare.mapping.flows import flow_by_name

    flow = flow_by_name(args.flow).name
    _, state_path, _ = _paths()
    try:
        with open_state(state_path, wait_s=args.wait) as con:
            if not breaker.acknowledge(con, flow):
                print(f"the circuit breaker of {flow} is not tripped: nothing to acknowledge", file=sys.stderr)
                return 1
    except StateLocked as error:
        print(f"nothing acknowledged: {error}; try again when the cycle ends", file=sys.stderr)
        return EXIT_IN_USE
    record_ack(state_path, flow)
    print(f"acknowledged: the held removals of {flow} are applied in the next cycle")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm-membercare", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="run both sandbox servers in the foreground")
    sandbox.add_argument("--crm-port", type=int, default=8101)
    sandbox.add_argument("--membercare-port", type=int, default=8102)
    sandbox.add_argument("--host", default=LOOPBACK, help="bind address (default: loopback only)")
    sandbox.add_argument("--data-dir", default="data/sandbox")
    sandbox.add_argument("--seed", type=int, default=None, help="seed both stores with this seed")
    sandbox.add_argument("--scale", default="small", choices=("small", "medium", "large"))
    sandbox.add_argument("--overlap", type=float, default=0.3)
    sandbox.add_argument("--reset", action="store_true", help="empty both stores first")
    sandbox.set_defaults(handler=_run_sandboxes)

    docs = commands.add_parser("docs", help="print the QA dataflow document (reStructuredText)")
    docs.set_defaults(handler=_print_docs)

    sync = commands.add_parser("sync", help="run sync cycles (both directions)")
    sync.add_argument("--once", action="store_true", help="run one cycle and exit")
    sync.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                      help="how long to wait for a state file another process holds (default 60)")
    sync.set_defaults(handler=_sync)

    for name, text in (("status", "cycles and per-flow counts"), ("rejects", "records that could not be synced"),
                       ("conflicts", "fields edited on both sides and who won")):
        reader = commands.add_parser(name, help=text)
        reader.add_argument("--json", action="store_true", help="print JSON instead of a table")
        reader.add_argument("--wait", type=float, default=READ_WAIT_S, metavar="SECONDS",
                            help=f"how long to wait for a running cycle before reading the analysts' copy "
                                 f"(default {READ_WAIT_S:.0f})")
        if name != "status":
            reader.add_argument("--limit", type=int, default=None)
        if name == "rejects":
            reader.add_argument("--all", action="store_true", help="include resolved rejects")
        reader.set_defaults(handler=_read_state)

    breaker = commands.add_parser("breaker", help="circuit breaker")
    breaker_commands = breaker.add_subparsers(dest="breaker_command", required=True)
    ack = breaker_commands.add_parser("ack", help="let a flow's held removals through once")
    ack.add_argument("flow")
    ack.add_argument("--wait", type=float, default=READ_WAIT_S, metavar="SECONDS",
                     help=f"how long to wait for a running cycle (default {READ_WAIT_S:.0f})")
    ack.set_defaults(handler=_breaker)
    return parser


def main(argv: list[str] | None = None) -> int:
    from crm_membercare.config import StatePathError
    from crm_membercare.systems.base_url import InsecureBaseUrl

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (StatePathError, InsecureBaseUrl) as error:
        print(error, file=sys.stderr)
        return EXIT_REFUSED_SETTING


if __name__ == "__main__":
    sys.exit(main())
