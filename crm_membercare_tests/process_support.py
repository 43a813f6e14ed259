"""Other processes around the sync: one that holds a DuckDB file open (an analyst, a second sync, a forgotten
notebook) and answers queries through it, and the `crm-membercare` command itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Opens the file as an analyst would (a direct connection: its catalog is the file's stem), says "held", then
# answers each SQL line on stdin with the rows as one JSON line, until stdin closes.
_HOLDER = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("held", flush=True)
for sql in sys.stdin:
    try:
        print(json.dumps({"rows": con.execute(sql).fetchall()}, default=str), flush=True)
    except Exception as error:
        print(json.dumps({"error": repr(error)}), flush=True)
"""


class Holder:
    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process

    def ask(self, sql: str) -> list[list]:
        self.process.stdin.write(sql.replace("\n", " ") + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert "error" not in answer, answer["error"]
        return answer["rows"]

    def release(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@contextmanager
def holding(path: Path, *, read_only: bool = False) -> Iterator[Holder]:
    """Another process with `path` open (read-write takes DuckDB's exclusive lock) until released."""
    process = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path), "ro" if read_only else "rw"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    holder = Holder(process)
    try:
        first = process.stdout.readline()
        assert first.strip() == "held", f"the holder did not open {path}: {first}{process.stderr.read()}"
        yield holder
    finally:
        holder.release()


def cli(*args: str, env: dict[str, str], cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crm_membercare.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **env})


def start_cli(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crm_membercare.cli", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
