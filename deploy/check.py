"""`make deploy-check`: the production topology of docs/deploy.md as local processes, checked end to end.

    python -m deploy.check

Docker is not available here, so each container of deploy/compose.yaml is a process: PostgreSQL
(deploy/postgres.py), `dagster api grpc` serving the code location, `dagster-webserver` and
`dagster-daemon`, all on deploy/dagster.yaml with only its run launcher swapped for the default one (runs
are processes instead of containers) and on deploy/workspace.yaml with the gRPC server's host and port
swapped; both sandboxes seeded as `make demo` seeds them. Everything binds 127.0.0.1.

Then: the sensors' first runs (the initial sync); an edit on each side, until it shows on the other; the
daemon restarted, after which the sensors must carry on from the cursors kept in PostgreSQL (their first
ticks request nothing) and the run history must still be there; one more edit. It prints the timings, stops
everything it started (also on failure or Ctrl-C) and exits 0; on failure it exits 1 and keeps the logs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import yaml

from crm_membercare.config import Settings
from crm_membercare.demo import stop
from crm_membercare.sandbox import processes
from crm_membercare.sandbox.serving import LOOPBACK, free_port
from deploy.postgres import running_postgres
from deploy.watch import Dagster, linked_pairs

DEPLOY = Path(__file__).resolve().parent
PROJECT = DEPLOY.parent
BIN = Path(sys.executable).parent
SEED = {"seed": 42, "scale": "small", "overlap": 0.3}  # as `make demo`
SENSOR_INTERVAL_S = "2"
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[deploy-check {time.monotonic() - STARTED:5.1f} s] {message}", flush=True)


def write_instance(dagster_home: Path) -> None:
    """The production dagster.yaml with only its run launcher removed (Dagster's default launches runs as
    processes of the code server's Python)."""
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    del instance["run_launcher"]
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(instance, sort_keys=False))


def write_workspace(path: Path, grpc_port: int) -> None:
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    workspace["load_from"][0]["grpc_server"].update(host=LOOPBACK, port=grpc_port)
    path.write_text(yaml.safe_dump(workspace, sort_keys=False))


def start_sandboxes(work: Path, stack: ExitStack) -> Settings:
    """Both sandboxes on free loopback ports, seeded; the settings that point the sync at them."""
    ports = {"CustomCRM": free_port(), "MemberCare": free_port()}
    sandboxes = processes.start(work / "sandbox", LOOPBACK, ports)
    stack.callback(processes.stop, sandboxes)

    def seed(sandbox: processes.SandboxProcess) -> None:
        httpx.post(f"{sandbox.root_url}/_sandbox/seed", json=SEED, timeout=600).raise_for_status()

    with ThreadPoolExecutor(len(sandboxes)) as pool:  # each sandbox is a process: both seed at once
        list(pool.map(seed, sandboxes))
    return Settings(customcrm_base_url=f"http://{LOOPBACK}:{ports['CustomCRM']}/api/v1",
                    membercare_base_url=f"http://{LOOPBACK}:{ports['MemberCare']}/api/v1")


def sync_environment(settings: Settings, work: Path) -> dict[str, str]:
    """The sync's settings; its two files in directories of their own, as the volumes of deploy/compose.yaml."""
    for directory in ("state", "analytics"):
        (work / directory).mkdir(mode=0o700)
    return {"CUSTOMCRM_BASE_URL": settings.customcrm_base_url, "CUSTOMCRM_TOKEN": settings.customcrm_token,
            "MEMBERCARE_BASE_URL": settings.membercare_base_url, "MEMBERCARE_API_KEY": settings.membercare_api_key,
            "CRM_MEMBERCARE_DB": str(work / "state" / "state.duckdb"),
            "CRM_MEMBERCARE_ANALYTICS_DB": str(work / "analytics" / "analytics.duckdb"),
            "CRM_MEMBERCARE_SENSOR_INTERVAL": SENSOR_INTERVAL_S}


