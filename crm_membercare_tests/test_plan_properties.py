"""Planning properties (issue 14, item 5): `plan_flow` through the engine's own state, judged by DESIGN C3-C4.

Each example opens a fresh state file (`open_state`: the real DuckDB schema), stores a CustomCRM product and a
MemberCare product in the raw tables as the extract does (`store_records`), and plans them as a cycle does:
`load_flow_input` with a DuckDB-backed `LinkIndex`, `plan_flow`, `save_plan` (links, bases, outbox). Nothing is
mocked; the only thing not run is the writeback, which needs the systems (the end-to-end tests do that).

The records are written here by hand in each API's shape (DESIGN A1, A2), and what agrees is said by the
contract's products table (B4: sku <-> productNumber, vat_rate <-> vatRate, unit pcs/hour/month/year <->
Piece/Hour/Month/Year, the rest by name), never by the project's mapping. Products are the flow with no
references, so every field can change freely.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crm_membercare.engine.links import LinkIndex, merge_bases
from crm_membercare.engine.match_keys import store_records
from crm_membercare.engine.operations import FlowPlan
from crm_membercare.engine.plan import plan_flow
from crm_membercare.engine.raw_schema import raw_table
from crm_membercare.engine.snapshot import load_flow_input, save_plan
from crm_membercare.engine.state import open_state, transaction
from crm_membercare.mapping.countries import CountryTable
from crm_membercare.mapping.flows import FLOWS, flow_by_name
from crm_membercare.mapping.links import MappingContext

PRODUCTS = flow_by_name("products_products")
CRM_ID, MC_ID = 41, 501
UNITS = {"pcs": "Piece", "hour": "Hour", "month": "Month", "year": "Year"}  # DESIGN B4
MC_NAMES = {"sku": "productNumber", "vat_rate": "vatRate"}  # the rest of B4's rows share their name
FIELDS = ("sku", "name", "description", "price", "currency", "vat_rate", "unit", "active")
TEXT_FIELDS = ("sku", "name", "description")  # whose common value is the text itself
OSLO = ZoneInfo("Europe/Oslo")
PROPERTY = settings(max_examples=15, deadline=None)

# --- records in both APIs' shapes ----------------------------------------------------------------------
text = st.text(alphabet="abcxyzÆØÅæøå0123456789-", min_size=1, max_size=8)
FIELD_VALUES = {
    "sku": text, "name": text, "description": st.one_of(st.none(), text),
    "price": st.integers(0, 10**7).map(lambda cents: cents / 100),
    "currency": st.sampled_from(["NOK", "EUR", "SEK"]), "vat_rate": st.sampled_from([0, 12, 12.5, 15, 25]),
    "unit": st.sampled_from(sorted(UNITS)), "active": st.booleans(),
}
product = st.fixed_dictionaries(FIELD_VALUES)
# Instants without a DST change near them: the local rendering names one instant.
instant = st.datetimes(min_value=datetime(2026, 11, 2), max_value=datetime(2027, 2, 1), timezones=st.just(UTC))


def crm_record(values: dict, at: datetime, version: int) -> dict:
    """GET /products/41 as CustomCRM answers, stamped with its MemberCare counterpart."""
    return {"id": CRM_ID, "created_at": "2026-01-05T10:00:00.000Z",
            "updated_at": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
            "version": version, "archived": False, "external_ref": f"membercare:products:{MC_ID}", **values}


def mc_record(values: dict, at: datetime) -> dict:
    """GET /products/501 as MemberCare answers: lastChange is Oslo wall-clock time, whole seconds."""
    body = {MC_NAMES.get(key, key): (UNITS[value] if key == "unit" else value) for key, value in values.items()}
    return {"id": MC_ID, **body, "externalId": f"customcrm:products:{CRM_ID}",
            "lastChange": at.astimezone(OSLO).strftime("%Y-%m-%dT%H:%M:%S")}


def mc_instant(at: datetime) -> datetime:
    """The instant MemberCare's lastChange stands for (second precision)."""
    return at.replace(microsecond=0)


