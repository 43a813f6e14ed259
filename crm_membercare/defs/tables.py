"""Table metadata for the UI: each table asset's name and columns, and each flow's column lineage.

The lineage is `dagster/column_lineage` (drawn as a graph by Dagster+, shown as JSON by open-source Dagster)
and, so that it reads in any UI, the first words of each mapped column's description ("from
`crm.contacts.email` and `membercare.persons.raw.contacts[Email].value`: ...").

Generated from `RAW_TABLES` and `mapping.FLOWS`, so the property tables of DESIGN Part B appear in the
Dagster UI as column lineage: a link table's `email` comes from `crm.contacts.email` and from the persons'
`raw.contacts[Email].value`; the change set to MemberCare's `contacts[Email].value` comes from that
`email`. A field the raw table has no typed column for is named by its path inside the `raw` JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from crm_membercare.defs import keys
from crm_membercare.engine.operations import TO_MEMBERCARE
from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.flows import Flow

TABLE_NAME, COLUMN_SCHEMA, COLUMN_LINEAGE = "dagster/table_name", "dagster/column_schema", "dagster/column_lineage"

RAW_COMMON = (
    ("id", None, "the record's id in its system"),
    ("changed_at", "TIMESTAMPTZ", "the change marker as an instant (UTC)"),
    ("change_marker", "VARCHAR", "updated_at / lastChange exactly as the system sent it"),
    ("version", "BIGINT", "CustomCRM's version (NULL for MemberCare)"),
    ("external_id", "VARCHAR", "external_ref / externalId: the counterpart's identity"),
    ("gone", "VARCHAR", "NULL while live; archived, closed or deleted"),
)
RAW_TAIL = (("raw", "JSON", "the whole record as the API returned it"),
            ("extracted_at", "TIMESTAMPTZ", "when this version was stored"))
LINK_COLUMNS = (
    ("flow", "VARCHAR", "the flow"), ("crm_id", "BIGINT", "the CustomCRM record"),
    ("mc_id", "VARCHAR", "the MemberCare record"), ("state", "VARCHAR", "active or ended"),
    ("linked_by", "VARCHAR", "match, create or external_id"),
    ("ended_reason", "VARCHAR", "why an ended link ended"),
)
OUTBOX_COLUMNS = (
    ("id", "BIGINT", "outbox id"), ("flow", "VARCHAR", "the flow"), ("direction", "VARCHAR", "to_membercare / to_crm"),
    ("operation", "VARCHAR", "create, update, delete, credit or stamp"), ("crm_id", "BIGINT", "the CRM record"),
    ("mc_id", "VARCHAR", "the MemberCare record"), ("status", "VARCHAR", "pending, waiting or held while open"),
    ("reason", "VARCHAR", "why it waits or is held"), ("fields", "JSON", "the fields it changes"),
)
CONFLICT_COLUMNS = (
    ("id", "BIGINT", "event id"), ("cycle_id", "BIGINT", "the cycle that saw it"), ("flow", "VARCHAR", "the flow"),
    ("crm_id", "BIGINT", "the CRM record"), ("mc_id", "VARCHAR", "the MemberCare record"),
    ("field", "VARCHAR", "the field edited on both sides"), ("crm_value", "JSON", "the CRM's value"),
    ("membercare_value", "JSON", "MemberCare's value"), ("base_value", "JSON", "the value both last agreed on"),
    ("winner", "VARCHAR", "crm or membercare"), ("policy", "VARCHAR", "the policy that chose"),
    ("at", "TIMESTAMPTZ", "when"),
)
REJECT_COLUMNS = (
    ("id", "BIGINT", "event id"), ("cycle_id", "BIGINT", "the cycle that saw it"), ("flow", "VARCHAR", "the flow"),
    ("side", "VARCHAR", "crm or membercare: the record's system"), ("record_id", "VARCHAR", "the record"),
    ("field", "VARCHAR", "the field at fault"), ("reason", "VARCHAR", "the server's or the mapping's message"),
    ("value", "VARCHAR", "the value at fault"), ("open", "BOOLEAN", "still unresolved"), ("at", "TIMESTAMPTZ", "when"),
)


def schema(columns) -> dg.TableSchema:
    return dg.TableSchema([dg.TableColumn(name, kind or "VARCHAR", description=text) for name, kind, text in columns])


# --- raw tables ----------------------------------------------------------------------------------------

def _typed_column(table: RawTable, api_field: str) -> str | None:
    return next((column for column, _, field in table.columns if field == api_field), None)


def raw_column(table: RawTable, field: str) -> str:
    """The raw table's column holding an API field: its typed column, or its path inside `raw`."""
    if field == table.id_field:
        return "id"
    return _typed_column(table, field) or f"raw.{field}"


