"""Writing the measured figures into docs/reliability.md, each scenario in its own marked section."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from crm_membercare_tests.chaos.oracle import Findings

HEADER = """# Reliability: what the fault storm and the crash test measured

Written by `make chaos` (full size). The scenarios live in `crm_membercare_tests/chaos/`; the tests in
`crm_membercare_tests/test_fault_storm.py` and `test_crash.py` run them at a small size in CI. Replay any run
with the seed shown: `CHAOS_SEED=<seed> CHAOS_SIZE=full .venv/bin/pytest crm_membercare_tests/test_fault_storm.py`.
"""


def write_section(path: Path, name: str, markdown: str) -> None:
    """Replace (or append) the section between `<!-- name:begin -->` and `<!-- name:end -->`."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else HEADER
    block = f"{begin}\n{markdown.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def table(rows: Mapping[str, object], key: str = "what", value: str = "count") -> str:
    lines = [f"| {key} | {value} |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    return "\n".join(lines)


def findings_rows(found: Findings) -> dict[str, object]:
    return {
        "duplicates found": found.duplicate_count,
        "lost updates found": len(found.lost_updates),
        "tracked (pair, row) values checked for lost updates": found.checked_rows,
        "pairs not converged": sum(len(v) for v in found.not_converged.values()),
        "live records left unlinked": sum(len(v) for v in found.unlinked.values()),
        "deletes not propagated": sum(len(v) for v in found.removal_mismatches.values()),
        "link violations (not one-to-one)": len(found.link_violations),
        "outbox rows left pending or held": len(found.open_outbox),
        "conflicts recorded": found.conflicts,
        "conflict winners checked against the policy (wrong)": f"{found.conflicts_judged} ({len(found.wrong_winners)})",
        "conflicts not judgeable": ", ".join(f"{n} ({why})" for why, n in found.conflicts_unjudged.items()) or 0,
        "open rejects the actor provoked / not provoked": f"{found.excused_rejects} / {len(found.unexplained_rejects)}",
        "ambiguous matches the actor provoked / not provoked":
            f"{found.excused_ambiguous} / {len(found.unexplained_ambiguous)}",
        "user deletes not propagated": len(found.deletes_not_propagated),
        "B6 invoice references checked (wrong)":
            f"{found.checked_invoice_references} ({len(found.owner_mismatches)})",
    }


def rejects_table(found: Findings) -> str:
    if not found.rejects_by_reason:
        return "No rejects."
    rows = {reason.replace("|", "/"): n for reason, n in found.rejects_by_reason.most_common()}
    return table(rows, "flow, field: reason", "rejects")
