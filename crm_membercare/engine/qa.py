"""The QA checklist of DESIGN Part C as queries: reads over the state file and the mapping.

Each function answers one question about one flow and returns the offending record ids, so a caller (the
Dagster asset checks) can name *which* records fail, not just that something did. A finding is
"explained" when the state already accounts for it: an open reject, an ambiguous match, or work still in
flight (an open outbox operation, or a record marked dirty and not yet planned).

The record-by-record questions take a `Scope`: every record (a full sweep), or the records one cycle
touched plus those found failing before (`touched`), so a sensor's run can evaluate the checklist in the
time of an edit while a failure stays reported until it is fixed (`remember` keeps what failed).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb

from crm_membercare.engine.derived import expected_pairs, owned_changed_since_planned
from crm_membercare.engine.links import load_links
from crm_membercare.engine.operations import CREATE, CRM_SIDE, DIRECTIONS, MC_SIDE, TO_CRM, TO_MEMBERCARE
from crm_membercare.engine.outbox import pending
from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.engine.snapshot import part_filter
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.canonical import disagreeing_fields
from crm_membercare.mapping.convert import crm_to_common, mc_to_common
from crm_membercare.mapping.countries import CountryTable
from crm_membercare.mapping.flows import FLOWS, Flow
from crm_membercare.mapping.links import MappingContext
from crm_membercare.mapping.problems import MappingError, UnresolvedReference
from crm_membercare.mapping.validation import problems_for_crm, problems_for_membercare, validate_for_membercare

OPEN = ("pending", "held", "waiting")


@dataclass(frozen=True)
class Finding:
    """What one QA question found: offending ids, ids the state explains (by reason), and how many were looked at."""

    checked: int
    failing: tuple[str, ...] = ()
    explained: dict[str, tuple[str, ...]] = field(default_factory=dict)
    details: tuple[str, ...] = ()  # one readable line per failing item, same order as `failing`
    explained_details: tuple[str, ...] = ()  # one line per explained item that has more to say than its id
    scope: str = "full sweep"

    @property
    def passed(self) -> bool:
        return not self.failing


@dataclass(frozen=True)
class Scope:
    """The records an evaluation looks at: those a cycle touched and those that failed before."""

    crm_ids: tuple[int, ...]
    mc_ids: tuple[str, ...]
    cycle_id: int

    def describe(self) -> str:
        return (f"incremental: cycle {self.cycle_id}, {len(self.crm_ids)} CRM and {len(self.mc_ids)} MemberCare "
                f"records (touched, failing before, or with an open reject)")


def touched(con: duckdb.DuckDBPyConnection, flow: Flow, cycle_id: int) -> Scope:
    """The flow's records this cycle touched: extracted (stored changed), linked or re-based, or with an
    outbox row written; the records this flow's checks found failing last time; and those with an open
    reject (a WARN stays shown while the reject is open)."""
    started = con.execute("SELECT started_at FROM sync.cycles WHERE id = ?", [cycle_id]).fetchall()[0][0]
    crm, mc = _side_table(flow, CRM_SIDE), _side_table(flow, MC_SIDE)
    crm_ids = {int(r[0]) for r in con.execute(
        f"""SELECT id FROM {crm.name} WHERE extracted_at >= ?
            UNION SELECT crm_id FROM sync.links WHERE flow = ? AND updated_at >= ?
            UNION SELECT crm_id FROM sync.outbox WHERE flow = ? AND updated_at >= ? AND crm_id IS NOT NULL
            UNION SELECT CAST(crm_id AS BIGINT) FROM sync.qa_failing WHERE flow = ? AND crm_id IS NOT NULL
            UNION SELECT TRY_CAST(record_id AS BIGINT) FROM sync.rejects
                  WHERE flow = ? AND side = ? AND open AND TRY_CAST(record_id AS BIGINT) IS NOT NULL""",
        [started, flow.name, started, flow.name, started, flow.name, flow.name, CRM_SIDE]).fetchall()}
    mc_ids = {str(r[0]) for r in con.execute(
        f"""SELECT CAST(id AS VARCHAR) FROM {mc.name} WHERE extracted_at >= ?
            UNION SELECT mc_id FROM sync.links WHERE flow = ? AND updated_at >= ?
            UNION SELECT mc_id FROM sync.outbox WHERE flow = ? AND updated_at >= ? AND mc_id IS NOT NULL
            UNION SELECT mc_id FROM sync.qa_failing WHERE flow = ? AND mc_id IS NOT NULL
            UNION SELECT record_id FROM sync.rejects WHERE flow = ? AND side = ? AND open""",
        [started, flow.name, started, flow.name, started, flow.name, flow.name, MC_SIDE]).fetchall()}
    return Scope(tuple(sorted(crm_ids)), tuple(sorted(mc_ids)), cycle_id)


def remember(con: duckdb.DuckDBPyConnection, flow: Flow, check_name: str, finding: Finding, cycle_id: int,
             side: str | None = None) -> None:
    """Keep what a check found failing, for the next scope: pairs ("crm:mc"), or records of `side`."""
    con.execute("DELETE FROM sync.qa_failing WHERE flow = ? AND check_name = ?", [flow.name, check_name])
    rows = []
    for item in finding.failing:
        if side is None or ":" in item:  # a derived flow's coverage names pairs too
            crm_id, _, mc_id = item.partition(":")
        else:
            crm_id, mc_id = (item, None) if side == CRM_SIDE else (None, item)
        rows.append([flow.name, check_name, crm_id, mc_id, cycle_id])
    if rows:
        con.executemany("INSERT INTO sync.qa_failing (flow, check_name, crm_id, mc_id, cycle_id) "
                        "VALUES (?, ?, ?, ?, ?)", rows)


def _pair_filter(scope: Scope | None, alias: str = "l") -> tuple[str, list]:
    """SQL restricting links to the scope: either record touched."""
    if scope is None:
        return "", []
    return (f" AND ({alias}.crm_id IN (SELECT unnest(?)) OR {alias}.mc_id IN (SELECT unnest(?)))",
            [list(scope.crm_ids), list(scope.mc_ids)])


def _scoped(finding: Finding, scope: Scope | None) -> Finding:
    return finding if scope is None else replace(finding, scope=scope.describe())


def _side_table(flow: Flow, side: str) -> RawTable:
    return flow.crm if side == CRM_SIDE else flow.mc


def _type_filter(flow: Flow, side: str) -> str:
    return part_filter(flow) if side == MC_SIDE else ""


def _ids(con: duckdb.DuckDBPyConnection, query: str, params: list) -> set[str]:
    return {str(row[0]) for row in con.execute(query, params).fetchall()}


def integer_mc_flows(flows: tuple[Flow, ...] = FLOWS) -> list[str]:
    return [f.name for f in flows if f.mc.integer_ids]


def context(con: duckdb.DuckDBPyConnection, countries: CountryTable,
            flows: tuple[Flow, ...] = FLOWS) -> MappingContext:
    """A mapping context over the links of `flows` as stored now (active and ended)."""
    return MappingContext(load_links(con, integer_mc_ids=integer_mc_flows(flows)), countries)


# --- coverage, one-to-one, dangling ---------------------------------------------------------------------

def linked_coverage(con: duckdb.DuckDBPyConnection, flow: Flow, side: str, scope: Scope | None = None,
                    flows: tuple[Flow, ...] = FLOWS) -> Finding:
    """Every live record on `side` is linked (active or ended), or the state explains why not. (`flows`: the
    engine's, among which a derived flow's through flows are.)"""
    if flow.derived is not None:
        return _derived_coverage(con, flow, flows) if side == CRM_SIDE else Finding(0)
    table = _side_table(flow, side)
    column = "crm_id" if side == CRM_SIDE else "mc_id"
    restrict, params = "", []
    if scope is not None:
        restrict = " AND id IN (SELECT unnest(?))"
        params = [list(scope.crm_ids) if side == CRM_SIDE else [_typed_id(table, i) for i in scope.mc_ids]]
    live = _ids(con, f"SELECT id FROM {table.name} WHERE gone IS NULL{_type_filter(flow, side)}{restrict}", params)
    linked = _ids(con, f"SELECT {column} FROM sync.links WHERE flow = ?", [flow.name])
    unlinked = live - linked
    system = Side(side)
    direction = TO_MEMBERCARE if side == CRM_SIDE else TO_CRM
    reasons = {
        "open reject": _ids(con, "SELECT record_id FROM sync.rejects WHERE flow = ? AND side = ? AND open",
                            [flow.name, side]),
        "ambiguous match": _ids(con, "SELECT record_id FROM sync.ambiguous WHERE flow = ? AND side = ?",
                                [flow.name, side]),
        "create in outbox": _ids(con, f"""SELECT {column} FROM sync.outbox WHERE flow = ? AND direction = ?
                                          AND operation = ? AND status IN (SELECT unnest(?))""",
                                 [flow.name, direction, CREATE, list(OPEN)]),
        "not planned yet": _ids(con, "SELECT record_id FROM sync.dirty WHERE flow = ? AND side = ?",
                                [flow.name, system]),
    }
    return _scoped(_split(len(live), unlinked, reasons), scope)


def _typed_id(table: RawTable, mc_id: str):
    return int(mc_id) if table.id_type == "BIGINT" and mc_id.isdigit() else mc_id


def _derived_coverage(con: duckdb.DuckDBPyConnection, flow: Flow, flows: tuple[Flow, ...]) -> Finding:
    """A derived flow covers the pairs its source links imply (a user and the invoices of what they own)."""
    pairs = expected_pairs(con, flow, flows)
    expected = {f"{crm_id}:{mc_id}" for crm_id, mc_id in pairs}
    linked = {f"{c}:{m}" for c, m in con.execute(
        "SELECT crm_id, mc_id FROM sync.links WHERE flow = ? AND state = 'active'", [flow.name]).fetchall()}
    dirty_users = _ids(con, "SELECT record_id FROM sync.dirty WHERE flow = ? AND side = ?", [flow.name, Side.CRM])
    in_flight = {pair for pair in expected if pair.split(":")[0] in dirty_users}
    if expected - linked - in_flight:
        # an order or quote changed after the flow was last planned (an owner it gave from an invoice's key):
        # the next cycle plans its pair
        changed = owned_changed_since_planned(con, flow, flows)
        in_flight |= {f"{crm_id}:{mc_id}" for (crm_id, mc_id), owned in pairs.items()
                      if changed is None or owned in changed}
    return _split(len(expected), expected - linked, {"not planned yet": in_flight})


def _split(checked: int, found: set[str], reasons: dict[str, set[str]]) -> Finding:
    explained: dict[str, tuple[str, ...]] = {}
    rest = set(found)
    for reason, ids in reasons.items():
        hit = rest & ids
        if hit:
            explained[reason] = tuple(sorted(hit, key=_sort_key))
            rest -= hit
    return Finding(checked, tuple(sorted(rest, key=_sort_key)), explained)


def _sort_key(value: str) -> tuple:
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def one_to_one(con: duckdb.DuckDBPyConnection, flow: Flow, flows: tuple[Flow, ...] = FLOWS) -> Finding:
    """No record is in two active links of the flow (a derived flow's user may have many invoices), and no
    MemberCare record is linked from two of `flows` (an invoice from an order and a quote)."""
    checked = con.execute("SELECT count(*) FROM sync.links WHERE flow = ? AND state = 'active'",
                          [flow.name]).fetchall()[0][0]
    failing: list[str] = []
    details: list[str] = []
    sides = ("mc_id",) if flow.derived is not None else ("crm_id", "mc_id")
    for column in sides:
        rows = con.execute(
            f"""SELECT {column}, list(CAST({'mc_id' if column == 'crm_id' else 'crm_id'} AS VARCHAR) ORDER BY 1)
                FROM sync.links WHERE flow = ? AND state = 'active' GROUP BY 1 HAVING count(*) > 1""",
            [flow.name]).fetchall()
        label = "crm" if column == "crm_id" else "membercare"
        failing += [str(key) for key, _ in rows]
        details += [f"{label} {key} linked to {', '.join(others)}" for key, others in rows]
    siblings = [f.name for f in flows if f is not flow and f.derived is None and flow.derived is None
                and f.mc_resource == flow.mc_resource]
    if siblings:
        rows = con.execute(
            """SELECT a.mc_id, list(b.flow || ':' || CAST(b.crm_id AS VARCHAR)) FROM sync.links a
               JOIN sync.links b ON b.mc_id = a.mc_id AND b.flow IN (SELECT unnest(?)) AND b.state = 'active'
               WHERE a.flow = ? AND a.state = 'active' GROUP BY 1""",
            [siblings, flow.name]).fetchall()
        failing += [str(mc_id) for mc_id, _ in rows]
        details += [f"membercare {mc_id} also linked in {', '.join(others)}" for mc_id, others in rows]
    return Finding(checked, tuple(failing), details=tuple(details))


def dangling_links(con: duckdb.DuckDBPyConnection, flow: Flow, scope: Scope | None = None) -> Finding:
    """Active links whose record no longer exists, or is gone, on either side (those should have ended)."""
    crm, mc = _side_table(flow, CRM_SIDE), _side_table(flow, MC_SIDE)
    restrict, params = _pair_filter(scope)
    rows = con.execute(
        f"""SELECT l.crm_id, l.mc_id, c.id IS NULL, c.gone, m.id IS NULL, m.gone FROM sync.links l
            LEFT JOIN {crm.name} c ON c.id = l.crm_id
            LEFT JOIN {mc.name} m ON CAST(m.id AS VARCHAR) = l.mc_id
            WHERE l.flow = ? AND l.state = 'active'{restrict}""",
        [flow.name, *params]).fetchall()
    bad: dict[str, str] = {}
    for crm_id, mc_id, crm_missing, crm_gone, mc_missing, mc_gone in rows:
        problem = ("crm record missing" if crm_missing else f"crm record {crm_gone}" if crm_gone else
                   "membercare record missing" if mc_missing else f"membercare record {mc_gone}" if mc_gone else None)
        if problem:
            bad[f"{crm_id}:{mc_id}"] = problem
    in_flight = _pairs_in_flight(con, flow)
    finding = _split(len(rows), set(bad), {"change in outbox": in_flight})
    return _scoped(replace(finding, details=tuple(f"{pair}: {bad[pair]}" for pair in finding.failing)), scope)


def _pairs_in_flight(con: duckdb.DuckDBPyConnection, flow: Flow) -> set[str]:
    """Pairs with an open outbox operation, or with a record extracted but not yet planned."""
    pairs = {f"{c}:{m}" for c, m in con.execute(
        "SELECT crm_id, mc_id FROM sync.outbox WHERE flow = ? AND status IN (SELECT unnest(?))",
        [flow.name, list(OPEN)]).fetchall()}
    pairs |= {f"{c}:{m}" for c, m in con.execute(
        """SELECT l.crm_id, l.mc_id FROM sync.links l JOIN sync.dirty d ON d.flow = l.flow AND
               ((d.side = ? AND d.record_id = CAST(l.crm_id AS VARCHAR)) OR (d.side = ? AND d.record_id = l.mc_id))
           WHERE l.flow = ?""", [Side.CRM, Side.MEMBERCARE, flow.name]).fetchall()}
    return pairs


# --- values -------------------------------------------------------------------------------------------

def pair_drift(con: duckdb.DuckDBPyConnection, flow: Flow, ctx: MappingContext, scope: Scope | None = None) -> Finding:
    """Every active linked pair is equal under the mapping; drift is explained by an open reject on either
    record, or by work in flight for the pair. Each drifting pair is described by its fields with both
    values, and, when a reject explains it, the reject's field and message."""
    crm, mc = _side_table(flow, CRM_SIDE), _side_table(flow, MC_SIDE)
    restrict, params = _pair_filter(scope)
    rows = con.execute(
        f"""SELECT l.crm_id, l.mc_id, c.raw, m.raw FROM sync.links l
            JOIN {crm.name} c ON c.id = l.crm_id AND c.gone IS NULL
            JOIN {mc.name} m ON CAST(m.id AS VARCHAR) = l.mc_id AND m.gone IS NULL
            WHERE l.flow = ? AND l.state = 'active'{restrict}""",
        [flow.name, *params]).fetchall()
    drift: dict[str, str] = {}
    for crm_id, mc_id, crm_raw, mc_raw in rows:
        try:
            crm_values = crm_to_common(flow, json.loads(crm_raw), ctx)
            mc_values = mc_to_common(flow, json.loads(mc_raw), ctx)
            fields = disagreeing_fields(flow, crm_values, mc_values)
            text = "; ".join(f"{f}: crm {_shown(crm_values.get(f))} ≠ membercare {_shown(mc_values.get(f))}"
                             for f in fields)
        except MappingError as error:
            fields, text = ["(unreadable)"], f"unreadable: {error}"
        if fields:
            drift[f"{crm_id}:{mc_id}"] = text
    rejects = _open_rejects(con, flow)
    rejected = {pair for pair in drift
                if (CRM_SIDE, pair.split(":")[0]) in rejects or (MC_SIDE, pair.split(":", 1)[1]) in rejects}
    finding = _split(len(rows), set(drift), {"open reject": rejected, "change in flight": _pairs_in_flight(con, flow)})

    def reject_text(pair: str) -> str:
        crm_id, mc_id = pair.split(":", 1)
        found = rejects.get((CRM_SIDE, crm_id)) or rejects.get((MC_SIDE, mc_id))
        return f"{pair}: {drift[pair]} — explained by an open reject: {found}"

    return _scoped(replace(finding, details=tuple(f"{pair}: {drift[pair]}" for pair in finding.failing),
                           explained_details=tuple(reject_text(p) for p in finding.explained.get("open reject", ()))),
                   scope)


def _shown(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)[:60]


def _open_rejects(con: duckdb.DuckDBPyConnection, flow: Flow) -> dict[tuple[str, str], str]:
    """(side, record id) -> the newest open reject's field and message."""
    rows = con.execute(
        """SELECT side, record_id, field, reason FROM sync.rejects WHERE flow = ? AND open ORDER BY id""",
        [flow.name]).fetchall()
    return {(side, str(record)): f"{side} {record} field {field or '(record)'}: {reason}"
            for side, record, field, reason in rows}


def membercare_type_problems(con: duckdb.DuckDBPyConnection, flow: Flow, countries: CountryTable,
                             scope: Scope | None = None) -> Finding:
    """Linked, live MemberCare records conform to the flow's MemberCare data types."""
    mc = _side_table(flow, MC_SIDE)
    restrict, params = _pair_filter(scope)
    rows = con.execute(
        f"""SELECT m.id, m.raw FROM {mc.name} m
            WHERE m.gone IS NULL AND CAST(m.id AS VARCHAR) IN (
                SELECT l.mc_id FROM sync.links l WHERE l.flow = ? AND l.state = 'active'{restrict})""",
        [flow.name, *params]).fetchall()
    failing, details = [], []
    for mc_id, raw in rows:
        problems = validate_for_membercare(flow, json.loads(raw), countries)
        if problems:
            failing.append(str(mc_id))
            details.append(f"{mc_id}: " + "; ".join(f"{p.field} {p.reason}" for p in problems))
    return _scoped(Finding(len(rows), tuple(failing), details=tuple(details)), scope)


def stale_outbox(con: duckdb.DuckDBPyConnection, flow: Flow, cycle_id: int, max_cycles: int) -> Finding:
    """Open outbox operations planned more than `max_cycles` cycles ago (held ones wait for an operator)."""
    rows = con.execute(
        """SELECT id, cycle_id, operation, direction, coalesce(reason, '') FROM sync.outbox
           WHERE flow = ? AND status IN ('pending', 'waiting')""", [flow.name]).fetchall()
    old = [r for r in rows if r[1] is not None and cycle_id - r[1] > max_cycles]
    return Finding(len(rows), tuple(str(r[0]) for r in old),
                   details=tuple(f"outbox {i}: {op} {d} since cycle {c} {reason}".rstrip()
                                 for i, c, op, d, reason in old))


# --- change sets --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChangeSet:
    """A flow's open outbox operations in one direction."""

    by_operation: dict[str, int]
    by_status: dict[str, int]
    preview: tuple[dict[str, Any], ...]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def change_set(con: duckdb.DuckDBPyConnection, flow: Flow, direction: str, preview: int = 10) -> ChangeSet:
    rows = con.execute(
        """SELECT id, operation, status, crm_id, mc_id, fields, coalesce(reason, '') FROM sync.outbox
           WHERE flow = ? AND direction = ? AND status IN (SELECT unnest(?)) ORDER BY id""",
        [flow.name, direction, list(OPEN)]).fetchall()
    shown = tuple({"outbox": r[0], "operation": r[1], "status": r[2], "crm_id": r[3], "mc_id": r[4],
                   "fields": ", ".join(json.loads(r[5]) if r[5] else []), "reason": r[6]} for r in rows[:preview])
    return ChangeSet(dict(Counter(r[1] for r in rows)), dict(Counter(r[2] for r in rows)), shown)


def change_set_problems(con: duckdb.DuckDBPyConnection, flow: Flow, direction: str, ctx: MappingContext) -> Finding:
    """Pending operations of one direction whose payload the target would reject for a reason visible in
    advance (see `change_sets_problems`)."""
    return change_sets_problems(con, flow, ctx)[direction]


def change_sets_problems(con: duckdb.DuckDBPyConnection, flow: Flow, ctx: MappingContext) -> dict[str, Finding]:
    """Per direction, the pending operations whose payload the target would reject for a reason visible in
    advance. The outbox is read once, and the MemberCare records that updates are based on in one query.

    An operation whose reference is not linked yet is not a problem: the executor leaves it waiting.
    """
    entries = pending(con, flow.name)
    targets = {TO_MEMBERCARE: flow.mc_resource, TO_CRM: flow.crm_resource}
    checked = [e for e in entries if e.operation.target_resource == targets[e.operation.direction]
               and e.operation.kind in ("create", "update")]
    current = _current_mc_records(con, flow, [e.operation.mc_id for e in checked
                                              if e.operation.direction == TO_MEMBERCARE and e.operation.kind != CREATE])
    failing: dict[str, list[str]] = {TO_MEMBERCARE: [], TO_CRM: []}
    details: dict[str, list[str]] = {TO_MEMBERCARE: [], TO_CRM: []}
    for entry in checked:
        op = entry.operation
        fields = None if op.kind == CREATE else op.fields
        try:
            if op.direction == TO_MEMBERCARE:
                problems = problems_for_membercare(flow, op.values, current.get(str(op.mc_id)), ctx, fields)
            else:
                problems = problems_for_crm(flow, op.values, fields, partial=op.kind != CREATE)
        except UnresolvedReference:
            continue
        if problems:
            record = op.crm_id if op.direction == TO_MEMBERCARE else op.mc_id
            failing[op.direction].append(str(record))
            details[op.direction].append(f"outbox {entry.id} ({op.kind} {record}): "
                                         + "; ".join(f"{p.field} {p.reason}" for p in problems))
    counted = {d: sum(1 for e in entries if e.operation.direction == d) for d in DIRECTIONS}
    return {d: Finding(counted[d], tuple(failing[d]), details=tuple(details[d])) for d in DIRECTIONS}


def _current_mc_records(con: duckdb.DuckDBPyConnection, flow: Flow, mc_ids: list) -> dict[str, dict]:
    if not mc_ids:
        return {}
    table = _side_table(flow, MC_SIDE)
    rows = con.execute(f"SELECT CAST(id AS VARCHAR), raw FROM {table.name} WHERE CAST(id AS VARCHAR) IN "
                       "(SELECT unnest(?))", [sorted({str(i) for i in mc_ids})]).fetchall()
    return {record_id: json.loads(raw) for record_id, raw in rows}


def link_counts(con: duckdb.DuckDBPyConnection, flow: Flow) -> dict[str, int]:
    rows = con.execute("SELECT state, count(*) FROM sync.links WHERE flow = ? GROUP BY 1", [flow.name]).fetchall()
    counts = {"active": 0, "ended": 0} | dict(rows)
    counts["open_rejects"] = con.execute("SELECT count(*) FROM sync.rejects WHERE flow = ? AND open",
                                         [flow.name]).fetchall()[0][0]
    counts["ambiguous"] = con.execute("SELECT count(*) FROM sync.ambiguous WHERE flow = ?",
                                      [flow.name]).fetchall()[0][0]
    return counts