def crm_instant(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


# --- the state --------------------------------------------------------------------------------------------
@dataclass
class State:
    con: duckdb.DuckDBPyConnection

    def store(self, crm: dict | None = None, mc: dict | None = None) -> None:
        """As the extract stores a page: upserted, match keys kept."""
        with transaction(self.con):
            if crm is not None:
                store_records(self.con, raw_table("crm", "products"), [crm], FLOWS)
            if mc is not None:
                store_records(self.con, raw_table("membercare", "products"), [mc], FLOWS)

    def plan(self, dirty_crm: bool = True, dirty_mc: bool = True, policy: str | None = None) -> FlowPlan:
        """One planning step as a cycle runs it, committed."""
        links = LinkIndex(con=self.con, integer_mc_ids=[PRODUCTS.name])
        ctx = MappingContext(links, CountryTable(()))
        dirty = ({CRM_ID} if dirty_crm else set(), {MC_ID} if dirty_mc else set())
        with transaction(self.con):
            given = load_flow_input(self.con, PRODUCTS, links, ctx, dirty=dirty, conflict_policy=policy)
            plan = plan_flow(given)
            save_plan(self.con, plan, given, 1, links, FLOWS)
        return plan

    def links(self) -> list[tuple]:
        return self.con.execute("SELECT crm_id, mc_id, state, linked_by FROM sync.links").fetchall()

    def bases(self) -> list[tuple]:
        return self.con.execute("SELECT CAST(base_crm AS VARCHAR), CAST(base_mc AS VARCHAR) FROM sync.links"
                                ).fetchall()


@contextmanager
def fresh_state() -> Iterator[State]:
    with tempfile.TemporaryDirectory() as tmp, open_state(Path(tmp) / "sync.duckdb") as con:
        yield State(con)


def writes(plan: FlowPlan) -> dict[str, str]:
    """field -> the side it is written to, over the plan's updates."""
    found = {}
    for op in plan.operations:
        assert op.kind == "update", op
        for name in op.fields:
            assert name not in found, f"{name} written both ways"
            found[name] = "membercare" if op.direction == "to_membercare" else "crm"
    return found


def bring_in_sync(state: State, values: dict, at: datetime) -> None:
    """Both records carrying the same values (each in its own shape), linked by their stamps and planned once:
    the state after a sync that agreed, bases stored."""
    state.store(crm_record(values, at, 2), mc_record(values, at))
    first = state.plan()
    assert [(n.crm_id, n.mc_id, n.linked_by) for n in first.new_links] == [(CRM_ID, MC_ID, "external_id")]
    assert not first.operations and not first.conflicts and not first.rejects, first


# --- properties ---------------------------------------------------------------------------------------------
@PROPERTY
@given(values=product, at=instant)
def test_planning_an_agreeing_pair_again_plans_nothing(values, at):
    with fresh_state() as state:
        bring_in_sync(state, values, at)
        links, bases = state.links(), state.bases()
        again = state.plan()
        assert (again.operations, again.new_links, again.conflicts, again.rejects, again.bases) == \
            ([], [], [], [], [])
        assert (state.links(), state.bases()) == (links, bases)


TIE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
AGREED = {"sku": "A-1", "name": "Konsulenttime", "description": None, "price": 1499.5, "currency": "NOK",
          "vat_rate": 25, "unit": "hour", "active": True}


@PROPERTY
@given(crm_values=product, mc_values=product, crm_at=instant, crm_ms=st.sampled_from([None, 0, 400]),
       mc_offset=st.sampled_from([-3600, -1, 0, 1, 3600]), policy=st.sampled_from([None, "crm", "membercare"]))
@example(crm_values=AGREED, mc_values={**AGREED, "name": "Rådgivning"}, crm_at=TIE, crm_ms=0, mc_offset=0,
         policy=None)  # a tie goes to the CRM
def test_a_first_link_writes_every_differing_field_one_way_and_planning_again_plans_nothing_new(
        crm_values, mc_values, crm_at, crm_ms, mc_offset, policy):
    """C3 on first link: every field that differs is written once, a filled value over an empty one, else by
    the policy (newest by updated_at vs lastChange, ties to the CRM). Planned again unchanged: the same
    writes, no new link, no decision taken differently."""
    crm_at = crm_at.replace(microsecond=crm_at.microsecond // 1000 * 1000 if crm_ms is None else crm_ms * 1000)
    mc_at = mc_instant(crm_at + timedelta(seconds=mc_offset))
    with fresh_state() as state:
        state.store(crm_record(crm_values, crm_at, 2), mc_record(mc_values, mc_at))
        first = state.plan(policy=policy)
        newest = "membercare" if mc_at > crm_instant(crm_at) else "crm"
        winner_by_policy = policy or newest
        expected = {}
        for name in FIELDS:
            if crm_values[name] == mc_values[name]:
                continue
            if crm_values[name] is None or mc_values[name] is None:
                winner = "crm" if mc_values[name] is None else "membercare"
            else:
                winner = winner_by_policy
            expected[name] = "membercare" if winner == "crm" else "crm"  # written to the loser
        assert writes(first) == expected
        assert {c.conflict.field: c.conflict.winner for c in first.conflicts} == {
            name: winner_by_policy for name in expected
            if crm_values[name] is not None and mc_values[name] is not None}
        for op in first.operations:
            source = crm_values if op.direction == "to_membercare" else mc_values
            for name in set(op.fields) & set(TEXT_FIELDS):
                assert op.values[name] == source[name]

        again = state.plan(policy=policy)
        assert again.new_links == [] and again.rejects == []
        assert sorted(_op_key(op) for op in again.operations) == sorted(_op_key(op) for op in first.operations)
        assert [(c.conflict.field, c.conflict.winner) for c in again.conflicts] == \
            [(c.conflict.field, c.conflict.winner) for c in first.conflicts]


def _op_key(op) -> tuple:
    return op.direction, op.kind, op.fields, tuple(sorted((k, str(v)) for k, v in op.values.items()))


@st.composite
def one_change(draw):
    """An agreed product, one field and side, and a new value for it that the contract calls different."""
    values = draw(product)
    name = draw(st.sampled_from(FIELDS))
    new = draw(FIELD_VALUES[name].filter(lambda v: v != values[name]))
    return values, name, new, draw(st.sampled_from(["crm", "membercare"]))


@PROPERTY
@given(case=one_change(), at=instant, later=st.integers(1, 86400))
def test_a_change_on_one_side_plans_exactly_that_field_to_the_other_side(case, at, later):
    values, name, new, side = case
    changed = {**values, name: new}
    edited_at = at + timedelta(seconds=later)
    with fresh_state() as state:
        bring_in_sync(state, values, at)
        if side == "crm":
            state.store(crm=crm_record(changed, edited_at, 3))
        else:
            state.store(mc=mc_record(changed, edited_at))
        plan = state.plan(dirty_crm=side == "crm", dirty_mc=side == "membercare")
        target = "membercare" if side == "crm" else "crm"
        assert writes(plan) == {name: target}
        assert len(plan.operations) == 1 and not plan.conflicts and not plan.new_links and not plan.rejects
        if name in TEXT_FIELDS:
            assert plan.operations[0].values[name] == new


@PROPERTY
@given(values=product, at=instant, name=st.sampled_from(FIELDS), later=st.integers(1, 86400))
def test_the_echo_of_our_own_write_plans_nothing(values, at, name, later):
    """C4: the CRM changes a field; the sync writes it to MemberCare, whose answer carries it (new lastChange),
    and the link's bases become that value (as the writeback stores them: the written fields' values as
    planned). Reading MemberCare's record back, and the CRM's again, plans nothing; and since the bases moved,
    a later MemberCare edit back to the old value is a change of its own."""
    new = _different(name, values[name])
    changed = {**values, name: new}
    edited_at, written_at = at + timedelta(seconds=later), at + timedelta(seconds=later + 5)
    with fresh_state() as state:
        bring_in_sync(state, values, at)
        state.store(crm=crm_record(changed, edited_at, 3))
        plan = state.plan(dirty_crm=True, dirty_mc=False)
        assert writes(plan) == {name: "membercare"}
        op = plan.operations[0]
        # The write lands: MemberCare returns the record with the new value; the written fields are agreed.
        state.store(mc=mc_record(changed, written_at))
        link = LinkIndex(con=state.con, integer_mc_ids=[PRODUCTS.name]).pair(PRODUCTS.name, CRM_ID, MC_ID)
        agreed_now = {field: op.crm_values[field] for field in op.fields}
        with transaction(state.con):
            merge_bases(state.con, [(link, agreed_now, agreed_now)])
        echo = state.plan()
        assert (echo.operations, echo.conflicts, echo.rejects, echo.new_links) == ([], [], [], [])
        # The base moved with the write: a MemberCare edit back to the old value is a change, and propagates.
        state.store(mc=mc_record(values, written_at + timedelta(seconds=5)))
        assert writes(state.plan(dirty_crm=False)) == {name: "crm"}


def _different(name: str, value):
    """A value of the field that the contract calls different from `value` (deterministic)."""
    alternatives = {
        "sku": "sku-other", "name": "name-other", "description": "description-other",
        "price": 12345.67, "currency": "EUR", "vat_rate": 15, "unit": "year", "active": not value,
    }
    fallback = {"sku": "sku-second", "name": "name-second", "description": None, "price": 0.01, "currency": "SEK",
                "vat_rate": 25, "unit": "pcs", "active": not value}
    return alternatives[name] if alternatives[name] != value else fallback[name]


@PROPERTY
@given(values=product, at=instant, name=st.sampled_from(FIELDS[:-1]), crm_later=st.integers(1, 7200),
       mc_offset=st.sampled_from([-3600, -2, -1, 0, 1, 3600]), policy=st.sampled_from([None, "crm", "membercare"]),
       crm_ms=st.sampled_from([0, 400]))
@example(values=AGREED, at=TIE, name="name", crm_later=60, mc_offset=0, policy=None, crm_ms=0)  # a tie: the CRM
@example(values=AGREED, at=TIE, name="price", crm_later=60, mc_offset=1, policy=None, crm_ms=400)  # MemberCare
def test_a_field_changed_on_both_sides_is_a_conflict_won_by_the_policy_and_the_clock(
        values, at, name, crm_later, mc_offset, policy, crm_ms):
    """C3 after the first link: changed on both sides to different filled values, the policy decides; newest
    compares the CRM's updated_at with MemberCare's lastChange, either order, a tie to the CRM. (Not `active`:
    a boolean has no two different new values.)"""
    crm_new = _different(name, values[name])
    mc_new = next(v for v in {"sku": ("sku-mc", "sku-mc2"), "name": ("name-mc", "name-mc2"),
                              "description": ("description-mc", "description-mc2"), "price": (1.5, 2.5),
                              "currency": ("NOK", "SEK", "EUR"), "vat_rate": (0, 12, 25),
                              "unit": ("hour", "month", "pcs")}[name] if v not in (crm_new, values[name]))
    crm_at = at.replace(microsecond=0) + timedelta(seconds=crm_later, milliseconds=crm_ms)
    mc_at = crm_at.replace(microsecond=0) + timedelta(seconds=mc_offset)
    with fresh_state() as state:
        bring_in_sync(state, values, at)
        state.store(crm_record({**values, name: crm_new}, crm_at, 3), mc_record({**values, name: mc_new}, mc_at))
        plan = state.plan(policy=policy)
        if crm_new is None or mc_new is None:
            winner = "membercare" if crm_new is None else "crm"  # a filled value beats an empty one
        else:
            winner = policy or ("membercare" if mc_at > crm_at else "crm")
        assert writes(plan) == {name: "crm" if winner == "membercare" else "membercare"}
        assert [(c.conflict.field, c.conflict.winner) for c in plan.conflicts] == [(name, winner)]
