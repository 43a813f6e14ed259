"""`make demo`: both sandboxes seeded and `dagster dev` with the sensors running, stopped together on Ctrl-C.

    python -m crm_membercare.demo [--keep] [--port 3000]

Run history and sensor cursors live in `DAGSTER_HOME` (default `data/dagster_home`, its `dagster.yaml`
copied from `dagster_home/dagster.yaml`); the sync state in `CRM_MEMBERCARE_DB` (default `data/state.duckdb`),
the analysts' copy in `CRM_MEMBERCARE_ANALYTICS_DB` (default `data/analytics.duckdb`). Without `--keep` the
sandboxes are reset and re-seeded (seed 42, small, overlap 0.3) and the sync state and its copy are removed
with them, since their links would point at records that no longer exist.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from crm_membercare.config import Settings
from crm_membercare.sandbox.serving import LOOPBACK

PROJECT = Path(__file__).resolve().parent.parent
INSTANCE_TEMPLATE = PROJECT / "dagster_home" / "dagster.yaml"
BIN = Path(sys.executable).parent
DEMO_SENSOR_INTERVAL_S = "5"


def prepare_dagster_home(home: Path) -> Path:
    """A persistent instance directory holding the project's instance settings."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(INSTANCE_TEMPLATE, home / "dagster.yaml")
    return home


def start_dagster_dev(env: dict[str, str], port: int, host: str = LOOPBACK, log: int | None = None) -> subprocess.Popen:
    """`dagster dev` on the project's code location, in its own process group (so it can be stopped whole)."""
    command = [str(BIN / "dagster"), "dev", "-m", "crm_membercare.definitions", "-h", host, "-p", str(port)]
    return subprocess.Popen(command, cwd=PROJECT, env=env, start_new_session=True, stdout=log, stderr=log)


def stop(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """Ask the process group to stop (SIGINT, like Ctrl-C), then insist."""
    if process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _echo_until_ready(process: subprocess.Popen, ready: threading.Event) -> None:
    seen = 0
    for line in process.stdout:
        print(f"[sandbox] {line}", end="", flush=True)
        seen += "sandbox: http" in line
        if seen == 2:
            ready.set()
    ready.set()


def _interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crm_membercare.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the sandboxes' data and the sync state")
    parser.add_argument("--port", type=int, default=3000, help="Dagster UI port (default 3000)")
    args = parser.parse_args(argv)
    # A closed terminal or a `kill` must stop the servers too, not only Ctrl-C: the sandboxes and dagster dev
    # run in their own sessions, so nothing else would reach them.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)

    settings = Settings.from_env()
    env = dict(os.environ)
    env.setdefault("CRM_MEMBERCARE_SENSOR_INTERVAL", DEMO_SENSOR_INTERVAL_S)
    # The sandbox credentials are public; set them so the resources' EnvVars resolve.
    env.setdefault("CUSTOMCRM_TOKEN", settings.customcrm_token)
    env.setdefault("MEMBERCARE_API_KEY", settings.membercare_api_key)
    env["DAGSTER_HOME"] = str(prepare_dagster_home(Path(env.get("DAGSTER_HOME", PROJECT / "data" / "dagster_home"))
                                                    .resolve()))
    if not args.keep:
        db_path, analytics = Path(settings.db_path), Path(settings.analytics_db)
        for stale in (db_path, db_path.with_name(db_path.name + ".wal"), db_path.with_name(db_path.name + ".acks"),
                      analytics):
            stale.unlink(missing_ok=True)

    sandbox_command = [str(BIN / "crm-membercare"), "sandbox"]
    if not args.keep:
        sandbox_command += ["--reset", "--seed", "42", "--scale", "small", "--overlap", "0.3"]
    sandboxes = subprocess.Popen(sandbox_command, cwd=PROJECT, env=env, start_new_session=True, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ready = threading.Event()
    threading.Thread(target=_echo_until_ready, args=(sandboxes, ready), daemon=True).start()
    dagster = None
    try:
        ready.wait(300)
        if sandboxes.poll() is not None:
            print("the sandboxes did not start", file=sys.stderr)
            return 1
        dagster = start_dagster_dev(env, args.port)
        print(f"Dagster UI: http://{LOOPBACK}:{args.port}  (sensors every {env['CRM_MEMBERCARE_SENSOR_INTERVAL']} s; "
              "Ctrl-C stops everything)", flush=True)
        while sandboxes.poll() is None and dagster.poll() is None:
            time.sleep(0.5)
        which = "the sandboxes" if sandboxes.poll() is not None else "dagster dev"
        print(f"{which} stopped (exit {sandboxes.poll() if which == 'the sandboxes' else dagster.poll()}): "
              "stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if dagster is not None:
            stop(dagster)
        stop(sandboxes)


if __name__ == "__main__":
    sys.exit(main())
