"""Planning a derived flow (B6: users ↔ the invoices of the orders and quotes they own).

Its links are not matched or created: they follow from the links of the flows it derives through and each
CRM record's owner. Every cycle the expected pairs are computed in one query; pairs that appeared, pairs
touched by a changed user or invoice, and pairs whose owner changed are planned; pairs no longer expected
are ended. The rows flow to MemberCare; an edit of the owner path in MemberCare (`ourReferenceEmail`) moves
the order or quote to the CRM user with that key instead, or is a reject when no user has it; so does the key
on the invoice of an order or quote that has no owner (one created from MemberCare, or never owned).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from crm_membercare.engine.cursors import get_cursor, set_cursor
from crm_membercare.engine.links import LinkIndex, load_bases
from crm_membercare.engine.operations import (
    MC_SIDE,
    TO_CRM,
    TO_MEMBERCARE,
    UPDATE,
    FlowPlan,
    NewLink,
    Operation,
    Record,
    Reject,
)
from crm_membercare.engine.plan import FlowInput
from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.engine.snapshot import dirty_ids, load_records, mc_id_of
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.canonical import base_value, base_values, fields_agree
from crm_membercare.mapping.convert import crm_to_common, mc_to_common
from crm_membercare.mapping.flows import Flow
from crm_membercare.mapping.links import MappingContext
from crm_membercare.mapping.problems import MappingError

Through = Mapping[str, RawTable]  # a derived flow's through flows, by name: the CRM table of each


def through_tables(flow: Flow, flows: Iterable[Flow]) -> Through:
    """The CRM raw table of each flow `flow` derives its links through, found among `flows` (the engine's)."""
    by_name = {f.name: f for f in flows}
    missing = [name for name in flow.derived.through if name not in by_name]
    if missing:
        raise KeyError(f"flow {flow.name} derives through {', '.join(missing)}, not among the engine's flows")
    return {name: by_name[name].crm for name in flow.derived.through}


def _expected_sql(flow: Flow, through: Through) -> tuple[str, list]:
    """(owner crm id, mc id as text, through flow, owned crm id) of every expected pair: a query, its values."""
    derived = flow.derived
    parts, params = [], []
    for through_name, table in through.items():
        parts.append(
            f"""SELECT t.{derived.owner_field} AS crm_id, l.mc_id, l.flow AS through, l.crm_id AS owned
                FROM sync.links l JOIN {table.name} t ON t.id = l.crm_id
                WHERE l.flow = ? AND l.state = 'active' AND t.{derived.owner_field} IS NOT NULL""")
        params.append(through_name)
    return " UNION ALL ".join(parts), params


def expected_pairs(con: duckdb.DuckDBPyConnection, flow: Flow,
                   flows: Iterable[Flow]) -> dict[tuple[int, Any], tuple[str, int]]:
    """(owner crm id, mc id) -> (through flow, owned crm id), over the through flows' active links."""
    expected, params = _expected_sql(flow, through_tables(flow, flows))
    rows = con.execute(expected, params).fetchall()
    return {(int(owner), mc_id_of(flow, mc_id)): (through, int(owned)) for owner, mc_id, through, owned in rows}


def _differences(con: duckdb.DuckDBPyConnection, flow: Flow, through: Through) -> tuple[list, list]:
    """The pairs to plan and the links to end, found in DuckDB so the work follows the change.

    To plan: expected pairs not linked yet, and those of a dirty user or invoice. To end: active links no
    longer expected (an order's owner changed, its invoice link ended).
    """
    expected, params = _expected_sql(flow, through)
    todo = con.execute(
        f"""WITH expected AS ({expected}),
                 existing AS (SELECT crm_id, mc_id FROM sync.links WHERE flow = ? AND state = 'active')
            SELECT e.crm_id, e.mc_id, e.through, e.owned, x.crm_id IS NOT NULL AS linked
            FROM expected e LEFT JOIN existing x ON x.crm_id = e.crm_id AND x.mc_id = e.mc_id
            WHERE x.crm_id IS NULL
               OR CAST(e.crm_id AS VARCHAR) IN (SELECT record_id FROM sync.dirty WHERE flow = ? AND side = ?)
               OR e.mc_id IN (SELECT record_id FROM sync.dirty WHERE flow = ? AND side = ?)""",
        [*params, flow.name, flow.name, Side.CRM, flow.name, Side.MEMBERCARE],
    ).fetchall()
    gone = con.execute(
        f"""WITH expected AS ({expected})
            SELECT x.crm_id, x.mc_id FROM sync.links x
            WHERE x.flow = ? AND x.state = 'active'
              AND NOT EXISTS (SELECT 1 FROM expected e WHERE e.crm_id = x.crm_id AND e.mc_id = x.mc_id)""",
        [*params, flow.name],
    ).fetchall()
    return todo, gone


@dataclass
class DerivedInput:
    """What planning one chunk of a derived flow needs, read before it runs: plain data, no connection."""

    flow: Flow
    ctx: MappingContext
    pairs: list  # (owner crm id, mc id, through flow, owned crm id, linked already) to plan
    users: dict[int, Record]
    invoices: dict[Any, Record]
    bases: dict  # (crm id, mc id as text) -> (base_crm, base_mc) of the pairs linked already
    by_key: dict[str, list[int]]  # a user's owner key (lower-case) -> the live CRM users with it
    through: Mapping[str, str] = field(default_factory=dict)  # through flow -> the CRM resource it pairs
    no_longer_expected: list = field(default_factory=list)  # (crm id, mc id) of links to end
    unowned: list = field(default_factory=list)  # (through flow, owned crm id, mc id, owner key), see below


@dataclass
class DerivedPlanning:
    """A derived flow's planning this cycle: its chunks, and the instant to record once all are saved
    (`record_planned`), so a cycle stopped half-way plans the flow whole again."""

    started: datetime
    chunks: Iterator[tuple[FlowPlan, FlowInput]]


def plan_derived_flow(
    con: duckdb.DuckDBPyConnection, flow: Flow, links: LinkIndex, ctx: MappingContext, *, chunk: int = 5000,
    flows: Iterable[Flow],
) -> DerivedPlanning | None:
    """The flow's plan in chunks of at most `chunk` pairs, each to be saved before the next is made; None when
    nothing it derives from changed since it was last planned whole. The dirty marks go with the last chunk.
    `flows`: the engine's, among which the flows it derives through are found."""
    through = through_tables(flow, flows)
    since = _planned_at(con, flow)
    started = con.execute("SELECT now()").fetchall()[0][0]
    if since is not None and not _changed_since(con, flow, since, through):
        return None
    return DerivedPlanning(started, _chunks(con, flow, links, ctx, chunk, since, through))


def record_planned(con: duckdb.DuckDBPyConnection, flow: Flow, started: datetime) -> None:
    """Every chunk of the planning that began at `started` is saved: later changes are what the next one plans."""
    set_cursor(con, *_watermark_key(flow), started.isoformat())


def _chunks(con: duckdb.DuckDBPyConnection, flow: Flow, links: LinkIndex, ctx: MappingContext, chunk: int,
            since: datetime | None, through: Through) -> Iterator[tuple[FlowPlan, FlowInput]]:
    rows, gone = _differences(con, flow, through)
    owner_key_row = _owner_key_row(flow)
    unowned = _unowned_with_owner_key(con, flow, owner_key_row.key, since, through)
    dirty_crm, dirty_mc = dirty_ids(con, flow)
    by_key = _users_by_key(con, flow) if rows or unowned else {}
    view = links.view()
    starts = range(0, max(len(rows), 1), chunk)
    for start in starts:
        part = rows[start:start + chunk]
        given = _load_chunk(con, flow, MappingContext(view, ctx.countries), part, by_key)
        given.through = {name: table.resource for name, table in through.items()}
        if start == 0:
            given.no_longer_expected, given.unowned = gone, unowned
        last = start == starts[-1]
        yield plan_derived(given), FlowInput(flow, {}, {}, dirty_crm if last else set(),
                                             dirty_mc if last else set(), view, given.ctx)


def _load_chunk(con: duckdb.DuckDBPyConnection, flow: Flow, ctx: MappingContext, rows: list,
                by_key: dict[str, list[int]]) -> DerivedInput:
    pairs = [(int(owner), mc_id_of(flow, mc_id), through, int(owned), linked)
             for owner, mc_id, through, owned, linked in rows]
    users = load_records(con, flow.crm, sorted({p[0] for p in pairs}))
    invoices = load_records(con, flow.mc, sorted({p[1] for p in pairs}))
    bases = load_bases(con, flow.name, [(p[0], p[1]) for p in pairs if p[4]])
    return DerivedInput(flow, ctx, pairs, users, invoices, bases, by_key)


def _owner_key_row(flow: Flow) -> Any:
    return next(row for row in flow.rows if flow.derived.mc_owner_path in row.mc_paths)


def plan_derived(given: DerivedInput) -> FlowPlan:
    """One chunk's plan, from its input alone (no I/O): links to end, owners named by invoices, the pairs."""
    flow, plan = given.flow, FlowPlan(given.flow.name)
    for crm_id, mc_id in given.no_longer_expected:
        plan.ended_links.append((int(crm_id), mc_id_of(flow, mc_id), "owner or order link changed"))
    for through, owned, mc_id, key in given.unowned:
        # A key naming one CRM user gives the owner; one naming nobody (or several) is a reject on the
        # invoice, looked at again every cycle until the key is fixed or cleared or the user appears.
        if key:
            _move_owner(plan, given, (None, mc_id_of(flow, mc_id)), (through, int(owned)), key)
        else:
            plan.settled.append((MC_SIDE, mc_id_of(flow, mc_id), (flow.derived.mc_owner_path,)))
    _plan_pairs(given, plan, _owner_key_row(flow))
    return plan


def owned_changed_since_planned(con: duckdb.DuckDBPyConnection, flow: Flow,
                                flows: Iterable[Flow]) -> set[tuple[str, int]] | None:
    """(through flow, owned crm id) of the orders and quotes changed since the flow was last planned whole —
    an owner the flow itself gave from an invoice's key is one: its pair is planned by the next cycle. None
    when the flow was never planned whole (then every pair is still to plan)."""
    since = _planned_at(con, flow)
    if since is None:
        return None
    changed: set[tuple[str, int]] = set()
    for through_name, table in through_tables(flow, flows).items():
        rows = con.execute(f"SELECT id FROM {table.name} WHERE extracted_at >= ?", [since]).fetchall()
        changed |= {(through_name, int(owned)) for (owned,) in rows}
    return changed


# When the derived flow was last planned whole, kept as a cursor of the sync itself.
def _watermark_key(flow: Flow) -> list:
    return ["sync", f"derived:{flow.name}"]


def _planned_at(con: duckdb.DuckDBPyConnection, flow: Flow) -> datetime | None:
    cursor = get_cursor(con, *_watermark_key(flow))
    return datetime.fromisoformat(cursor) if cursor else None


def _changed_since(con: duckdb.DuckDBPyConnection, flow: Flow, since: datetime, through: Through) -> bool:
    """Whether a user or invoice waits (dirty), or an order or quote, or a link of theirs, changed since
    `since` (every write stamps its transaction's time; the sync is the one writer, so times only grow)."""
    if con.execute("SELECT count(*) FROM sync.dirty WHERE flow = ?", [flow.name]).fetchall()[0][0]:
        return True
    for through_name, table in through.items():
        changed = con.execute(
            f"""SELECT (SELECT max(extracted_at) FROM {table.name}) >= ?
                    OR (SELECT max(updated_at) FROM sync.links WHERE flow = ?) >= ?""",
            [since, through_name, since]).fetchall()[0][0]
        if changed:
            return True
    return False


def _plan_pairs(given: DerivedInput, plan: FlowPlan, owner_key_row: Any) -> None:
    flow, ctx = given.flow, given.ctx
    expected = {(owner, mc_id): (through, owned) for owner, mc_id, through, owned, _ in given.pairs}
    linked = {(owner, mc_id) for owner, mc_id, _, _, is_linked in given.pairs if is_linked}
    todo, users, invoices, bases = list(expected), given.users, given.invoices, given.bases
    for pair in todo:
        user, invoice = users.get(pair[0]), invoices.get(pair[1])
        if user is None or invoice is None or invoice.gone:
            continue
        if pair not in linked:
            plan.new_links.append(NewLink(flow.name, pair[0], pair[1], "derived"))
        try:
            crm_values = crm_to_common(flow, user.raw, ctx)
            mc_values = mc_to_common(flow, invoice.raw, ctx)
        except MappingError as error:
            plan.rejects.append(Reject(flow.name, MC_SIDE, pair[1], "", str(error)))
            continue
        base_mc = bases.get((pair[0], str(pair[1])), (None, None))[1]
        to_mc, moved = [], False
        for row in flow.rows:
            c, m = crm_values.get(row.key), mc_values.get(row.key)
            if fields_agree(flow, row.key, c, m):
                continue
            # An edit in MemberCare is a change from the value both sides last agreed. With no agreed value
            # (a base without the field) there is nothing to have edited: the CRM, this row's source, is
            # written (B6), rather than the old value read as a key naming nobody.
            mc_edited = base_mc is not None and row.key in base_mc and base_value(row, m) != base_mc[row.key]
            if row is owner_key_row and mc_edited:
                moved = True
                _move_owner(plan, given, pair, expected[pair], m)
            else:
                to_mc.append(row.key)
        if to_mc and not moved:
            plan.operations.append(Operation(
                flow.name, TO_MEMBERCARE, UPDATE, flow.mc_resource, pair[0], pair[1], crm_values, tuple(to_mc),
                based_on=invoice.marker, crm_values=base_values(flow, crm_values),
                mc_values=base_values(flow, mc_values)))
        agreed = {k for k in flow.keys if k not in to_mc}
        if not moved:
            plan.bases.append((pair[0], pair[1],
                               {k: v for k, v in base_values(flow, crm_values).items() if k in agreed},
                               {k: v for k, v in base_values(flow, mc_values).items() if k in agreed}))


def _unowned_with_owner_key(con: duckdb.DuckDBPyConnection, flow: Flow, key_row: str,
                            since: datetime | None, through: Through) -> list[tuple[str, int, str, str]]:
    """(through flow, owned crm id, mc id as text, owner key) of linked records with no owner whose MemberCare
    record names one (B6: an invoice made in MemberCare, or given an `ourReferenceEmail` there), among those
    whose MemberCare record changed or whose link appeared since the flow was last planned whole; and of
    those with an open reject on the key whatever changed (the key may be fixed, cleared — then it is None
    or empty — or its user may have appeared). The SQL is built from the flow's constants and raw table
    names only.

    A key the sync itself wrote for an owner since cleared in the CRM (it equals the key the ended link's
    base holds) names nobody new: the CRM's clear stands."""
    derived = flow.derived
    mc_table = flow.mc
    mc_type = mc_table.id_type
    column = next(name for name, _, path in mc_table.columns if path == derived.mc_owner_path)
    parts, params = [], []
    for through_name, table in through.items():
        parts.append(
            f"""SELECT l.flow, l.crm_id, l.mc_id, trim(m.{column})
                FROM sync.links l JOIN {table.name} t ON t.id = l.crm_id
                JOIN {mc_table.name} m ON m.id = TRY_CAST(l.mc_id AS {mc_type})
                WHERE l.flow = ? AND l.state = 'active' AND t.{derived.owner_field} IS NULL AND t.gone IS NULL
                  AND m.gone IS NULL
                  AND (l.mc_id IN (SELECT record_id FROM sync.rejects
                                   WHERE open AND flow = ? AND side = ? AND field = ?)
                       OR (coalesce(trim(m.{column}), '') <> ''
                           AND (CAST(? AS TIMESTAMPTZ) IS NULL OR l.updated_at >= ?
                                OR l.mc_id IN (SELECT record_id FROM sync.dirty WHERE flow = ? AND side = ?))
                           AND NOT EXISTS (
                               SELECT 1 FROM sync.links u
                               WHERE u.flow = ? AND u.mc_id = l.mc_id AND u.state = 'ended'
                                 AND lower(json_extract_string(u.base_mc, '$.' || ?)) = lower(trim(m.{column})))))""")
        params += [through_name, flow.name, MC_SIDE, derived.mc_owner_path,
                   since, since, flow.name, Side.MEMBERCARE, flow.name, key_row]
    rows = con.execute(" UNION ALL ".join(parts), params).fetchall()
    return [(through, int(owned), mc_id, key or "") for through, owned, mc_id, key in rows]


def _users_by_key(con: duckdb.DuckDBPyConnection, flow: Flow) -> dict[str, list[int]]:
    table = flow.crm
    key = flow.derived.crm_owner_key
    rows = con.execute(f"SELECT id, lower(trim({key})) FROM {table.name} WHERE gone IS NULL AND {key} IS NOT NULL")
    found: dict[str, list[int]] = {}
    for user_id, value in rows.fetchall():
        found.setdefault(value, []).append(user_id)
    return found


def _move_owner(plan: FlowPlan, given: DerivedInput, pair: tuple, owned: tuple[str, int], value: Any) -> None:
    flow, resource = given.flow, given.through[owned[0]]
    candidates = given.by_key.get(str(value or "").strip().lower(), [])
    if len(candidates) != 1:
        key = flow.derived.crm_owner_key
        found = (f"no CRM user has {key} {value!r}" if not candidates
                 else f"several CRM users have {key} {value!r}")
        kept = "stays without an owner" if pair[0] is None else "keeps its owner"
        reason = (f"{found}: invoice {pair[1]}'s {flow.derived.mc_owner_path} names no single CRM user to own "
                  f"{resource[:-1]} {owned[1]}, which {kept}")
        plan.rejects.append(Reject(flow.name, MC_SIDE, pair[1], flow.derived.mc_owner_path, reason, value))
        return
    plan.settled.append((MC_SIDE, pair[1], (flow.derived.mc_owner_path,)))
    plan.operations.append(Operation(
        flow.name, TO_CRM, UPDATE, resource, owned[1], pair[1],
        {flow.derived.owner_field: candidates[0]}, ()))

