"""Which unlinked references are worth waiting for (DESIGN C8), read from the state.

The planner reports a record whose reference is not linked as waiting. Most such references are linked a
cycle later (the referenced record is new, or waits itself). Some never will be: the referenced record was
archived, closed or deleted before it was ever synced, it does not exist at all, or it is itself rejected.
Those are rejects whose reason names the reference and why; the dependent record is still planned again
every cycle, so the reject closes by itself once the reference resolves (a rejected record fixed, a
reference edited, the state rebuilt from the stamps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import duckdb

from crm_membercare.engine.operations import CRM_SIDE, MC_SIDE, Reject, Waiting
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.flows import Flow

GONE_WORDS = {"archived": "was archived", "closed": "was closed", "deleted": "was deleted"}


def sort_waits(con: duckdb.DuckDBPyConnection, waits: list[Waiting],
               flows: Iterable[Flow]) -> tuple[list[Waiting], list[Reject]]:
    """Split waits into those that may still resolve (with a reason saying what they wait for) and rejects
    for references that cannot resolve as things stand (`flows`: the engine's; a wait names the flows its
    reference goes through)."""
    by_name = {flow.name: flow for flow in flows}
    still: list[Waiting] = []
    rejects: list[Reject] = []
    known: dict[tuple, str | None] = {}  # many dependents often share one reference (orders of a customer)
    for wait in waits:
        reference = (wait.through, wait.reference_side, str(wait.reference_id))
        if reference not in known:
            known[reference] = _why_not(con, wait, by_name)
        why = known[reference]
        if why is None:
            still.append(wait)
        elif why.startswith("waits"):
            still.append(Waiting(wait.flow, wait.side, wait.record_id, wait.field, why, wait.through,
                                 wait.reference_id, wait.reference_side))
        else:
            rejects.append(Reject(wait.flow, wait.side, wait.record_id, wait.field, why, wait.reference_id))
    return still, rejects


def _why_not(con: duckdb.DuckDBPyConnection, wait: Waiting, by_name: Mapping[str, Flow]) -> str | None:
    """Why the reference cannot resolve ("cannot ..."), a better wait reason ("waits ..."), or None."""
    if not wait.through or wait.reference_id is None:
        return None
    crm_side = wait.reference_side == CRM_SIDE
    found = []
    for through in wait.through.split(" or "):
        flow = by_name[through]
        table = flow.crm if crm_side else flow.mc
        key = _typed(table.id_type, wait.reference_id)
        if key is None:
            continue
        rows = con.execute(f"SELECT gone FROM {table.name} WHERE id = ?", [key]).fetchall()
        if rows:
            found.append((flow, table.resource, rows[0][0]))
    system = "CustomCRM" if crm_side else "MemberCare"
    if not found:
        if crm_side:
            return None  # not extracted yet: the CRM never deletes a record for good
        resources = " or ".join(by_name[t].mc_resource for t in wait.through.split(" or "))
        return (f"cannot resolve: {system} {resources} {wait.reference_id} does not exist (deleted, or never "
                "existed); change the reference")
    flow, resource, gone = found[0]
    named = f"{system} {resource} {wait.reference_id}"
    if gone:
        return (f"cannot resolve: {named} {GONE_WORDS.get(gone, gone)} before it was ever synced, so it will "
                "never be linked; change the reference")
    side = CRM_SIDE if crm_side else MC_SIDE
    waits_itself = con.execute(
        "SELECT reason FROM sync.dirty WHERE flow = ? AND side = ? AND record_id = ? AND reason IS NOT NULL",
        [flow.name, Side.CRM if crm_side else Side.MEMBERCARE, str(wait.reference_id)]).fetchall()
    if waits_itself:
        return f"waits for {named}, which itself {waits_itself[0][0]}"
    rejected = con.execute(
        """SELECT field, reason FROM sync.rejects WHERE flow = ? AND side = ? AND record_id = ? AND open
           ORDER BY id DESC LIMIT 1""", [flow.name, side, str(wait.reference_id)]).fetchall()
    if rejected:
        field, reason = rejected[0]
        return f"cannot resolve: {named} is itself rejected ({field}: {reason}); it syncs once that is fixed"
    ambiguous = con.execute("SELECT match_key FROM sync.ambiguous WHERE flow = ? AND side = ? AND record_id = ?",
                            [flow.name, side, str(wait.reference_id)]).fetchall()
    if ambiguous:
        return f"waits for {named}: it is unresolved in sync.ambiguous ({ambiguous[0][0]})"
    return None


def _typed(id_type: str, value: Any) -> Any:
    if id_type == "BIGINT":
        text = str(value)
        return int(text) if text.isdigit() else None
    return str(value)
