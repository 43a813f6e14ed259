"""The project's QA dataflow document, generated from the flows.

`render_dataflow_document() -> str` returns reStructuredText: a title, an introduction, and one section per
flow (in `FLOWS` order) saying how records pair up, what happens on deletes and conflicts, and a
`list-table` with one row per property (CRM property, MemberCare property, MemberCare data type), followed
by notes on one-way and lossy rows. `crm-membercare docs` prints it; `docs/dataflow.rst` holds a copy that a
test keeps equal to it. Nothing here states a mapping fact of its own: every fact comes from a `Flow`.
"""

from __future__ import annotations

from crm_membercare.mapping.flows import FLOWS, Flow

TITLE = "CustomCRM and MemberCare: dataflow checklist"

INTRODUCTION = """\
This document lists, flow by flow, how records of CustomCRM and MemberCare are paired and which of
their properties the crm-membercare sync keeps equal, in both directions. Testers use it as a checklist:
for every row of a table, an edit on one side should show up, converted as the data type column says,
on the other side after a sync cycle.

It is generated from the flow definitions in ``crm_membercare.mapping.flows`` (run
``crm-membercare docs``); edit those, not this file."""

REMOVALS = {
    "close": "closes the MemberCare record",
    "delete": "deletes the MemberCare record",
    "delete_draft_else_credit": "deletes the MemberCare invoice while it is a Draft and credits it otherwise",
    "none": "changes nothing in MemberCare",
}
DELETE_POLICIES = {
    "propagate": "carried to the other side",
    "unlink": "ends the pairing without touching the other side",
    "ignore": "left alone on the other side",
}
CONFLICT_POLICIES = {
    "newest": "the more recent edit wins (by ``updated_at`` against ``lastChange``; a tie goes to CustomCRM)",
    "crm": "CustomCRM's value wins",
    "membercare": "MemberCare's value wins",
}


def _heading(text: str, underline: str, overline: bool = False) -> list[str]:
    rule = underline * len(text)
    return [rule, text, rule] if overline else [text, rule]


def _pairing(flow: Flow) -> list[str]:
    target = f"{flow.mc_label} record (``{flow.mc_resource}``"
    target += f" with ``{flow.mc_split[0]}`` {flow.mc_split[1]})" if flow.mc_split else ")"
    if flow.derived is not None:
        derived = flow.derived
        return [
            f"A {flow.crm_label} (``{flow.crm_resource}``) has no record of its own in MemberCare. It is paired "
            f"with every {target} that is linked, through the flows {', '.join(derived.through)}, to a CRM "
            f"record whose ``{derived.owner_field}`` is that user. These pairings are derived, never created: "
            "no record is made on either side for this flow.",
            "",
            f"A MemberCare edit of ``{derived.mc_owner_path}`` on such an invoice hands the order or quote "
            f"to the CRM user whose ``{derived.crm_owner_key}`` matches it (case-insensitively); a value "
            f"that matches no user is rejected with that reason. A new ``{derived.owner_field}`` in the CRM "
            "rewrites the invoice's properties below, locked invoices included.",
        ]
    lines = [
        f"Each {flow.crm_label} (``{flow.crm_resource}``) is paired with at most one {target}, and the other "
        "way round. Once paired, an edit made on either side reaches the other side in the next sync cycle.",
        "",
    ]
    if flow.match is not None:
        lines.append(f"Pairing on first sight: {flow.match.describe()}.")
        if flow.match.fallback is not None:
            lines.append(f"When either record has no such key: {flow.match.fallback.describe()}.")
        lines.append("A key held by more than one record pairs nothing and is reported for a person to resolve.")
    return lines


def _policies(flow: Flow) -> list[str]:
    lines = [
        f"- Deletes (policy ``{flow.delete_policy}``): a deleted, archived or closed record is "
        f"{DELETE_POLICIES[flow.delete_policy]}; archiving in CustomCRM {REMOVALS[flow.mc_removal]}.",
        f"- Conflicts (policy ``{flow.conflict_policy}``): when both sides changed a property to different "
        f"values, {CONFLICT_POLICIES[flow.conflict_policy]}.",
    ]
    kept = flow.mc_kept_while_referenced
    if kept is not None:
        lines.append(f"- A MemberCare record that {kept.described} still reference is deactivated instead "
                     f"(``{flow.row(kept.row).mc_paths[0]}`` false): removing it would make every later update "
                     "of those records fail.")
    if flow.depends_on:
        lines.append(f"- Runs after the flows it depends on: {', '.join(flow.depends_on)}.")
    for status, action in flow.mc_action_statuses:
        lines.append(f"- MemberCare status {status} is reached through the ``{action}`` action, not an update.")
    return lines


def _table(flow: Flow) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    header = (f"{flow.crm_label} Property", f"{flow.mc_label} Property", "MemberCare Data Type")
    for cells in (header, *((r.crm, r.membercare, r.mc_type) for r in flow.doc_rows())):
        lines.append(f"   * - {cells[0]}")
        lines.extend(f"     - {cell}" for cell in cells[1:])
    return lines


def _notes(flow: Flow) -> list[str]:
    notes = []
    for row in flow.rows:
        name = row.crm_label or ", ".join(row.crm_fields)
        if row.note:
            notes.append(f"- {name}: {row.note}.")
        elif row.direction == "to_membercare":
            notes.append(f"- {name}: CustomCRM decides it; a MemberCare edit of it is overwritten.")
        if row.lossy:
            notes.append(f"- {name} is lossy: {row.lossy_note}.")
    return ["Notes:", "", *notes] if notes else []


def _section(flow: Flow) -> list[str]:
    lines = [*_heading(flow.title, "-"), "", *_pairing(flow), "", *_policies(flow), ""]
    lines += [f"The properties kept equal between a {flow.crm_label} and a {flow.mc_label} record:", ""]
    lines += [*_table(flow), ""]
    notes = _notes(flow)
    return lines + ([*notes, ""] if notes else [])


def render_dataflow_document() -> str:
    lines = [*_heading(TITLE, "=", overline=True), "", *_heading("Introduction", "-"), "", INTRODUCTION, ""]
    for flow in FLOWS:
        lines += ["", *_section(flow)]
    return "\n".join(lines).rstrip("\n") + "\n"
