"""The two sandboxes as separate processes on free loopback ports, so server CPU never shares the measuring
process's GIL.

A process started with `record=` appends one JSON line per API request it served (method, path, query, the
headers a replay needs, body, status, arrival and finish on the system-wide monotonic clock): the request list
the HTTP floor replays. Run as `python -m bench.servers KIND DB PORT [RECORD]` (what `start` does).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from crm_membercare.sandbox.serving import LOOPBACK, free_port

KINDS = ("customcrm", "membercare")
REPLAYED_HEADERS = ("if-match", "content-type")  # auth is re-done by the replay; the rest is transport detail


@dataclass
class SandboxProcess:
    kind: str
    db_path: Path
    port: int
    process: subprocess.Popen

    @property
    def root_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.root_url}/api/v1"

    def admin(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = httpx.request(method, f"{self.root_url}/_sandbox/{path}", timeout=900, **kwargs)
        response.raise_for_status()
        return response

    def stats(self) -> dict[str, int]:
        return self.admin("GET", "stats").json()["requests"]

    def clear_stats(self) -> None:
        self.admin("DELETE", "stats")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(kind: str, db_path: Path, *, record: Path | None = None) -> SandboxProcess:
    """Start one sandbox process on a free port; return once it answers."""
    port = free_port()
    args = [sys.executable, "-m", "bench.servers", kind, str(db_path), str(port)] + ([str(record)] if record else [])
    process = subprocess.Popen(args, cwd=Path(__file__).resolve().parent.parent)
    sandbox = SandboxProcess(kind, db_path, port, process)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} sandbox exited with {process.returncode}")
        try:
            httpx.get(f"{sandbox.root_url}/_sandbox/stats", timeout=2).raise_for_status()
            return sandbox
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                sandbox.stop()
                raise RuntimeError(f"{kind} sandbox did not start on port {port}") from None
            time.sleep(0.1)


def store_files(db_path: Path) -> list[Path]:
    """The SQLite file and its WAL companions."""
    return [p for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")) if p.exists()]


def copy_store(source: Path, target: Path) -> None:
    """Copy a stopped sandbox's store, so a scenario starts from exactly the seeded state (ids, timestamps)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in store_files(target):
        stale.unlink()
    for path in store_files(source):
        shutil.copyfile(path, target.parent / path.name.replace(source.name, target.name))


# --- the child process ---------------------------------------------------------------------------------------
class RequestRecorder:
    """ASGI middleware: one JSON line per `/api/v1/` request, written when its response has been sent."""

    def __init__(self, app, path: Path) -> None:
        self.app = app
        self.out = path.open("a", buffering=1 << 16)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api/v1/"):
            return await self.app(scope, receive, send)
        arrived = time.monotonic()
        body = bytearray()
        status = 0

        async def receive_and_keep():
            message = await receive()
            body.extend(message.get("body", b""))
            return message

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive_and_keep, send_and_note)
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.decode() in REPLAYED_HEADERS}
        line = {"method": scope["method"], "path": scope["path"], "query": scope["query_string"].decode(),
                "headers": headers, "body": base64.b64encode(bytes(body)).decode() if body else None,
                "status": status, "start": arrived, "end": time.monotonic()}
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()


def _serve(kind: str, db_path: str, port: int, record: str | None) -> None:
    import uvicorn

    from crm_membercare.sandbox.serving import uvicorn_config

    if kind == "customcrm":
        from crm_membercare.sandbox.customcrm.app import create_app
    else:
        from crm_membercare.sandbox.membercare.app import create_app
    app = create_app(Path(db_path))
    served = RequestRecorder(app, Path(record)) if record else app
    uvicorn.Server(uvicorn_config(served, LOOPBACK, port)).run()


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
