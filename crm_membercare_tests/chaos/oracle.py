"""The oracle: after a storm or a crash run, read both systems and the state, and list every broken promise.

Invariants (DESIGN Part C12 and Part E):
- converged: every active link's pair is equal under the mapping (`disagreeing_fields` empty; lossy rows
  agree by their transform), except pairs with an open reject; a link ended by a delete has both records
  gone (propagate policy; a MemberCare record kept inactive because others reference it counts as gone);
  every live record is linked unless it has an open reject or an ambiguous key;
- zero duplicates: no match key twice among a side's live records; as many live linked records on each side;
- zero lost updates: each tracked row's final value, on both sides, is the last value a user wrote on either
  side, or the winner of a recorded conflict that saw that value;
- links one-to-one per flow, an invoice in at most one order/quote link;
- outbox drained: nothing `pending` or `held`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from crm_membercare.mapping.canonical import disagreeing_fields
from crm_membercare.mapping.convert import crm_to_common, mc_to_common
from crm_membercare.mapping.flows import FLOWS, Flow, flow_by_name
from crm_membercare.mapping.links import InMemoryLinks, MappingContext
from crm_membercare.mapping.problems import MappingError
from crm_membercare_tests.chaos.history import TRACKED_ROWS, WriteLog
from crm_membercare_tests.engine_support import (
    Snapshot,
    World,
    active_links,
    conflicts_of,
    duplicated_keys,
    open_reject_records,
)

ONE_TO_ONE_FLOWS = tuple(flow for flow in FLOWS if flow.derived is None)
REMOVABLE_FLOWS = tuple(flow for flow in ONE_TO_ONE_FLOWS if flow.invoice_type is None)


@dataclass
class Findings:
    not_converged: dict[str, dict[tuple, list[str]]] = field(default_factory=dict)
    removal_mismatches: dict[str, list[tuple]] = field(default_factory=dict)
    unlinked: dict[str, list[tuple]] = field(default_factory=dict)
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    lost_updates: list[dict] = field(default_factory=list)
    link_violations: list[str] = field(default_factory=list)
    open_outbox: list[tuple] = field(default_factory=list)
    checked_rows: int = 0  # tracked (pair, row) values with a user write, checked for lost updates
    rejects_by_reason: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0

    @property
    def duplicate_count(self) -> int:
        return sum(len(keys) for keys in self.duplicates.values())


def check(world: World, log: WriteLog, snap: Snapshot | None = None) -> Findings:
    snap = snap or world.snapshot()
    found = Findings()
    ctx = every_link_context(world)
    for flow in ONE_TO_ONE_FLOWS:
        drift = _disagreements(world, snap, flow, ctx)
        if drift:
            found.not_converged[flow.name] = drift
        _coverage(world, snap, flow, found)
    for flow in REMOVABLE_FLOWS:
        wrong = _removal_mismatches(world, snap, flow)
        if wrong:
            found.removal_mismatches[flow.name] = wrong
    _lost_updates(world, snap, log, found)
    found.link_violations = link_violations(world)
    found.open_outbox = open_outbox(world)
    found.rejects_by_reason = rejects_by_reason(world)
    found.conflicts = world.con.execute("SELECT count(*) FROM sync.conflicts").fetchone()[0]
    return found


def every_link_context(world: World) -> MappingContext:
    """References translated through every link, ended ones too: a contact of a deleted customer and a person
    employed by the closed company that was linked to it still point at the same party."""
    links = InMemoryLinks()
    rows = world.con.execute("SELECT flow, crm_id, mc_id FROM sync.links ORDER BY state = 'active', updated_at")
    for flow_name, crm_id, mc_id in rows.fetchall():
        flow = flow_by_name(flow_name)
        links.add(flow_name, crm_id, int(mc_id) if flow.mc_id_field == "id" else mc_id)
    return MappingContext(links, world.countries)


def _disagreements(world: World, snap: Snapshot, flow: Flow, ctx: MappingContext) -> dict[tuple, list[str]]:
    """Active links whose pair differs under the mapping (or cannot be read), except pairs with an open reject."""
    rejected = open_reject_records(world.con, flow)
    crm_records, mc_records = snap.crm_records(flow), snap.mc_records(flow)
    found: dict[tuple, list[str]] = {}
    for crm_id, mc_id in active_links(world.con, flow):
        if ("crm", str(crm_id)) in rejected or ("membercare", str(mc_id)) in rejected:
            continue
        if crm_id not in crm_records or mc_id not in mc_records:
            found[(crm_id, mc_id)] = ["active link to a record that no longer exists"]
            continue
        try:
            crm_values = crm_to_common(flow, crm_records[crm_id], ctx)
            mc_values = mc_to_common(flow, mc_records[mc_id], ctx)
        except MappingError as error:
            found[(crm_id, mc_id)] = [f"unreadable under the mapping: {error}"]
            continue
        fields = disagreeing_fields(flow, crm_values, mc_values)
        if fields:
            found[(crm_id, mc_id)] = fields
    return found


def _live_mc(world: World, snap: Snapshot, flow: Flow) -> dict:
    """Live MemberCare records, less those deactivated in place of a removal (DESIGN C9: a product still on
    invoices): set inactive, their link ended, they count as removed."""
    live = snap.live_mc(flow)
    kept = flow.mc_kept_while_referenced
    if kept is None:
        return live
    ended = {int(m) if flow.mc_id_field == "id" else str(m) for (m,) in world.con.execute(
        "SELECT mc_id FROM sync.links WHERE flow = ? AND state = 'ended'", [flow.name]).fetchall()}
    path = flow.row(kept.row).mc_paths[0]
    return {i: r for i, r in live.items() if not (i in ended and r.get(path) is False)}


def _coverage(world: World, snap: Snapshot, flow: Flow, found: Findings) -> None:
    live_crm, live_mc = snap.live_crm(flow), _live_mc(world, snap, flow)
    if flow.match is not None:
        dupes = [f"crm {k}" for k in duplicated_keys(flow.match, live_crm, "crm")]
        dupes += [f"membercare {k}" for k in duplicated_keys(flow.match, live_mc, "membercare")]
        if dupes:
            found.duplicates[flow.name] = dupes
    links = active_links(world.con, flow)
    linked_crm = {c for c, _ in links if c in live_crm}
    linked_mc = {m for _, m in links if m in live_mc}
    if len(linked_crm) != len(linked_mc):
        found.duplicates.setdefault(flow.name, []).append(
            f"{len(linked_crm)} live linked CRM records, {len(linked_mc)} in MemberCare")
    excused = open_reject_records(world.con, flow) | _ambiguous(world, flow)
    unlinked = [("crm", i) for i in live_crm if i not in {c for c, _ in links} and ("crm", str(i)) not in excused]
    unlinked += [("membercare", i) for i in live_mc
                 if i not in {m for _, m in links} and ("membercare", str(i)) not in excused]
    if unlinked:
        found.unlinked[flow.name] = unlinked


def _ambiguous(world: World, flow: Flow) -> set[tuple[str, str]]:
    rows = world.con.execute("SELECT side, record_id FROM sync.ambiguous WHERE flow = ?", [flow.name]).fetchall()
    return {(side, str(record_id)) for side, record_id in rows}


def _removal_mismatches(world: World, snap: Snapshot, flow: Flow) -> list[tuple]:
    """Ended links with one record gone and the other still live: a delete that did not propagate."""
    rows = world.con.execute("SELECT crm_id, mc_id, ended_reason FROM sync.links WHERE flow = ? AND state = 'ended'",
                             [flow.name]).fetchall()
    live_crm, live_mc = snap.live_crm(flow), _live_mc(world, snap, flow)
    wrong = []
    for crm_id, mc_id, reason in rows:
        mc_key = int(mc_id) if flow.mc_id_field == "id" else str(mc_id)
        if (crm_id in live_crm) != (mc_key in live_mc):
            wrong.append((crm_id, mc_id, reason, "crm live" if crm_id in live_crm else "membercare live"))
    return wrong


def _lost_updates(world: World, snap: Snapshot, log: WriteLog, found: Findings) -> None:
    rejected_by_flow = {flow.name: open_reject_records(world.con, flow) for flow in ONE_TO_ONE_FLOWS}
    for flow_name in dict.fromkeys(row.flow for row in TRACKED_ROWS):
        flow = flow_by_name(flow_name)
        rejected = rejected_by_flow[flow_name]
        conflicts = conflicts_of(world.con, flow)
        crm_records, mc_records = snap.crm_records(flow), snap.mc_records(flow)
        for crm_id, mc_id in active_links(world.con, flow):
            if ("crm", str(crm_id)) in rejected or ("membercare", str(mc_id)) in rejected \
                    or crm_id not in crm_records or mc_id not in mc_records:
                continue  # reported by the convergence check
            for row in (r for r in TRACKED_ROWS if r.flow == flow_name):
                last = log.last_write(row.key, (flow.crm_resource, crm_id), (flow.mc_resource, mc_id))
                if last is None:
                    continue
                found.checked_rows += 1
                finals = {"crm": crm_records[crm_id].get(row.crm_field),
                          "membercare": mc_records[mc_id].get(row.mc_field)}
                for side, final in finals.items():
                    if _same(flow, row.key, final, last.value):
                        continue
                    if _explained_by_conflict(flow, row.key, conflicts, crm_id, mc_id, last.value, final):
                        continue
                    found.lost_updates.append({
                        "flow": flow_name, "crm_id": crm_id, "mc_id": mc_id, "row": row.key, "side": side,
                        "final": final, "last_user_write": last.value, "written_on": last.side,
                        "step": last.step})


def _same(flow: Flow, key: str, a: Any, b: Any) -> bool:
    canonical = flow.row(key).transform.canonical
    return canonical(a) == canonical(b)


def _explained_by_conflict(flow: Flow, key: str, conflicts: list[dict], crm_id: int, mc_id: Any,
                           written: Any, final: Any) -> bool:
    """A recorded conflict on this row that saw the last written value and chose the final value."""
    for conflict in conflicts:
        if (conflict["crm_id"], str(conflict["mc_id"]), conflict["field"]) != (crm_id, str(mc_id), key):
            continue
        values = {"crm": conflict["crm_value"], "membercare": conflict["membercare_value"]}
        if any(_same(flow, key, v, written) for v in values.values()) \
                and _same(flow, key, values[conflict["winner"]], final):
            return True
    return False


def link_violations(world: World) -> list[str]:
    con = world.con
    found = []
    for flow in ONE_TO_ONE_FLOWS:
        for column in ("crm_id", "mc_id"):
            rows = con.execute(
                f"""SELECT {column}, count(*) FROM sync.links WHERE flow = ? AND state = 'active'
                    GROUP BY {column} HAVING count(*) > 1""", [flow.name]).fetchall()
            found += [f"{flow.name}: {column} {value} in {n} active links" for value, n in rows]
    invoice_flows = [flow.name for flow in ONE_TO_ONE_FLOWS if flow.invoice_type]
    rows = con.execute(
        """SELECT mc_id, list(flow) FROM sync.links WHERE flow IN (SELECT unnest(?)) AND state = 'active'
           GROUP BY mc_id HAVING count(*) > 1""", [invoice_flows]).fetchall()
    found += [f"invoice {mc_id} linked by {flows}" for mc_id, flows in rows]
    return found


def open_outbox(world: World) -> list[tuple]:
    return world.con.execute(
        """SELECT flow, direction, operation, crm_id, mc_id, status, attempts, reason FROM sync.outbox
           WHERE status IN ('pending', 'held') ORDER BY id""").fetchall()


def rejects_by_reason(world: World) -> Counter[str]:
    rows = world.con.execute("SELECT flow, field, reason FROM sync.rejects").fetchall()
    return Counter(f"{flow} {_general(field)}: {_short(_general(reason))}" for flow, field, reason in rows)


def _general(text: str | None) -> str:
    """A reason without its ids and positions, so rejects of one kind count together."""
    return re.sub(r"\d+", "N", (text or "").replace("\n", " "))


def _short(text: str) -> str:
    first = text.split("; ")[0]
    return first if len(first) <= 100 else first[:97] + "..."


def summary(found: Findings) -> str:
    """A readable account of everything broken (empty when nothing is)."""
    parts = []
    for name in ("not_converged", "removal_mismatches", "unlinked", "duplicates"):
        value = getattr(found, name)
        if value:
            parts.append(f"{name}: " + json.dumps({k: _head(v) for k, v in value.items()}, default=str))
    if found.lost_updates:
        parts.append(f"lost_updates ({len(found.lost_updates)}): {json.dumps(found.lost_updates[:8], default=str)}")
    if found.link_violations:
        parts.append(f"link_violations: {found.link_violations[:8]}")
    if found.open_outbox:
        parts.append(f"open_outbox ({len(found.open_outbox)}): {found.open_outbox[:8]}")
    return "\n".join(parts)


def _head(value: Any, n: int = 6) -> Any:
    if isinstance(value, dict):
        return {str(k): v for k, v in list(value.items())[:n]} | ({"...": len(value)} if len(value) > n else {})
    return list(value)[:n] + ([f"... {len(value)} in all"] if len(value) > n else [])
