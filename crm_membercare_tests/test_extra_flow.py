"""A seventh flow is one entry: a resource declared on each side and a flow between them, declared here and
nowhere else in the code, synced end to end both ways by `Cycle(SyncEngine(..., flows=FLOWS + (EXTRA,)))`.

CustomCRM `notes` (title, body) ↔ MemberCare `memos` (subject, text). The sandboxes serve the two resources
through their documented extension point (`create_app(extra_resources=...)`); the state file gets their raw
tables from the declarations (`ensure_raw_tables`), with no migration written for them. Expected values are
the literals of the declarations below, never the mapping's output.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from crm_membercare.engine.cycle import Cycle, CycleReport, SyncEngine
from crm_membercare.engine.state import ensure_raw_tables, migrate, open_state, schema_version
from crm_membercare.mapping.flows import FLOWS, Flow, MatchRule
from crm_membercare.mapping.paths import Field
from crm_membercare.mapping.rows import PropertyRow, Simple
from crm_membercare.mapping.transforms import TEXT
from crm_membercare.resources import crm, membercare
from crm_membercare.sandbox.customcrm.app import create_app as customcrm_app
from crm_membercare.sandbox.customcrm.fields import Field as CrmField
from crm_membercare.sandbox.membercare.app import create_app as membercare_app
from crm_membercare.sandbox.membercare.fields import FieldReader
from crm_membercare.sandbox.serving import RunningServer, serve_in_thread
from crm_membercare.systems import CustomCrmClient, MemberCareClient
from crm_membercare_tests.engine_support import CRM_TOKEN, MC_API_KEY

# --- the declarations: all a new flow over new resources takes ---------------------------------------------
NOTES = crm("notes", ("title", "VARCHAR"), ("body", "VARCHAR"), required=("title",))
MEMOS = membercare("memos", "id", "BIGINT", ("subject", "VARCHAR", "subject"), ("text", "VARCHAR", "text"),
                   hard_deleted=True)
EXTRA = Flow(
    name="notes_memos", crm_label="Custom Note", mc_label="MemberCare Memos", crm=NOTES, mc=MEMOS,
    match=MatchRule("title", Field("subject"), "trimmed"), mc_removal="delete",
    rows=(
        PropertyRow("title", ("title",), ("subject",), "string", Simple("title", Field("subject"), TEXT),
                    required=True),
        PropertyRow("body", ("body",), ("text",), "string", Simple("body", Field("text"), TEXT)),
    ),
)
FLOWS_WITH_EXTRA = (*FLOWS, EXTRA)

# --- the sandboxes' side of it: the same two resources, served like the others ---------------------------
CRM_NOTES = {"notes": {"title": CrmField("text", required=True), "body": CrmField("text", nullable=True)}}


def memo_fields(body: dict, lookup) -> dict:
    read = FieldReader()
    fields = {"subject": read.text(body, "subject", required=True), "text": read.text(body, "text"),
              "externalId": read.text(body, "externalId")}
    read.raise_if_failed()
    return fields


@dataclass
class ExtraWorld:
    crm_server: RunningServer
    mc_server: RunningServer
    con: duckdb.DuckDBPyConnection

    def clients(self) -> tuple[CustomCrmClient, MemberCareClient]:
        return CustomCrmClient(self.crm_server.api_url, CRM_TOKEN), MemberCareClient(self.mc_server.api_url, MC_API_KEY)

    def cycle(self) -> CycleReport:
        crm_client, mc_client = self.clients()
        with crm_client, mc_client:
            return Cycle(SyncEngine(self.con, crm_client, mc_client, flows=FLOWS_WITH_EXTRA)).run_all()

    def notes(self) -> dict[str, dict]:
        with self.clients()[0] as client:
            return {r["title"]: r for page in client.iter_changes("notes") for r in page.records}

    def memos(self) -> dict[str, dict]:
        with self.clients()[1] as client:
            return {r["subject"]: r for page in client.iter_changes("memos", id_field="id") for r in page.records}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ExtraWorld]:
    crm_server = serve_in_thread(customcrm_app(tmp_path / "customcrm.sqlite", extra_resources=CRM_NOTES))
    mc_server = serve_in_thread(membercare_app(tmp_path / "membercare.sqlite", extra_resources={"memos": memo_fields}))
    try:
        with open_state(tmp_path / "sync.duckdb") as con:
            yield ExtraWorld(crm_server, mc_server, con)
    finally:
        crm_server.stop()
        mc_server.stop()


def test_an_extra_flow_syncs_creates_and_edits_both_ways(world: ExtraWorld) -> None:
    crm_client, mc_client = world.clients()
    with crm_client, mc_client:
        from_crm = crm_client.create("notes", {"title": "From the CRM", "body": "written in the CRM"})
        from_mc = mc_client.create("memos", {"subject": "From MemberCare", "text": "written in MemberCare"})
        crm_client.create("notes", {"title": "On both sides", "body": None})
        mc_client.create("memos", {"subject": "On both sides", "text": None})

    report = world.cycle()

    assert report.flows[EXTRA.name].created == 2
    memos, notes = world.memos(), world.notes()
    assert set(memos) == set(notes) == {"From the CRM", "From MemberCare", "On both sides"}  # matched, not doubled
    assert memos["From the CRM"]["text"] == "written in the CRM"
    assert notes["From MemberCare"]["body"] == "written in MemberCare"
    links = world.con.execute("SELECT crm_id, mc_id, linked_by FROM sync.links WHERE flow = 'notes_memos' "
                              "AND state = 'active' ORDER BY crm_id").fetchall()
    assert {(crm_id, int(mc_id)) for crm_id, mc_id, _ in links} == {
        (notes[title]["id"], memos[title]["id"]) for title in notes}
    assert sorted(how for _, _, how in links) == ["create", "create", "match"]
    # The raw tables came from the declarations, typed columns filled.
    assert world.con.execute("SELECT body FROM crm.notes WHERE id = ?", [from_crm["id"]]).fetchall() == [
        ("written in the CRM",)]
    assert world.con.execute("SELECT text FROM membercare.memos WHERE id = ?", [from_mc["id"]]).fetchall() == [
        ("written in MemberCare",)]

    crm_client, mc_client = world.clients()
    with crm_client, mc_client:
        crm_client.update("notes", from_crm["id"], {"body": "edited in the CRM"})
        memo = mc_client.get("memos", from_mc["id"])
        mc_client.replace("memos", from_mc["id"], {"subject": memo["subject"], "text": "edited in MemberCare",
                                                   "externalId": memo.get("externalId")})

    report = world.cycle()

    assert report.flows[EXTRA.name].updated == 2
    memos, notes = world.memos(), world.notes()
    assert memos["From the CRM"]["text"] == "edited in the CRM"
    assert notes["From MemberCare"]["body"] == "edited in MemberCare"
    assert {title: note["body"] for title, note in notes.items()} == {
        title: memo["text"] for title, memo in memos.items()}

    report = world.cycle()  # in sync: nothing more to do
    assert report.flows[EXTRA.name].planned == 0


def test_declared_raw_tables_and_columns_are_added_to_an_existing_state(tmp_path: Path) -> None:
    with open_state(tmp_path / "sync.duckdb") as con:
        version = schema_version(con)
        ensure_raw_tables(con, (NOTES,))
        wider = crm("notes", ("title", "VARCHAR"), ("body", "VARCHAR"), ("pinned", "BOOLEAN"))
        ensure_raw_tables(con, (wider,))
        ensure_raw_tables(con, (wider,))  # idempotent
        columns = [row[0] for row in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'crm' AND table_name = 'notes'").fetchall()]
        assert {"id", "title", "body", "pinned", "raw", "gone"} <= set(columns)
        assert migrate(con) == version  # every open runs the step again: nothing to do, nothing broken
    with open_state(tmp_path / "sync.duckdb") as con:
        assert schema_version(con) == version
