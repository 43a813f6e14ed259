"""Both sandboxes as separate processes: seeding runs on both cores at once, and no server shares a GIL."""

from __future__ import annotations

import importlib
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from crm_membercare.sandbox.serving import uvicorn_config

SANDBOXES = {
    "CustomCRM": ("crm_membercare.sandbox.customcrm.app", "customcrm.sqlite"),
    "MemberCare": ("crm_membercare.sandbox.membercare.app", "membercare.sqlite"),
}


@dataclass
class SandboxProcess:
    name: str
    process: multiprocessing.process.BaseProcess
    root_url: str


def _serve(module: str, db_path: str, host: str, port: int) -> None:
    app = importlib.import_module(module).create_app(Path(db_path))
    try:
        uvicorn.Server(uvicorn_config(app, host, port)).run()
    except KeyboardInterrupt:
        pass


def start(data_dir: Path, host: str, ports: dict[str, int]) -> list[SandboxProcess]:
    """Start one process per sandbox and return once each answers its admin API."""
    data_dir.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    started = []
    for name, (module, file_name) in SANDBOXES.items():
        process = context.Process(target=_serve, args=(module, str(data_dir / file_name), host, ports[name]),
                                  name=f"sandbox-{name}", daemon=True)
        process.start()
        started.append(SandboxProcess(name, process, f"http://{host}:{ports[name]}"))
    try:
        for sandbox in started:
            _wait_ready(sandbox)
    except BaseException:  # an interrupt while starting must not leave servers behind
        stop(started)
        raise
    return started


def _wait_ready(sandbox: SandboxProcess, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not sandbox.process.is_alive():
            raise RuntimeError(f"the {sandbox.name} sandbox exited (is its port taken?)")
        try:
            httpx.get(f"{sandbox.root_url}/_sandbox/faults", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"the {sandbox.name} sandbox did not answer on {sandbox.root_url}")


def stop(sandboxes: list[SandboxProcess]) -> None:
    for sandbox in sandboxes:
        if sandbox.process.is_alive():
            sandbox.process.terminate()
    for sandbox in sandboxes:
        sandbox.process.join(timeout=10)
