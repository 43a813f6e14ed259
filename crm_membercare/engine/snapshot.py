"""Loading what the planner needs for one flow from the state, and saving the plan it returns."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import duckdb
import pandas as pd

from crm_membercare.engine import dirty as dirty_marks
from crm_membercare.engine import outbox
from crm_membercare.engine.dirty import mark_dirty
from crm_membercare.engine.identity import CRM_STAMP, MC_STAMP, crm_identity, mc_identity
from crm_membercare.engine.links import (
    Link,
    LinkIndex,
    end_links,
    ended,
    load_bases,
    save_links,
    with_bases,
    write_bases,
)
from crm_membercare.engine.match_keys import indexes_for
from crm_membercare.engine.matching import KeyIndex
from crm_membercare.engine.operations import Claim, FlowPlan, Record, Reject
from crm_membercare.engine.plan import FlowInput
from crm_membercare.engine.raw_schema import RawTable, raw_table
from crm_membercare.engine.records import (
    clear_ambiguous,
    close_rejects,
    record_ambiguous,
    record_conflicts,
    record_rejects,
)
from crm_membercare.engine.state import registered
from crm_membercare.engine.unresolvable import sort_waits
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.flows import Flow, MatchRule
from crm_membercare.mapping.links import MappingContext

# From this many dirty records in a planning chunk on, the referenced flows' links are read whole.
WHOLE_FLOW_READ = 256


def mc_id_of(flow: Flow, value: Any) -> Any:
    """A MemberCare id in its own type: integers for products and invoices, strings for debtors."""
    return int(value) if flow.mc.integer_ids else str(value)


def part_filter(flow: Flow, alias: str = "") -> str:
    """The SQL condition on the MemberCare raw table restricting it to the flow's part of a split resource."""
    if flow.mc_split is None:
        return ""
    # The typed column, not the JSON: a filter on `raw` would parse every invoice's document.
    column = flow.mc.column_for(flow.mc_split[0]).name
    return f" AND {alias}{column} = '{flow.mc_part}'"  # constants of the declarations, not input


def load_records(con: duckdb.DuckDBPyConnection, table: RawTable, ids: list, flow: Flow | None = None) -> dict:
    if not ids:
        return {}
    type_filter = part_filter(flow) if flow is not None and table.system == Side.MEMBERCARE else ""
    rows = con.execute(
        f"""SELECT id, raw, gone, changed_at, version, change_marker FROM {table.name}
            WHERE id IN (SELECT unnest(?)){type_filter}""",
        [ids],
    ).fetchall()
    return {
        row[0]: Record(row[0], json.loads(row[1]), row[2], row[3], str(row[4]) if row[4] is not None else row[5])
        for row in rows
    }


def dirty_ids(con: duckdb.DuckDBPyConnection, flow: Flow) -> tuple[set, set]:
    rows = dirty_marks.marked(con, flow.name)
    crm = {int(r) for side, r in rows if side == Side.CRM}
    mc = {mc_id_of(flow, r) for side, r in rows if side == Side.MEMBERCARE}
    return crm, mc


