"""Security (issue 6, item 4; DESIGN Part E "Security"); the threat model is docs/security.md.

One scenario with credentials that are NOT the sandbox defaults (random per run, given to the sandboxes and
to the sync only through the environment): in-process cycles under faults (errors, lost responses, short-lived
MemberCare tokens, so retries and token refreshes happen), cycles that fail (every request erroring; a wrong
credential), the CLI as a subprocess (`sync --once`, `status`, `rejects`, `conflicts`), and a Dagster
materialization of every asset when the Dagster layer is present. Everything they leave is then searched for
both credential values (and the MemberCare session tokens issued): Python log records at DEBUG, exception
texts with tracebacks, subprocess output, Dagster's event log and metadata, and the bytes of the DuckDB file.

Besides: both sandboxes refuse missing and wrong credentials on every resource; hostile SQL-looking text
round-trips intact both ways with every sync table still there; the engine builds SQL text only from its own
constants; every server binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from crm_membercare.config import Settings
from crm_membercare.engine.cycle import Cycle, SyncEngine
from crm_membercare.engine.state import open_state
from crm_membercare.sandbox.serving import LOOPBACK, RunningServer, serve_in_thread
from crm_membercare.systems import SystemApiError
from crm_membercare_tests.clients_support import Admin
from crm_membercare_tests.hostile_support import CrmUser, McUser

ROOT = Path(__file__).resolve().parents[1]
CRM_SECRET = f"crm-{secrets.token_hex(16)}"
MC_SECRET = f"mc-{secrets.token_hex(16)}"
WRONG = f"wrong-{secrets.token_hex(12)}"
SCALE = {"users": 3, "customers": 6, "contacts": 12, "products": 4, "orders": 5, "quotes": 3}
SQL_TEXT = "'); drop table sync.links; --"
HOSTILE = f"{SQL_TEXT} \"x\" \\ O'Brien\t\\'; DELETE FROM sync.rejects WHERE '1'='1"
HOSTILE_EMAIL = "o'hara');drop_table--sync.links@example.org"
FAULTS = {"error_rate": 0.1, "lost_response_rate": 0.05}
SYNC_TABLES = ("cursors", "dirty", "match_keys", "links", "outbox", "conflicts", "rejects", "ambiguous",
               "breakers", "cycles", "cycle_flows", "schema_version")
CRM_RESOURCES = ("contacts", "customers", "orders", "quotes", "products", "users")
MC_RESOURCES = ("persons", "companies", "products", "invoices")


class Collector(logging.Handler):
    """Every log record of every logger, formatted with its arguments and any exception."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Evidence:
    """What the scenario left behind, by where it was found."""

    crm_server: RunningServer
    mc_server: RunningServer
    db_path: Path
    env: dict[str, str]
    texts: dict[str, list[str]] = field(default_factory=dict)
    state_bytes: bytes = b""
    issued_tokens: set[str] = field(default_factory=set)
    cli_runs: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    hostile: dict[str, object] = field(default_factory=dict)

    def add(self, where: str, text: str) -> None:
        self.texts.setdefault(where, []).append(text)


@pytest.fixture(scope="module")
def evidence() -> Iterator[Evidence]:
    from crm_membercare.sandbox.customcrm.app import create_app as customcrm_app
    from crm_membercare.sandbox.membercare.app import create_app as membercare_app

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        root = Path(tmp)
        crm_server = serve_in_thread(customcrm_app(root / "customcrm.sqlite", token=CRM_SECRET))
        mc_server = serve_in_thread(membercare_app(root / "membercare.sqlite", api_key=MC_SECRET))
        env = {"CUSTOMCRM_BASE_URL": crm_server.api_url, "CUSTOMCRM_TOKEN": CRM_SECRET,
               "MEMBERCARE_BASE_URL": mc_server.api_url, "MEMBERCARE_API_KEY": MC_SECRET,
               "CRM_MEMBERCARE_DB": str(root / "state.duckdb")}
        for name, value in env.items():
            patch.setenv(name, value)
        found = Evidence(crm_server, mc_server, root / "state.duckdb", env)
        admins = [Admin(crm_server), Admin(mc_server)]
        try:
            for server in (crm_server, mc_server):
                httpx.post(f"{server.root_url}/_sandbox/seed", json={"seed": 11, "scale": SCALE, "overlap": 0.3},
                           timeout=300).raise_for_status()
            _write_hostile_values(found)
            _run_scenario(found, admins)
            yield found
        finally:
            for admin in admins:
                admin.close()
            crm_server.stop()
            mc_server.stop()


