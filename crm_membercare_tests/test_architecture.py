"""The house rules of docs/architecture.md, read from the source: which room may import which, no private name
taken from another module, no function longer than a screen, and a step list that orders any set of flows."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

import pytest

from crm_membercare.engine.steps import FlowOrderError, PlanStep, WritebackStep, ordered_flows, step_list
from crm_membercare.mapping.flows import FLOWS, flow_by_name

PACKAGE = Path(__file__).resolve().parents[1] / "crm_membercare"
# Room -> the rooms it may import from (besides itself). Top-level modules are rooms of their own.
MAY_IMPORT = {
    "resources": set(),
    "mapping": {"resources"},
    "systems": {"resources"},
    "sandbox": set(),
    "engine": {"mapping", "systems", "resources"},
    "defs": {"engine", "mapping", "systems", "config", "display", "resources"},
    "config": {"mapping", "systems", "resources"},
    "display": set(),
    "definitions": {"defs", "config"},
    "cli": {"engine", "mapping", "systems", "config", "display", "sandbox", "resources"},
    "demo": {"config", "sandbox", "systems", "resources"},
}
# Functions allowed past 60 lines: the state's DDL, written out as one block on purpose.
LONG_ALLOWED = {("engine/state.py", "_migration_1")}
MAX_LINES = 60


def modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(PACKAGE.rglob("*.py"))]


def room(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else path.stem


def imports(tree: ast.Module) -> list[ast.ImportFrom | ast.Import]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def test_each_room_imports_only_the_rooms_below_it():
    wrong = []
    for path, tree in modules():
        here = room(path)
        if here == "__init__":
            continue
        for node in imports(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                if name.startswith("crm_membercare."):
                    target = name.split(".")[1]
                    if target != here and target not in MAY_IMPORT[here]:
                        wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno} ({here}) imports {name}")
                if name.split(".")[0] == "dagster" and here not in ("defs", "definitions"):
                    wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno} ({here}) imports dagster")
    assert not wrong, "\n".join(wrong)


def test_no_private_name_is_imported_from_another_module():
    borrowed = [f"{path.relative_to(PACKAGE)}:{node.lineno} takes {alias.name} from {node.module}"
                for path, tree in modules() for node in imports(tree)
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crm_membercare")
                for alias in node.names if alias.name.startswith("_")]
    assert not borrowed, "\n".join(borrowed)


def test_no_function_is_longer_than_a_screen():
    long = []
    for path, tree in modules():
        relative = str(path.relative_to(PACKAGE))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_LINES and (relative, node.name) not in LONG_ALLOWED:
                    long.append(f"{relative}:{node.lineno} {node.name} ({length} lines)")
    assert not long, "\n".join(long)


# --- the step list ------------------------------------------------------------------------------------------

def test_the_step_list_reads_first_then_plans_and_writes_each_flow_after_what_it_references():
    steps = step_list(FLOWS)
    assert steps[0].name == "read_both_systems"
    position = {step.name: index for index, step in enumerate(steps)}
    for flow in FLOWS:
        assert position[f"plan_{flow.name}"] + 1 == position[f"writeback_{flow.name}"]
        for needed in flow.depends_on:
            assert position[f"writeback_{needed}"] < position[f"plan_{flow.name}"], (flow.name, needed)
    assert {type(s) for s in steps[1:]} == {PlanStep, WritebackStep}


def test_flows_declared_in_any_order_are_put_in_dependency_order():
    shuffled = tuple(reversed(FLOWS))
    ordered = [flow.name for flow in ordered_flows(shuffled)]
    for flow in FLOWS:
        for needed in flow.depends_on:
            assert ordered.index(needed) < ordered.index(flow.name)
    # Contacts reference customers (an employment's company), so customers come first.
    assert ordered.index("customers_companies") < ordered.index("contacts_persons")


def test_a_dependency_on_an_unknown_flow_or_a_circle_fails_at_load():
    contacts = flow_by_name("contacts_persons")
    with pytest.raises(FlowOrderError, match="customers_companies, which is not a flow"):
        ordered_flows([contacts])
    customers = flow_by_name("customers_companies")
    # A customer whose row referenced contacts would make the two wait on each other.
    circular = replace(customers, rows=(*customers.rows, replace(contacts.rows[0], references=("contacts_persons",))))
    with pytest.raises(FlowOrderError, match="circle"):
        ordered_flows([circular, contacts])


# Each state table has one module that writes it (the migrations aside); the others read it.
TABLE_OWNERS = {
    "dirty": "dirty.py", "cursors": "cursors.py", "outbox": "outbox.py", "links": "links.py",
    "rejects": "records.py", "conflicts": "records.py", "ambiguous": "records.py", "cycles": "sync_engine.py",
    "cycle_flows": "sync_engine.py", "match_keys": "match_keys.py", "breakers": "breaker.py",
    "qa_failing": "qa.py",
}
WRITE = re.compile(r"\b(?:INSERT\s+(?:OR\s+REPLACE\s+)?INTO|UPDATE|DELETE\s+FROM)\s+sync\.(\w+)")


def test_each_state_table_is_written_by_one_module():
    writers: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / "engine").glob("*.py")):
        if path.name == "state.py":  # the migrations create and upgrade every table
            continue
        for table in WRITE.findall(path.read_text()):
            writers.setdefault(table, set()).add(path.name)
    assert writers == {table: {owner} for table, owner in TABLE_OWNERS.items() if table in writers}
    assert set(writers) <= set(TABLE_OWNERS), set(writers) - set(TABLE_OWNERS)