def identity_claims(con: duckdb.DuckDBPyConnection, flow: Flow, crm_ids: list, mc_ids: list) -> list[Claim]:
    """The stamped identities naming a record of the other side, on unlinked records of either side, with
    what corroborates them in the state: the claimed record's own stamp, or the sync's outbox.

    Looked up in the raw tables, not only among the records being planned: after a lost state file the two
    records of a pair usually fall in different planning chunks.
    """
    if not crm_ids and not mc_ids:
        return []
    crm_table, mc_table = flow.crm, flow.mc
    crm_prefix, mc_prefix = f"{CRM_STAMP}:{flow.crm_resource}:", f"{MC_STAMP}:{flow.mc_resource}:"
    mc_type = mc_table.id_type
    type_filter = part_filter(flow, "m.")
    # Each side's stamp names the other record's id: compared as text with the stamps of the given ids, or
    # parsed into an id and joined on it. Every part is restricted by the given ids before it joins, so the
    # work follows the records planned, not the size of the tables.
    rows = con.execute(
        f"""WITH found AS (
            SELECT c.id AS crm_id, m.id AS mc_id FROM {crm_table.name} c JOIN {mc_table.name} m
              ON m.id = TRY_CAST(split_part(c.external_id, ':', 3) AS {mc_type})
            WHERE c.id IN (SELECT unnest($crm)) AND starts_with(c.external_id, $mc_prefix){type_filter}
            UNION
            SELECT c.id, m.id FROM {crm_table.name} c JOIN {mc_table.name} m
              ON m.id = TRY_CAST(split_part(c.external_id, ':', 3) AS {mc_type})
            WHERE c.external_id IN (SELECT $mc_prefix || unnest($mc)){type_filter}
            UNION
            SELECT c.id, m.id FROM {mc_table.name} m JOIN {crm_table.name} c
              ON c.id = TRY_CAST(split_part(m.external_id, ':', 3) AS BIGINT)
            WHERE m.id IN (SELECT CAST(unnest($mc) AS {mc_type})) AND starts_with(m.external_id, $crm_prefix)
              {type_filter}
            UNION
            SELECT c.id, m.id FROM {mc_table.name} m JOIN {crm_table.name} c
              ON c.id = TRY_CAST(split_part(m.external_id, ':', 3) AS BIGINT)
            WHERE m.external_id IN (SELECT $crm_prefix || CAST(unnest($crm) AS VARCHAR)){type_filter})
            SELECT f.crm_id, f.mc_id,
                   c.external_id IS NOT DISTINCT FROM $mc_prefix || CAST(f.mc_id AS VARCHAR),
                   m.external_id IS NOT DISTINCT FROM $crm_prefix || CAST(f.crm_id AS VARCHAR)
            FROM found f JOIN {crm_table.name} c ON c.id = f.crm_id JOIN {mc_table.name} m ON m.id = f.mc_id
            WHERE c.id IN (SELECT crm_id FROM found) AND m.id IN (SELECT mc_id FROM found)""",
        {"crm": [int(i) for i in crm_ids], "mc": [str(i) for i in mc_ids], "crm_prefix": crm_prefix,
         "mc_prefix": mc_prefix},
    ).fetchall()
    claims = [Claim(crm_id, mc_id_of(flow, mc_id), crm_claims, mc_claims) for crm_id, mc_id, crm_claims, mc_claims
              in rows]
    one_sided = [claim for claim in claims if not (claim.crm_claims and claim.mc_claims)]
    written = _stamps_written_by_sync(con, flow, one_sided)
    return [replace(claim, written_by_sync=(claim.crm_id, str(claim.mc_id)) in written) for claim in claims]


def _stamps_written_by_sync(con: duckdb.DuckDBPyConnection, flow: Flow, claims: list[Claim]) -> set[tuple]:
    """(crm id, mc id as text) of the one-sided claims whose stamp an outbox operation of the sync carried:
    a create from the claimed record (its new record carries the claimed identity), or the stamp written on
    the claiming record. Asked only for claims without both stamps: rare outside a crash or a lost answer."""
    if not claims:
        return set()
    wanted = []
    for claim in claims:
        if claim.mc_claims:
            wanted.append((claim.crm_id, str(claim.mc_id), crm_identity(flow.crm_resource, claim.crm_id)))
        if claim.crm_claims:
            wanted.append((claim.crm_id, str(claim.mc_id), mc_identity(flow.mc_resource, claim.mc_id)))
    frame = pd.DataFrame(wanted, columns=["crm_id", "mc_id", "stamp"], dtype=object)
    with registered(con, "claimed_stamps", frame):
        # The stamp names the claimed record, so a create from it or a stamp on the pair matches on one id.
        rows = con.execute(
            """SELECT DISTINCT w.crm_id, w.mc_id FROM claimed_stamps w JOIN sync.outbox o
                 ON json_extract_string(o.payload, '$.stamp') = w.stamp
                AND (o.crm_id = CAST(w.crm_id AS BIGINT) OR o.mc_id = w.mc_id)
               WHERE o.flow = ? AND (o.crm_id IN (SELECT unnest(?)) OR o.mc_id IN (SELECT unnest(?)))""",
            [flow.name, sorted({int(c) for c, _, _ in wanted}), sorted({m for _, m, _ in wanted})],
        ).fetchall()
    return {(int(crm_id), str(mc_id)) for crm_id, mc_id in rows}


def prefetch_references(links: LinkIndex, flow: Flow, crm_records: Iterable[Record],
                        mc_records: Iterable[Record]) -> None:
    """Read the links the records' references go through, in bulk, before the mapping asks one by one.

    The rows say where their references stand in a payload (`raw_crm` / `raw_mc`); a value that is no id is
    left for the mapping to report.
    """
    wanted: dict[str, tuple[set, set]] = {}
    for row in flow.rows:
        if not row.references:
            continue
        for side, records in ((Side.CRM, crm_records), (Side.MEMBERCARE, mc_records)):
            read = row.transform.raw_crm if side == Side.CRM else row.transform.raw_mc
            for record in records:
                for raw in read(record.raw):
                    if getattr(raw.codec, "kind", None) != "reference" or not isinstance(raw.value, int | str):
                        continue
                    # A debtor may be either of its options' records: ask each (one query per flow anyway).
                    throughs = [raw.codec.through] if getattr(raw.codec, "through", "") else row.references
                    for through in throughs:
                        crm_ids, mc_ids = wanted.setdefault(through, (set(), set()))
                        if side == Side.MEMBERCARE:
                            mc_ids.add(str(raw.value))
                        elif isinstance(raw.value, int) or str(raw.value).isdigit():
                            crm_ids.add(int(raw.value))
    for through, (crm_ids, mc_ids) in wanted.items():
        links.fetch(through, crm_ids, mc_ids)