def _write_hostile_values(found: Evidence) -> None:
    crm, mc = CrmUser(found.crm_server, CRM_SECRET), McUser(found.mc_server, MC_SECRET)
    found.issued_tokens.add(mc.http.headers["token"])
    contact = crm.create("contacts", {"first_name": HOSTILE, "last_name": SQL_TEXT, "email": HOSTILE_EMAIL,
                                      "street": HOSTILE})
    person = mc.create("persons", {"firstname": HOSTILE, "lastname": SQL_TEXT,
                                   "addresses": [{"street": HOSTILE}]})
    found.hostile = {"contact": contact["id"], "person": person["debtorAccountNumber"]}
    crm.close()
    mc.close()


def _run_scenario(found: Evidence, admins: list[Admin]) -> None:
    collector = Collector()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    try:
        _in_process_cycles(found, admins)
        _failing_cycles(found, admins)
        found.texts["python logging"] = collector.lines
        _cli_runs(found, admins)
        _dagster_run(found)
        found.texts["python logging"] = collector.lines
    finally:
        root.removeHandler(collector)
        root.setLevel(old_level)
    found.state_bytes = b"".join(path.read_bytes() for path in sorted(found.db_path.parent.glob("*.duckdb*"))
                                 if path.is_file())  # the state, its WAL and the analysts' copy


def _in_process_cycles(found: Evidence, admins: list[Admin]) -> None:
    """Credentials from the environment only; faults on for two cycles, then one clean cycle to converge."""
    for admin in admins:
        admin.faults(**FAULTS)
    admins[1].faults(token_ttl_s=1)
    settings = Settings.from_env()
    found.add("settings repr", repr(settings))
    for cycle in range(3):
        if cycle == 2:
            for admin in admins:
                admin.faults(error_rate=0.0, lost_response_rate=0.0)
        with open_state(settings.db_path) as con, settings.customcrm_client() as crm, \
                settings.membercare_client() as mc:
            report = Cycle(SyncEngine(con, crm, mc, progress=lambda message: found.add("progress", message))).run_all()
            found.add("cycle report", repr(report))
            found.issued_tokens.add(mc.auth_headers()["token"])
        time.sleep(1.1)  # past the token lifetime: the next cycle's first call refreshes
    faults = [admin.stats()["faults"] for admin in admins]
    assert sum(f["error"] + f["lost_response"] for f in faults) > 0, "the faults never fired"
    admins[1].faults(token_ttl_s=900)


def _failing_cycles(found: Evidence, admins: list[Admin]) -> None:
    """A cycle that cannot reach CustomCRM, and one with a wrong MemberCare key: their exceptions."""
    settings = Settings.from_env()
    admins[0].faults(error_rate=1.0)
    wrong_key = Settings.from_env({**found.env, "MEMBERCARE_API_KEY": WRONG})
    for label, config in (("every request fails", settings), ("wrong api key", wrong_key)):
        try:
            with open_state(config.db_path) as con, config.customcrm_client() as crm, \
                    config.membercare_client() as mc:
                Cycle(SyncEngine(con, crm, mc)).run_all()
        except SystemApiError as error:
            found.add("exceptions", "".join(traceback.format_exception(error)))
            found.add("exceptions", repr(error) + repr(vars(error)))
        else:
            pytest.fail(f"{label}: the cycle did not fail")
        admins[0].faults(error_rate=0.0)


def _cli(found: Evidence, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "crm_membercare.cli", *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env={**os.environ, **(env or {})})
    found.cli_runs[" ".join(args) + (" (wrong token)" if env else "")] = run
    found.add("cli output", run.stdout + run.stderr)
    return run


def _cli_runs(found: Evidence, admins: list[Admin]) -> None:
    for admin in admins:
        admin.faults(**FAULTS)
    _cli(found, "sync", "--once")
    for admin in admins:
        admin.faults(error_rate=0.0, lost_response_rate=0.0)
    for command in (("status",), ("status", "--json"), ("rejects", "--json", "--all"), ("conflicts", "--json")):
        _cli(found, *command)
    _cli(found, "sync", "--once", env={"CUSTOMCRM_TOKEN": WRONG})


