"""The mapping judged against the contract: DESIGN Part B's tables written out by hand (`golden.py`).

Every other mapping test checks the mapping against itself (round trips, agreement of its own two readings), so
a table that is wrong the same way in both directions passes them. Here every expectation is a literal from
`golden.py`, never a value the code under test computed:

- CRM -> MemberCare: a golden CRM record through `crm_to_common` and `apply_common_to_mc` (a create: no
  current record) gives, on every MemberCare path the flow owns, the golden MemberCare value;
- MemberCare -> CRM: a golden MemberCare record through `mc_to_common` and `common_to_crm_patch` gives exactly
  the golden CRM patch (the owned fields, nothing else: unmapped fields such as `gender` never reach the CRM);
- each golden pair is in sync under the mapping (`disagreeing_fields` is empty);
- every enum and boolean value, both ways, and for each enum row the full agreement matrix (a pair agrees
  when either table takes one value onto the other, DESIGN Part B on lossy rows);
- a full-replacement PUT onto an existing record holding unowned data is the golden body, byte for byte.

Values are compared with their JSON types (a bool is not a number, a number is not a string). Pure functions
only: no server, no database.
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any

import pytest

from crm_membercare.mapping import (
    FLOWS,
    CountryTable,
    InMemoryLinks,
    MappingContext,
    apply_common_to_mc,
    common_to_crm_patch,
    crm_to_common,
    disagreeing_fields,
    flow_by_name,
    mc_to_common,
)
from crm_membercare.sandbox.countries import COUNTRIES
from crm_membercare_tests.golden import (
    ABSENT,
    COUNTRIES_RESULT,
    CRM_OWNED,
    ENUM_ROWS,
    GOLDEN,
    LINKS,
    MC_OWNED,
    PRESERVED,
    EnumRow,
    Golden,
)

PATH_PART = re.compile(r"^(\w+)\[(\w+)\]$")


def context() -> MappingContext:
    links = InMemoryLinks()
    for flow_name, pairs in LINKS.items():
        for crm_id, mc_id in pairs.items():
            links.add(flow_name, crm_id, mc_id)
    return MappingContext(links, CountryTable.from_api(COUNTRIES_RESULT))


def mc_path(record: dict[str, Any], path: str) -> Any:
    """A value by DESIGN's notation: `contacts[Mobile].value` is the first contact of that type, `addresses[0]`
    the first entry. Written here, not taken from the mapping, so the test reads what DESIGN means."""
    node: Any = record
    for part in path.split("."):
        indexed = PATH_PART.match(part)
        if indexed is None:
            node = node.get(part) if isinstance(node, dict) else None
            continue
        items = (node.get(indexed[1]) if isinstance(node, dict) else None) or []
        selector = indexed[2]
        if selector.isdigit():
            node = items[int(selector)] if int(selector) < len(items) else None
        else:
            node = next((item for item in items if item.get("contactType") == selector), None)
    return node


def typed(value: Any) -> Any:
    """A value with its JSON type made explicit: True is not 1, 1499.5 is 1499.50, "2" is not 2."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int | float):
        return ("number", Decimal(repr(value)).normalize())
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [typed(item) for item in value]
    return ("other", value)


def expected_mc(golden: Golden) -> dict[str, Any]:
    return {path: golden.mc_expected.get(path, mc_path(golden.mc, path)) for path in MC_OWNED[golden.flow]}


def expected_crm_patch(golden: Golden) -> dict[str, Any]:
    expected = {name: golden.crm[name] for name in CRM_OWNED[golden.flow]}
    expected.update(golden.crm_expected)
    return {name: value for name, value in expected.items() if value != ABSENT}