def _match_keys(rule: MatchRule, records: list[dict], side: str) -> set[str]:
    keys = set()
    for rule_level in (rule, rule.fallback):
        if rule_level is None:
            continue
        read = rule_level.crm_key if side == "crm" else rule_level.mc_key
        keys.update(key for key in map(read, records) if key)
    return keys


def load_flow_input(
    con: duckdb.DuckDBPyConnection,
    flow: Flow,
    links: LinkIndex,
    ctx: MappingContext,
    *,
    dirty: tuple[set, set] | None = None,
    conflict_policy: str | None = None,
    delete_policy: str | None = None,
) -> FlowInput:
    """The planner's input for the given dirty ids (default: all of the flow's), with their counterparts,
    their links' bases, and the match keys that the unlinked ones share with any live record."""
    dirty_crm, dirty_mc = dirty if dirty is not None else dirty_ids(con, flow)
    dirty_crm, dirty_mc = set(dirty_crm), set(dirty_mc)
    crm_table, mc_table = flow.crm, flow.mc
    # The links planning asks for, read in bulk: the dirty records' own, and for a large change the whole
    # of the flows their references go through (one scan instead of a query per reference).
    links.fetch(flow.name, dirty_crm, dirty_mc)
    mc_records = load_records(con, mc_table, sorted(dirty_mc, key=str), flow)
    dirty_mc &= set(mc_records)  # invoices of the other type belong to the other flow
    crm_ids = set(dirty_crm)
    mc_ids = set(mc_records)
    for mc_id in dirty_mc:
        link = links.by_mc(flow.name, mc_id)
        if link:
            crm_ids.add(link.crm_id)
    for crm_id in dirty_crm:
        link = links.by_crm(flow.name, crm_id)
        if link:
            mc_ids.add(mc_id_of(flow, link.mc_id))
    crm_records = load_records(con, crm_table, sorted(crm_ids))
    claims = identity_claims(
        con, flow, [i for i in dirty_crm if not links.by_crm(flow.name, i)],
        [i for i in dirty_mc if not links.by_mc(flow.name, i)],
    )
    links.fetch(flow.name, [c.crm_id for c in claims], [c.mc_id for c in claims])
    crm_records.update(load_records(con, crm_table, sorted({c.crm_id for c in claims} - set(crm_records))))
    mc_ids |= {c.mc_id for c in claims}
    mc_records.update(load_records(con, mc_table, sorted(mc_ids - set(mc_records), key=str), flow))
    prefetch_references(links, flow, crm_records.values(), mc_records.values())
    crm_keys, mc_keys = KeyIndex(), KeyIndex()
    if flow.match is not None:
        wanted = _match_keys(flow.match, [crm_records[i].raw for i in dirty_crm
                                          if i in crm_records and not links.by_crm(flow.name, i)], "crm")
        wanted |= _match_keys(flow.match, [mc_records[i].raw for i in dirty_mc if not links.by_mc(flow.name, i)],
                              "membercare")
        crm_keys, mc_keys = indexes_for(con, flow, wanted, int, lambda value: mc_id_of(flow, value))
        links.fetch(flow.name, crm_keys.primary_of, mc_keys.primary_of)
    referenced = still_referenced(con, flow, [
        mc_id for crm_id, record in crm_records.items() if record.gone
        for link in [links.by_crm(flow.name, crm_id)] if link is not None and link.state == "active"
        for mc_id in [mc_id_of(flow, link.mc_id)] if mc_id in mc_records and not mc_records[mc_id].gone])
    pairs = {(link.crm_id, link.mc_id) for link in
             [*(links.by_crm(flow.name, i) for i in dirty_crm), *(links.by_mc(flow.name, i) for i in dirty_mc)]
             if link is not None}
    # The planner gets what was read, and nothing that can read more (`LinkView`).
    view = links.view()
    return FlowInput(flow, crm_records, mc_records, dirty_crm, dirty_mc, view, MappingContext(view, ctx.countries),
                     crm_keys, mc_keys,
                     conflict_policy, delete_policy, load_bases(con, flow.name, pairs), claims, referenced)