def _dagster_run(found: Evidence) -> None:
    import dagster as dg

    from crm_membercare.defs.assets import assets
    from crm_membercare.defs.checks import checks
    from crm_membercare.defs.resources import resources_from_env

    instance = dg.DagsterInstance.ephemeral()
    resources = resources_from_env()
    found.add("dagster resources", repr(resources))
    result = dg.materialize([*assets, *checks], resources=resources, instance=instance, raise_on_error=False)
    for entry in instance.all_logs(result.run_id):
        found.add("dagster event log", repr(entry))
    for event in result.get_asset_materialization_events():
        found.add("dagster metadata", json.dumps({k: repr(v) for k, v in
                                                  event.materialization.metadata.items()}))
    found.add("dagster run", repr(instance.get_run_by_id(result.run_id)))


# --- credentials ------------------------------------------------------------------------------------------
def _secrets(found: Evidence) -> list[str]:
    return [CRM_SECRET, MC_SECRET, WRONG, *sorted(found.issued_tokens)]


def _leaks(found: Evidence, where: str) -> list[str]:
    texts = found.texts.get(where, [])
    return [f"{secret[:8]}… in {where}: …{text[max(0, text.find(secret) - 120):text.find(secret)]}"
            for secret in _secrets(found) for text in texts if secret in text]


def test_the_scenario_left_evidence_to_search(evidence: Evidence) -> None:
    for where in ("python logging", "exceptions", "cli output", "progress", "cycle report"):
        assert evidence.texts.get(where), f"nothing collected from {where}"
    assert evidence.state_bytes
    assert evidence.issued_tokens


def test_the_state_and_the_analysts_copy_are_readable_by_their_owner_only(evidence: Evidence) -> None:
    files = [path for path in evidence.db_path.parent.glob("*.duckdb*") if path.is_file()]
    assert {evidence.db_path.name, "analytics.duckdb"} <= {path.name for path in files}
    assert {path.name: oct(path.stat().st_mode & 0o777) for path in files if path.stat().st_mode & 0o077} == {}


def test_no_credential_in_python_logs(evidence: Evidence) -> None:
    assert _leaks(evidence, "python logging") == []


def test_no_credential_in_python_logs_besides_httpx_request_lines(evidence: Evidence) -> None:
    """Everything else that logs (our code, Dagster, uvicorn, DuckDB) is clean even at DEBUG."""
    others = [line for line in evidence.texts["python logging"] if not line.startswith("httpx INFO HTTP Request:")]
    assert _leaks(Evidence(evidence.crm_server, evidence.mc_server, evidence.db_path, evidence.env,
                           {"python logging": others}, issued_tokens=evidence.issued_tokens), "python logging") == []


def test_no_credential_in_exceptions_progress_or_reports(evidence: Evidence) -> None:
    leaks = [*_leaks(evidence, "exceptions"), *_leaks(evidence, "progress"), *_leaks(evidence, "cycle report"),
             *_leaks(evidence, "settings repr")]
    assert leaks == []


def test_no_credential_in_cli_output(evidence: Evidence) -> None:
    runs = evidence.cli_runs
    assert runs["sync --once"].returncode == 0, runs["sync --once"].stderr[-2000:]
    assert all(run.returncode == 0 for name, run in runs.items() if not name.endswith("(wrong token)"))
    assert runs["sync --once (wrong token)"].returncode != 0
    assert _leaks(evidence, "cli output") == []


def test_no_credential_in_dagster_run(evidence: Evidence) -> None:
    assert evidence.texts.get("dagster event log"), "the Dagster run left no event log to search"
    leaks = [*_leaks(evidence, "dagster event log"), *_leaks(evidence, "dagster metadata"),
             *_leaks(evidence, "dagster run"), *_leaks(evidence, "dagster resources")]
    assert leaks == []


def test_no_credential_in_the_state_file(evidence: Evidence) -> None:
    found = [secret[:8] for secret in _secrets(evidence) if secret.encode() in evidence.state_bytes]
    assert found == []


