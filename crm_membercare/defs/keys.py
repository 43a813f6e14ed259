"""Asset keys, groups and kinds: one naming scheme for assets, checks, jobs and sensors (DESIGN Part D).

The graph shows an asset by the last part of its key, so that part is unique across the graph and says
what the asset is on its own; the first part is the stage, which the asset catalog groups by:

    raw/crm_contacts, raw/membercare_persons, raw/membercare_countries     a system's records (= DuckDB table)
    links/contacts_persons_links                                            a flow's link table
    changes/contacts_persons_changes_to_membercare                          a flow's open changes one way
    writeback/contacts_persons_written_to_membercare                        those changes applied to the system
    operations/sync_conflicts, operations/sync_rejects                      every flow's conflicts and rejects
"""

from __future__ import annotations

import dagster as dg

from crm_membercare.engine.operations import TO_CRM, TO_MEMBERCARE
from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.engine.vocabulary import Side
from crm_membercare.mapping.flows import Flow

TARGET = {TO_MEMBERCARE: "membercare", TO_CRM: "crm"}  # the system a direction writes to, as a label word
SYSTEM_KIND = {TO_MEMBERCARE: "membercare", TO_CRM: "customcrm"}
CRM_GROUP, MC_GROUP, OPERATIONS_GROUP = "customcrm", "membercare", "operations"
COUNTRIES_KEY = dg.AssetKey(["raw", "membercare_countries"])
COUNTRIES_TABLE = "membercare.countries"
CONFLICTS_KEY = dg.AssetKey(["operations", "sync_conflicts"])
REJECTS_KEY = dg.AssetKey(["operations", "sync_rejects"])


def raw_key(table: RawTable) -> dg.AssetKey:
    return dg.AssetKey(["raw", table.name.replace(".", "_")])


def raw_group(table: RawTable) -> str:
    return CRM_GROUP if table.system == Side.CRM else MC_GROUP


def links_key(flow: Flow) -> dg.AssetKey:
    return dg.AssetKey(["links", f"{flow.name}_links"])


def changes_key(flow: Flow, direction: str) -> dg.AssetKey:
    return dg.AssetKey(["changes", f"{flow.name}_changes_{direction}"])


def writeback_key(flow: Flow, direction: str) -> dg.AssetKey:
    return dg.AssetKey(["writeback", f"{flow.name}_written_{direction}"])


def label(key: dg.AssetKey) -> str:
    return key.path[-1]
