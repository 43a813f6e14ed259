"""Records ↔ mapped values: what the engine calls.

    crm_to_common(flow, crm_record, ctx=None) -> {row key: common value}
    mc_to_common(flow, mc_record, ctx)        -> {row key: common value}
    common_to_crm_patch(flow, values, fields=None) -> CustomCRM PATCH/POST body
    apply_common_to_mc(flow, values, current, ctx, fields=None) -> full MemberCare PUT/POST body

Both readers give every row's value in one common space (see `transforms`): CRM-side names, E.164 phones,
ISO dates, alpha-2 countries, decimals as exact strings, CRM enum values, references as CRM ids (an
invoice's debtor as "customers:12" / "contacts:7"). Compare them with `canonical.fields_agree`.

The writers take the whole common record in `values` (a row may depend on another: a title travels only
with a company) and write the rows named in `fields` (default: every key of `values`). The CRM patch leaves
out rows the CRM does not accept (`direction == "to_membercare"`); the CRM patch needs no context because
references are CRM ids already. The MemberCare body starts from a deep copy of `current` (None for a
create), so every field, contact, address and employment the flow does not own is sent back unchanged, as a
full-replacement PUT requires; an invoice flow stamps its `invoiceType`.

Errors: a value with no counterpart (unknown country, unknown status) raises `MappingRejected` with every
such field; a reference to a record not yet linked raises `UnresolvedReference` (checked first: once the
reference is linked the record may map cleanly).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from crm_membercare.mapping.flows import Flow
from crm_membercare.mapping.links import MappingContext
from crm_membercare.mapping.problems import (
    FieldProblem,
    MappingRejected,
    MissingLink,
    UnresolvedReference,
    ValueProblem,
)
from crm_membercare.mapping.rows import PropertyRow


def _each_row(flow: Flow, rows: Iterable[PropertyRow], step: Callable[[PropertyRow], None]) -> None:
    """Run `step` on every row, collecting value problems; raise the first unresolved link, else all problems."""
    problems: list[FieldProblem] = []
    for row in rows:
        try:
            step(row)
        except MissingLink as missing:
            raise UnresolvedReference(flow.name, row.key, missing.through, missing.record_id) from None
        except ValueProblem as problem:
            problems.append(FieldProblem(row.key + problem.subfield, problem.reason, problem.value))
    if problems:
        raise MappingRejected(problems)


def crm_to_common(flow: Flow, record: Mapping[str, Any], ctx: MappingContext | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {}

    def read(row: PropertyRow) -> None:
        values[row.key] = row.transform.read_crm(record, ctx)

    _each_row(flow, flow.rows, read)
    return values


def mc_to_common(flow: Flow, record: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    values: dict[str, Any] = {}

    def read(row: PropertyRow) -> None:
        values[row.key] = row.transform.read_mc(record, ctx)

    _each_row(flow, flow.rows, read)
    return values


def _selected(flow: Flow, values: Mapping[str, Any], fields: Iterable[str] | None) -> list[PropertyRow]:
    wanted = set(values if fields is None else fields)
    unknown = wanted - set(flow.keys)
    if unknown:
        raise KeyError(f"flow {flow.name} has no rows {sorted(unknown)}")
    return [row for row in flow.rows if row.key in wanted]


def common_to_crm_patch(
    flow: Flow, values: Mapping[str, Any], fields: Iterable[str] | None = None
) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    rows = [row for row in _selected(flow, values, fields) if row.direction != "to_membercare"]
    _each_row(flow, rows, lambda row: row.transform.write_crm(values.get(row.key), values, patch))
    return patch


def apply_common_to_mc(
    flow: Flow,
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    ctx: MappingContext,
    fields: Iterable[str] | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = copy.deepcopy(dict(current)) if current is not None else {}
    if flow.mc_split is not None:
        field, part = flow.mc_split
        record[field] = part
    rows = [row for row in _selected(flow, values, fields) if row.direction != "to_crm"]
    _each_row(flow, rows, lambda row: row.transform.write_mc(values.get(row.key), values, record, ctx))
    return record
