"""A throwaway PostgreSQL server for `make deploy-check`, from the binaries the `pgserver` wheel ships.

`pgserver` (the `deploy` extra) carries PostgreSQL's own build in the wheel, so a fresh machine with only
python3 and make gets a real server from `make install`; only its binaries are used here (its Python API
listens on a Unix socket only and, run as root, widens the permissions of every directory above its data).

PostgreSQL refuses to run as root. Run by root (as on the machines here and in CI), the server runs as an
unprivileged system user, `crm-membercare-pg`, created on first use and kept; its data lives in the check's
work directory and goes with it. Run by anyone else, it runs as that user. It listens on 127.0.0.1 only and
asks for a password (scram-sha-256), generated per run and handed to Dagster through the environment.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from crm_membercare.sandbox.serving import LOOPBACK, free_port

SERVER_USER = "crm-membercare-pg"  # only when run by root
BIN_VARIABLE = "DEPLOY_CHECK_POSTGRES_BIN"
DATABASE = "dagster"
ROLE = "dagster"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    password: str = field(repr=False)
    user: str = ROLE
    database: str = DATABASE

    def database_mb(self) -> float:
        """The size of Dagster's database (runs, events, ticks), for docs/deploy.md's sizing."""
        con = psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               dbname=self.database)
        try:
            cursor = con.cursor()
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0] / 1e6
        finally:
            con.close()

    def dagster_environment(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads its storage settings from."""
        return {"DAGSTER_POSTGRES_HOST": self.host, "DAGSTER_POSTGRES_PORT": str(self.port),
                "DAGSTER_POSTGRES_USER": self.user, "DAGSTER_POSTGRES_PASSWORD": self.password,
                "DAGSTER_POSTGRES_DB": self.database}


def binaries() -> Path:
    """PostgreSQL's bin/: the installed pgserver wheel's (found without importing pgserver's own API), or
    another installation's named by DEPLOY_CHECK_POSTGRES_BIN (e.g. Debian's /usr/lib/postgresql/15/bin, where
    pgserver has no wheel: Python 3.13 and later)."""
    if os.environ.get(BIN_VARIABLE):
        return Path(os.environ[BIN_VARIABLE])
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"pgserver is not installed (it has wheels up to Python 3.12): set {BIN_VARIABLE} to "
                           "a PostgreSQL installation's bin directory")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _server_account() -> pwd.struct_passwd | None:
    """The account the server runs as: None for the current one, the unprivileged user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
                       check=True, capture_output=True)
        return pwd.getpwnam(SERVER_USER)


def _as(account: pwd.struct_passwd | None) -> dict:
    """Popen arguments that run a command as `account` (nothing to change when it is None)."""
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _owned_dir(path: Path, account: pwd.struct_passwd | None) -> Path:
    path.mkdir(mode=0o700)
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)
    return path


def _wait_ready(server: PostgresServer, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited with {process.returncode} while starting")
        try:
            psycopg2.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                             dbname="postgres", connect_timeout=2).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _create_database(server: PostgresServer) -> None:
    con = psycopg2.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                           dbname="postgres")
    try:
        con.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        con.cursor().execute(f"CREATE DATABASE {server.database}")
    finally:
        con.close()


def _stop(process: subprocess.Popen) -> None:
    """SIGINT is PostgreSQL's fast shutdown (sessions ended, a checkpoint written); SIGKILL if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@contextmanager
def running_postgres(work: Path, log_path: Path) -> Iterator[PostgresServer]:
    """A fresh cluster under `work` (which others must be able to traverse), serving until the block ends."""
    bin_dir, account = binaries(), _server_account()
    home = _owned_dir(work / "postgresql", account)
    server = PostgresServer(LOOPBACK, free_port(), secrets.token_urlsafe(24))
    password_file = home / "initial-password"
    password_file.write_text(server.password)
    if account is not None:
        os.chown(password_file, account.pw_uid, account.pw_gid)
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    with log_path.open("ab") as log:
        subprocess.run([str(bin_dir / "initdb"), "-D", str(home / "data"), "-U", server.user,
                        f"--pwfile={password_file}", "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
                        "--no-instructions"], check=True, stdout=log, stderr=subprocess.STDOUT, env=environment,
                       **_as(account))
        password_file.unlink()
        process = subprocess.Popen([str(bin_dir / "postgres"), "-D", str(home / "data"), "-h", server.host,
                                    "-p", str(server.port), "-k", str(home)],
                                   stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True,
                                   **_as(account))
    try:
        _wait_ready(server, process)
        _create_database(server)
        yield server
    finally:
        _stop(process)