def raw_metadata(table: RawTable, flows: tuple[Flow, ...]) -> dict:
    columns = [(name, kind or table.id_type, text) for name, kind, text in RAW_COMMON]
    columns += [(column, kind, f"API field `{field}`") for column, kind, field in table.columns]
    columns += list(RAW_TAIL)
    typed = {name for name, _, _ in columns}
    for path in dict.fromkeys(p for flow in flows for p in _paths_in(flow, table)):
        column = raw_column(table, path)
        if column not in typed:
            columns.append((column, "JSON path", f"`{path}` inside `raw` (mapped, not a column of its own)"))
            typed.add(column)
    return {TABLE_NAME: table.name, COLUMN_SCHEMA: schema(columns)}


def _paths_in(flow: Flow, table: RawTable) -> list[str]:
    if table.system == Side.CRM and table.resource == flow.crm_resource:
        return [field for column in mapped_columns(flow).values() for field in column.crm_fields]
    if table.system == Side.MEMBERCARE and table.resource == flow.mc_resource:
        return [path for column in mapped_columns(flow).values() for path in column.mc_paths]
    return []


# --- a flow's mapped columns ---------------------------------------------------------------------------

@dataclass(frozen=True)
class MappedColumn:
    crm_fields: tuple[str, ...]
    mc_paths: tuple[str, ...]
    mc_type: str


def mapped_columns(flow: Flow) -> dict[str, MappedColumn]:
    """The flow's property table as columns of its link table: a row's key, or one column per item field."""
    columns: dict[str, MappedColumn] = {}
    for row in flow.rows:
        if row.items:
            for item in row.items:
                columns[item.crm] = MappedColumn((item.crm,), (item.membercare,), item.mc_type)
        else:
            columns[row.key] = MappedColumn(row.crm_fields, row.mc_paths, row.mc_type)
    return columns


def _short_type(mc_type: str) -> str:
    return mc_type.split(" ", 1)[0].rstrip(":(").lower() or "value"


def links_metadata(flow: Flow) -> dict:
    crm, mc = flow.crm, flow.mc
    mapped = mapped_columns(flow)
    columns = list(LINK_COLUMNS) + [
        (name, _short_type(m.mc_type),
         f"from {' + '.join(f'`{crm.name}.{raw_column(crm, f)}`' for f in m.crm_fields)} and "
         f"{' + '.join(f'`{mc.name}.{raw_column(mc, p)}`' for p in m.mc_paths)}: the mapped value as both sides "
         f"last agreed (`base_crm` / `base_mc`), {m.mc_type}") for name, m in mapped.items()]
    lineage = {
        "crm_id": [dg.TableColumnDep(asset_key=keys.raw_key(crm), column_name="id")],
        "mc_id": [dg.TableColumnDep(asset_key=keys.raw_key(mc), column_name="id")],
    }
    for name, m in mapped.items():
        lineage[name] = [dg.TableColumnDep(asset_key=keys.raw_key(crm), column_name=raw_column(crm, f))
                         for f in m.crm_fields]
        lineage[name] += [dg.TableColumnDep(asset_key=keys.raw_key(mc), column_name=raw_column(mc, p))
                          for p in m.mc_paths]
    return {TABLE_NAME: "sync.links", COLUMN_SCHEMA: schema(columns),
            COLUMN_LINEAGE: dg.TableColumnLineage(lineage)}


def changes_metadata(flow: Flow, direction: str) -> dict:
    """A change set's columns: the outbox row, and the target's fields it writes, each from the link table."""
    to_mc = direction == TO_MEMBERCARE
    links = keys.links_key(flow)
    columns = list(OUTBOX_COLUMNS)
    lineage: dict[str, list[dg.TableColumnDep]] = {
        "crm_id": [dg.TableColumnDep(asset_key=links, column_name="crm_id")],
        "mc_id": [dg.TableColumnDep(asset_key=links, column_name="mc_id")],
    }
    for name, m in mapped_columns(flow).items():
        for target in (m.mc_paths if to_mc else m.crm_fields):
            column = f"payload.{target}"
            lineage.setdefault(column, []).append(dg.TableColumnDep(asset_key=links, column_name=name))
    system = "MemberCare" if to_mc else "CustomCRM"
    for column, deps in lineage.items():
        if column.startswith("payload."):
            sources = " + ".join(f"`{keys.label(links)}.{d.column_name}`" for d in deps)
            columns.append((column, "payload field", f"from {sources}: written to {system} `{column[8:]}`"))
    return {TABLE_NAME: "sync.outbox", COLUMN_SCHEMA: schema(columns), COLUMN_LINEAGE: dg.TableColumnLineage(lineage)}