def mc_body_for(flow_name: str, crm_record: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    flow, ctx = flow_by_name(flow_name), context()
    return apply_common_to_mc(flow, crm_to_common(flow, copy.deepcopy(crm_record), ctx), current, ctx)


def crm_patch_for(flow_name: str, mc_record: dict[str, Any]) -> dict[str, Any]:
    flow = flow_by_name(flow_name)
    return common_to_crm_patch(flow, mc_to_common(flow, copy.deepcopy(mc_record), context()))


def golden_id(golden: Golden) -> str:
    return f"{golden.flow}: {golden.name}"


# --- the golden set itself ------------------------------------------------------------------------------


def test_every_flow_has_golden_examples():
    assert {golden.flow for golden in GOLDEN} == {flow.name for flow in FLOWS}


@pytest.mark.parametrize("flow_name", sorted(MC_OWNED))
def test_every_owned_field_has_a_value_in_some_golden_example(flow_name):
    """Each row of Part B is exercised with a value on both sides, not only with nulls."""
    examples = [golden for golden in GOLDEN if golden.flow == flow_name]
    crm_empty = [name for name in CRM_OWNED[flow_name] if all(g.crm.get(name) is None for g in examples)]
    mc_empty = [path for path in MC_OWNED[flow_name] if all(mc_path(g.mc, path) is None for g in examples)]
    assert (crm_empty, mc_empty) == ([], [])


def test_golden_countries_are_the_sandbox_list():
    served = {(country_id, name, alpha2) for country_id, name, alpha2 in COUNTRIES}
    assert {(c["id"], c["name"], c["iso2Letter"]) for c in COUNTRIES_RESULT} <= served


# --- both directions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("golden", GOLDEN, ids=golden_id)
def test_crm_record_maps_to_the_golden_membercare_values(golden):
    body = mc_body_for(golden.flow, golden.crm, None)
    expected = expected_mc(golden)
    actual = {path: mc_path(body, path) for path in expected}
    assert typed(actual) == typed(expected), golden.why


@pytest.mark.parametrize("golden", GOLDEN, ids=golden_id)
def test_membercare_record_maps_to_the_golden_crm_patch(golden):
    patch = crm_patch_for(golden.flow, golden.mc)
    assert typed(patch) == typed(expected_crm_patch(golden)), golden.why


@pytest.mark.parametrize("golden", GOLDEN, ids=golden_id)
def test_golden_pair_is_in_sync_under_the_mapping(golden):
    flow, ctx = flow_by_name(golden.flow), context()
    crm_values = crm_to_common(flow, copy.deepcopy(golden.crm), ctx)
    mc_values = mc_to_common(flow, copy.deepcopy(golden.mc), ctx)
    assert disagreeing_fields(flow, crm_values, mc_values) == []


# --- enum and boolean rows ------------------------------------------------------------------------------


def _forward(row: EnumRow) -> list[tuple[EnumRow, Any, Any]]:
    return [(row, crm_value, mc_value) for crm_value, mc_value in row.to_mc]


def _backward(row: EnumRow) -> list[tuple[EnumRow, Any, Any]]:
    return [(row, mc_value, crm_value) for mc_value, crm_value in row.to_crm]


def _enum_id(case: Any) -> str:
    if isinstance(case, EnumRow):
        return f"{case.flow}.{case.crm_field}"
    return repr(case)


@pytest.mark.parametrize(("row", "crm_value", "mc_value"), [c for r in ENUM_ROWS for c in _forward(r)],
                         ids=_enum_id)
def test_enum_value_to_membercare(row, crm_value, mc_value):
    body = mc_body_for(row.flow, {**row.base.crm, row.crm_field: crm_value}, None)
    assert typed(body[row.mc_field]) == typed(mc_value)


@pytest.mark.parametrize(("row", "mc_value", "crm_value"), [c for r in ENUM_ROWS for c in _backward(r)],
                         ids=_enum_id)
def test_enum_value_to_crm(row, mc_value, crm_value):
    patch = crm_patch_for(row.flow, {**row.base.mc, row.mc_field: mc_value})
    assert typed(patch[row.crm_field]) == typed(crm_value)


@pytest.mark.parametrize("row", ENUM_ROWS, ids=_enum_id)
def test_enum_agreement_matrix(row):
    """A pair is in sync exactly when either direction's table takes one value onto the other (Part B)."""
    flow, ctx = flow_by_name(row.flow), context()
    crm_values = dict.fromkeys(crm for crm, _ in row.to_mc)
    mc_values = dict.fromkeys(mc for mc, _ in row.to_crm)
    wrong = []
    for crm_value in crm_values:
        for mc_value in mc_values:
            expected = (crm_value, mc_value) in row.to_mc or (mc_value, crm_value) in row.to_crm
            crm_common = crm_to_common(flow, {**row.base.crm, row.crm_field: crm_value}, ctx)
            mc_common = mc_to_common(flow, {**row.base.mc, row.mc_field: mc_value}, ctx)
            agrees = row.crm_field not in disagreeing_fields(flow, crm_common, mc_common)
            if agrees != expected:
                wrong.append((crm_value, mc_value, "agrees" if agrees else "disagrees"))
    assert wrong == []


# --- what a full-replacement PUT keeps ------------------------------------------------------------------


@pytest.mark.parametrize("case", PRESERVED, ids=lambda case: f"{case.flow}: {case.name}")
def test_put_body_onto_an_existing_record_is_the_golden_body(case):
    existing = copy.deepcopy(case.existing)
    body = mc_body_for(case.flow, case.crm, existing)
    assert typed(body) == typed(case.expected_put)
    assert existing == case.existing  # the current record is copied, never changed in place


def test_gender_is_not_mapped():
    """Part B has no gender row: a create does not send one, and a person's gender never reaches the CRM."""
    person = next(g for g in GOLDEN if g.flow == "contacts_persons")
    assert "gender" not in mc_body_for(person.flow, person.crm, None)
    patches = [crm_patch_for(person.flow, {**person.mc, "gender": gender}) for gender in (0, 1, 2)]
    assert patches[0] == patches[1] == patches[2]
    assert "gender" not in patches[0]


def test_contact_person_under_a_person_debtor_is_not_carried():
    order = next(g for g in GOLDEN if g.name == "private order: the contact's person pays")
    stray = {**order.mc, "contactPersonDebtorAccountNumber": "20011"}
    assert crm_patch_for(order.flow, stray) == expected_crm_patch(order)  # contact_id 32, from the debtor
    flow, ctx = flow_by_name(order.flow), context()
    crm_values = crm_to_common(flow, copy.deepcopy(order.crm), ctx)
    assert disagreeing_fields(flow, crm_values, mc_to_common(flow, stray, ctx)) == []