class Services:
    """The Dagster services, each a process group of its own (stopped whole, at the latest when `stack`
    closes), its output in logs/<name>.log."""

    def __init__(self, env: dict[str, str], work: Path, stack: ExitStack) -> None:
        self.env, self.work, self.stack = env, work, stack
        self.commands: dict[str, list[str]] = {}
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str]) -> None:
        with (self.work / "logs" / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(command, cwd=PROJECT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.stack.callback(stop, process, 90)  # a run may be finishing
        self.commands[name], self.processes[name] = command, process

    def restart(self, name: str) -> None:
        stop(self.processes[name], 90)
        self.start(name, self.commands[name])

    def assert_running(self) -> None:
        exited = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        if exited:
            raise RuntimeError(f"services exited: {exited}")


def wait_for(what: str, probe: Callable[[], object], timeout_s: float, every_s: float = 0.25,
             services: Services | None = None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if services:
            services.assert_running()
        value = probe()
        if value:
            return value
        time.sleep(every_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def start_dagster(services: Services) -> Dagster:
    """The code location's gRPC server, then (as compose's `depends_on: service_healthy`) the webserver and the
    daemon, on the production instance and workspace files."""
    work = services.work
    write_instance(work / "dagster_home")
    grpc_port, web_port = free_port(), free_port()
    write_workspace(work / "workspace.yaml", grpc_port)
    workspace = ["-w", str(work / "workspace.yaml")]
    services.start("code-location", [str(BIN / "dagster"), "api", "grpc", "-m", "crm_membercare.definitions",
                                     "-h", LOOPBACK, "-p", str(grpc_port)])
    wait_for("the code location's gRPC server", lambda: grpc_healthy(grpc_port), 120, 0.5, services)
    services.start("dagster-webserver", [str(BIN / "dagster-webserver"), "-h", LOOPBACK, "-p", str(web_port),
                                         *workspace])
    services.start("dagster-daemon", [str(BIN / "dagster-daemon"), "run", *workspace])
    return Dagster(f"http://{LOOPBACK}:{web_port}")


def grpc_healthy(port: int) -> bool:
    return subprocess.run([str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)],
                          capture_output=True).returncode == 0


def run_scenario(settings: Settings, dagster: Dagster, services: Services) -> str:
    def wait(what: str, probe: Callable[[], object], timeout_s: float, every_s: float = 1):
        return wait_for(what, probe, timeout_s, every_s, services)

    def propagate(what: str, edit: Callable[[], object], shows: Callable[[], bool]) -> float:
        """Seconds from an edit in one system until it shows in the other."""
        edited_at = time.monotonic()
        edit()
        wait(what, shows, 120, every_s=0.25)
        return time.monotonic() - edited_at

    with settings.customcrm_client() as crm, settings.membercare_client() as mc:
        def crm_edit(contact: int, person: str, value: str) -> float:
            return propagate(f"contact {contact}'s edit in person {person}",
                             lambda: crm.update("contacts", contact, {"last_name": value}),
                             lambda: mc.get("persons", person)["lastname"] == value)

        def membercare_edit(contact: int, person: str, value: str) -> float:
            return propagate(f"person {person}'s edit in contact {contact}",
                             lambda: mc.replace("persons", person, {**mc.get("persons", person), "lastname": value}),
                             lambda: crm.get("contacts", contact)["last_name"] == value)

        wait("the webserver to load the code location", dagster.location_loaded, 180)
        say("webserver up, code location loaded; waiting for the sensors' first runs")
        wait("the sensors' first runs (the initial sync)", dagster.first_runs_succeeded, 300)
        pairs = wait("three contacts linked to persons", lambda: linked_pairs(crm, 3), 60)
        say(f"initial sync done; editing contact/person pairs {pairs}")
        to_membercare = crm_edit(*pairs[0], "DeployCheckCrm")
        to_crm = membercare_edit(*pairs[1], "DeployCheckMemberCare")
        say("both edits propagated; waiting for runs and sensors to settle, then restarting the daemon")
        before = wait("the runs and sensors to settle", dagster.settled, 180)
        restarted_at = time.time()
        services.restart("dagster-daemon")
        after = wait("every sensor's first tick after the restart", lambda: dagster.ticked_since(restarted_at), 120)
        dagster.assert_survived(before, after)
        say(f"daemon restarted: {len(after.run_ids)} runs and {len(after.cursors)} sensor cursors kept, "
            "no run requested by the first ticks")
        after_restart = crm_edit(*pairs[2], "DeployCheckAfterRestart")
    return (f"deploy-check: edits propagated in {to_membercare:.1f} s and {to_crm:.1f} s; "
            f"after restart in {after_restart:.1f} s")


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="crm-membercare-deploy-check-"))
    work.chmod(0o711)  # PostgreSQL's unprivileged user must reach its own directory inside
    (work / "logs").mkdir()
    try:
        with processes.stop_on_signals(), ExitStack() as stack:
            postgres = stack.enter_context(running_postgres(work, work / "logs" / "postgresql.log"))
            say(f"PostgreSQL {postgres.host}:{postgres.port} up; seeding both sandboxes")
            settings = start_sandboxes(work, stack)
            env = {**os.environ, "DAGSTER_HOME": str(work / "dagster_home"), **postgres.dagster_environment(),
                   **sync_environment(settings, work)}
            services = Services(env, work, stack)
            dagster = start_dagster(services)
            print(run_scenario(settings, dagster, services), flush=True)
            say(f"sizes: Dagster's PostgreSQL database {postgres.database_mb():.1f} MB after "
                f"{len(dagster.snapshot().run_ids)} runs; the state file "
                f"{(work / 'state' / 'state.duckdb').stat().st_size / 1e6:.1f} MB")
    except KeyboardInterrupt:
        print(f"deploy-check interrupted; everything it started is stopped; logs: {work / 'logs'}", file=sys.stderr)
        return 130
    except Exception as error:
        print(f"deploy-check failed: {error!r}\nlogs: {work / 'logs'}", file=sys.stderr)
        for log in sorted((work / "logs").glob("*.log")):
            print(f"--- {log.name} (last lines)\n{log.read_text(errors='replace')[-2000:]}", file=sys.stderr)
        return 1
    shutil.rmtree(work)
    say("passed; everything it started is stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