def test_no_module_holds_a_credential_of_its_own() -> None:
    """The sandbox defaults are written once, where the sandboxes and `config.Settings` define them."""
    allowed = {"crm_membercare/config.py", "crm_membercare/sandbox/customcrm/app.py",
               "crm_membercare/sandbox/membercare/app.py"}
    holders = {str(path.relative_to(ROOT)) for path in (ROOT / "crm_membercare").rglob("*.py")
               if re.search(r"sandbox-crm-token|sandbox-membercare-key", path.read_text())}
    assert holders <= allowed


# --- the sandboxes refuse ---------------------------------------------------------------------------------
def _crm_calls() -> list[tuple[str, str]]:
    return [call for resource in CRM_RESOURCES for call in
            (("GET", f"/{resource}"), ("GET", f"/{resource}/1"), ("POST", f"/{resource}"),
             ("PATCH", f"/{resource}/1"), ("DELETE", f"/{resource}/1"))]


def _mc_calls() -> list[tuple[str, str]]:
    calls = [call for resource in MC_RESOURCES for call in
             (("GET", f"/{resource}"), ("GET", f"/{resource}/ids"), ("GET", f"/{resource}/1"),
              ("POST", f"/{resource}"), ("PUT", f"/{resource}/1"), ("DELETE", f"/{resource}/1"))]
    return [*calls, ("GET", "/persons/10001"), ("POST", "/invoices/1/credit"), ("GET", "/addresses/countries")]


def test_customcrm_refuses_missing_and_wrong_credentials(evidence: Evidence) -> None:
    before = CrmUser(evidence.crm_server, CRM_SECRET).get("contacts", 1)
    headers = [{}, {"Authorization": f"Bearer {WRONG}"}, {"Authorization": f"Bearer {CRM_SECRET}x"},
               {"Authorization": CRM_SECRET}, {"Authorization": f"Basic {CRM_SECRET}"},
               {"Authorization": "Bearer sandbox-crm-token"}]
    with httpx.Client(base_url=evidence.crm_server.api_url, timeout=30) as http:
        refused = {(method, path, i): http.request(method, path, headers=header, json={}).status_code
                   for method, path in _crm_calls() for i, header in enumerate(headers)}
    assert {key: status for key, status in refused.items() if status != 401} == {}
    after = CrmUser(evidence.crm_server, CRM_SECRET).get("contacts", 1)
    assert after["version"] == before["version"] and not after["archived"]


def test_membercare_refuses_missing_and_wrong_credentials(evidence: Evidence) -> None:
    with httpx.Client(base_url=evidence.mc_server.api_url, timeout=30) as http:
        for key in (None, WRONG, "", MC_SECRET.upper(), "sandbox-membercare-key"):
            params = {} if key is None else {"clientApiKey": key}
            assert http.get("/token", params=params).status_code == 401
        headers = [{}, {"token": WRONG}, {"token": MC_SECRET}, {"token": ""},
                   {"Authorization": f"Bearer {MC_SECRET}"}]
        refused = {(method, path, i): http.request(method, path, headers=header, json={}).status_code
                   for method, path in _mc_calls() for i, header in enumerate(headers)}
    assert {key: status for key, status in refused.items() if status != 401} == {}


def test_membercare_refuses_an_expired_token(evidence: Evidence) -> None:
    admin = Admin(evidence.mc_server)
    try:
        admin.faults(token_ttl_s=1)
        user = McUser(evidence.mc_server, MC_SECRET)
        assert user.http.get("/persons").status_code == 200
        time.sleep(2.1)
        assert user.http.get("/persons").status_code == 401
        user.close()
    finally:
        admin.faults(token_ttl_s=900)
        admin.close()


# --- SQL is parameterised ---------------------------------------------------------------------------------
def test_hostile_text_round_trips_both_ways(evidence: Evidence) -> None:
    crm, mc = CrmUser(evidence.crm_server, CRM_SECRET), McUser(evidence.mc_server, MC_SECRET)
    person = mc.get("persons", _linked(evidence, "crm", evidence.hostile["contact"]))
    contact = crm.get("contacts", _linked(evidence, "membercare", evidence.hostile["person"]))
    assert (person["firstname"], person["lastname"], person["addresses"][0]["street"]) == \
        (HOSTILE, SQL_TEXT, HOSTILE)
    assert {"contactType": "Email", "value": HOSTILE_EMAIL} in person["contacts"]
    assert (contact["first_name"], contact["last_name"], contact["street"]) == (HOSTILE, SQL_TEXT, HOSTILE)