def still_referenced(con: duckdb.DuckDBPyConnection, flow: Flow, mc_ids: list) -> set:
    """Those of `mc_ids` (MemberCare records whose CRM counterpart is gone) that live MemberCare records still
    reference, for a flow that keeps such records (DESIGN C9). Read from the raw JSON: asked only when a
    removal is about to be planned."""
    kept = flow.mc_kept_while_referenced
    if kept is None or not mc_ids:
        return set()
    wanted = [str(i) for i in mc_ids]
    found: set = set()
    for resource, path in kept.referenced_by:
        table = raw_table(Side.MEMBERCARE, resource)
        rows = con.execute(
            f"""SELECT DISTINCT ref FROM (
                    SELECT unnest(json_extract_string(raw, ?)) AS ref FROM {table.name} WHERE gone IS NULL)
                WHERE ref IN (SELECT unnest(?))""", [path, wanted]).fetchall()
        found |= {mc_id_of(flow, ref) for (ref,) in rows}
    return found


def retry_ambiguous(con: duckdb.DuckDBPyConnection, flow: Flow, cycle_id: int) -> None:
    """Records left unmatched for a shared key are looked at again every cycle: the duplicate may be gone."""
    for side in Side:
        ids = [r[0] for r in con.execute(
            "SELECT record_id FROM sync.ambiguous WHERE flow = ? AND side = ?", [flow.name, side]).fetchall()]
        mark_dirty(con, [flow.name], side, ids, cycle_id)


def chunks(dirty: tuple[set, set], size: int) -> Iterator[tuple[set, set]]:
    """The dirty ids of both sides in slices of at most `size` per side (planning memory stays bounded)."""
    crm, mc = sorted(dirty[0]), sorted(dirty[1], key=str)
    for start in range(0, max(len(crm), len(mc), 1), size):
        yield set(crm[start:start + size]), set(mc[start:start + size])


def save_plan(con: duckdb.DuckDBPyConnection, plan: FlowPlan, given: FlowInput, cycle_id: int,
              links: LinkIndex, flows: Iterable[Flow]) -> None:
    """Commit the plan's findings and operations (the cycle's `links` kept current); what waits for a
    reference stays dirty (`flows`: the engine's, among which the flows references go through are)."""
    flow = given.flow
    new_links = [(Link(flow.name, new.crm_id, new.mc_id, "active", None, None), new.linked_by)
                 for new in plan.new_links]
    for link, _ in new_links:
        links.put(link)
    save_links(con, new_links)
    rebased = []
    for crm_id, mc_id, base_crm, base_mc in plan.bases:
        link = links.pair(flow.name, crm_id, mc_id)
        if link:
            rebased.append(with_bases(link, base_crm, base_mc))
            links.put(rebased[-1])
    write_bases(con, rebased)
    finished = []
    for crm_id, mc_id, reason in plan.ended_links:
        link = links.pair(flow.name, crm_id, mc_id)
        if link:
            finished.append((link, reason))
            links.put(ended(link))
    end_links(con, finished)
    record_conflicts(con, plan.conflicts, cycle_id)
    close_rejects(con, flow.name, plan.settled)
    # A record waiting for a reference is shown as a reject too (it names the field and what it waits for);
    # a reference that cannot resolve is a reject saying why (DESIGN C8). Either closes by itself when the
    # reference is linked and the record syncs: both kinds are planned again next cycle.
    waiting, unresolvable = sort_waits(con, plan.waiting, flows)
    waits = [Reject(w.flow, w.side, w.record_id, w.field, w.reason) for w in waiting]
    record_rejects(con, plan.rejects + unresolvable + waits, cycle_id)
    clear_ambiguous(con, flow.name, "crm", given.dirty_crm)
    clear_ambiguous(con, flow.name, "membercare", given.dirty_mc)
    record_ambiguous(con, plan.ambiguous)
    outbox.enqueue(con, plan.operations, cycle_id)
    dirty_marks.clear(con, flow.name, Side.CRM, given.dirty_crm)
    dirty_marks.clear(con, flow.name, Side.MEMBERCARE, given.dirty_mc)
    # What waits for a reference is planned again next cycle; so is a reject for a reference that cannot
    # resolve, without a wait reason (it is not waiting: the reject says what a person has to do).
    for wait in waiting:
        mark_dirty(con, [flow.name], Side(wait.side), [wait.record_id], cycle_id, reason=wait.reason)
    for reject in unresolvable:
        mark_dirty(con, [flow.name], Side(reject.side), [reject.record_id], cycle_id)
    if flow.mc_split:
        # Records of another part (invoices of the other type) were never this flow's: drop their marks too.
        dirty_marks.keep_only(con, flow.name, Side.MEMBERCARE, flow.mc,
                              part_filter(flow))
