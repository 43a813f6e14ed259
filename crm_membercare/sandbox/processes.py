"""Both sandboxes as separate processes: seeding runs on both cores at once, and no server shares a GIL.

The servers never outlive the command that started them: SIGTERM and SIGHUP stop it like Ctrl-C
(`stop_on_signals`), and on Linux the kernel sends each server SIGTERM when its parent dies, even by SIGKILL.
"""

from __future__ import annotations

import ctypes
import importlib
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


# SIGINT too: a process started in the background by a shell without job control inherits SIGINT ignored, and
# Python then never turns it into KeyboardInterrupt; this command runs until interrupted, whoever started it.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM to this process when its parent dies, however it dies (elsewhere: not available)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took effect
            raise SystemExit(0)


def _serve(module: str, db_path: str, host: str, port: int, parent: int) -> None:
    _die_with_parent(parent)
    app = importlib.import_module(module).create_app(Path(db_path))
    try:
        uvicorn.Server(uvicorn_config(app, host, port)).run()
    except KeyboardInterrupt:
        pass


def start(data_dir: Path, host: str, ports: dict[str, int]) -> list[SandboxProcess]:
    """Start one process per sandbox and return once each answers its admin API."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    started = []
    for name, (module, file_name) in SANDBOXES.items():
        process = context.Process(target=_serve, name=f"sandbox-{name}", daemon=True,
                                  args=(module, str(data_dir / file_name), host, ports[name], os.getpid()))
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


def stop(sandboxes: list[SandboxProcess], grace_s: float = 5) -> None:
    """SIGTERM each server (uvicorn closes its port at once), then SIGKILL what is still running after
    `grace_s` (a seed in progress is one SQLite transaction: killed, it leaves the store as it was)."""
    for sandbox in sandboxes:
        if sandbox.process.is_alive():
            sandbox.process.terminate()
    deadline = time.monotonic() + grace_s
    for sandbox in sandboxes:
        sandbox.process.join(timeout=max(0.0, deadline - time.monotonic()))
        if sandbox.process.is_alive():
            sandbox.process.kill()
            sandbox.process.join(timeout=5)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, the first SIGINT, SIGTERM or SIGHUP raises KeyboardInterrupt (so the caller's cleanup
    runs); later ones are ignored, so they cannot interrupt that cleanup. Main thread only."""

    def interrupt(signum: int, _frame) -> None:
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {number: signal.signal(number, interrupt) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