def _linked(found: Evidence, side: str, record_id: object) -> object:
    with open_state(found.db_path, read_only=True) as con:
        column, other = ("crm_id", "mc_id") if side == "crm" else ("mc_id", "crm_id")
        row = con.execute(f"SELECT {other} FROM sync.links WHERE flow = 'contacts_persons' AND {column} = ? "
                          "AND state = 'active'", [str(record_id)]).fetchone()
    assert row is not None, f"{side} {record_id} is not linked"
    return row[0]


def test_every_sync_table_survived(evidence: Evidence) -> None:
    with open_state(evidence.db_path, read_only=True) as con:
        tables = {name for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'sync'").fetchall()}
        assert set(SYNC_TABLES) <= tables
        assert con.execute("SELECT count(*) FROM sync.links").fetchone()[0] > 0


# Expressions the engine interpolates into SQL text, each reviewed: table and column names from the declared
# resources (crm_membercare/resources.py) and the flows, fragments the module builds from those constants, or a
# fixed keyword chosen by a flag.
REVIEWED_INTERPOLATIONS = {
    "schema", "CATALOG", "table.name", "crm_table.name", "mc_table.name", "crm.name", "mc.name", "alias",
    "type_filter",
    "table.id_type", "key", "derived.owner_field", "column", "crm_stamp", "mc_stamp", "wanted",
    "_type_filter(flow, side)", "part_filter(flow, 'm.')", "part_filter(flow)",
    "raw_table(Side.MEMBERCARE, flow.mc_resource).name", "'mc_id' if column == 'crm_id' else 'crm_id'",
    "' (READ_ONLY)' if read_only else ''", "'WHERE open' if open_only else ''", "'LIMIT ?' if limit else ''",
    "typed", "flow.mc_part", "table.schema", "kind",
    "Side.CRM", "Side.MEMBERCARE", "flow.crm_resource", "flow.mc_resource",
    "expected", "where", "mc_type", "restrict",  # qa.py: a scope filter made of `?` placeholders only
    "first", "second", "_derive_sql(table)",  # raw_store.py: SQL built from the declared columns and fixed text
}
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ATTACH|USE|WHERE|FROM|SET|AND|OR|LIMIT)\b")


def _sql_interpolations(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.JoinedStr):
            continue
        text = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
        if not SQL_WORDS.search(text) or text.strip().startswith(("cannot", "MemberCare", "unknown")):
            continue
        found += [(node.lineno, ast.unparse(part.value)) for part in node.values
                  if isinstance(part, ast.FormattedValue)]
    return found


def test_sql_text_is_built_only_from_the_code_s_own_constants() -> None:
    """Values travel as parameters; an f-string may only place reviewed names (a new one fails until reviewed)."""
    unreviewed = [f"{path.name}:{line}: {{{expression}}}"
                  for path in sorted((ROOT / "crm_membercare" / "engine").glob("*.py"))
                  for line, expression in _sql_interpolations(path)
                  if expression not in REVIEWED_INTERPOLATIONS]
    assert unreviewed == []


# --- loopback by default ------------------------------------------------------------------------------------
def test_every_server_binds_to_loopback_by_default() -> None:
    import inspect

    from crm_membercare.cli import build_parser
    from crm_membercare.sandbox.serving import free_port

    assert LOOPBACK == "127.0.0.1"
    sandbox = build_parser().parse_args(["sandbox"])
    assert sandbox.host == LOOPBACK
    assert inspect.signature(serve_in_thread).parameters["host"].default == LOOPBACK
    assert inspect.signature(free_port).parameters["host"].default == LOOPBACK
    help_text = subprocess.run([sys.executable, "-m", "crm_membercare.cli", "sandbox", "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60).stdout
    assert "loopback" in help_text
    assert Settings().customcrm_base_url.startswith("http://127.0.0.1:")
    assert Settings().membercare_base_url.startswith("http://127.0.0.1:")
    demo = ROOT / "crm_membercare" / "demo.py"
    if demo.exists():
        source = demo.read_text()
        assert "0.0.0.0" not in source
        assert re.search(r"127\.0\.0\.1|LOOPBACK", source), "the demo names no host for the Dagster webserver"
