"""The raw tables: one per declared resource (`crm_membercare.resources`), named `system.resource`.

Every raw table has the declaration's typed columns (what an analyst can query without unpacking `raw` JSON),
and also its key, its change marker, its external identity, whether it is gone (archived / closed /
hard-deleted), the whole record as `raw` JSON, and when it was extracted (engine/state.py writes the DDL).
A raw table *is* its resource's declaration: `RawTable` is `Resource`.
"""

from __future__ import annotations

from collections.abc import Iterable

from crm_membercare.mapping.flows import Flow
from crm_membercare.resources import DECLARED, Resource, declared

RawTable = Resource

RAW_TABLES: tuple[RawTable, ...] = DECLARED
RAW_BY_RESOURCE = {(t.system, t.resource): t for t in RAW_TABLES}


def raw_table(system: str, resource: str) -> RawTable:
    """A declared resource's raw table (for a flow's own, read `flow.crm` and `flow.mc`)."""
    return declared(system, resource)


def tables_of(flows: Iterable[Flow]) -> tuple[RawTable, ...]:
    """The raw tables these flows read: the declared ones in their declared order, then any other."""
    used = {table for flow in flows for table in (flow.crm, flow.mc)}
    return (*(t for t in RAW_TABLES if t in used), *sorted(used - set(RAW_TABLES), key=lambda t: t.name))
