"""Asset keys, groups and kinds: one naming scheme for assets, checks, jobs and sensors (DESIGN Part D)."""

from __future__ import annotations

import dagster as dg

from crm_membercare.engine.identity import CRM_SYSTEM
from crm_membercare.engine.operations import TO_CRM, TO_MEMBERCARE
from crm_membercare.engine.raw_schema import RawTable
from crm_membercare.mapping.flows import Flow

DIRECTIONS = (TO_MEMBERCARE, TO_CRM)
TARGET = {TO_MEMBERCARE: "membercare", TO_CRM: "crm"}  # the writeback key prefix of a direction
SYSTEM_KIND = {TO_MEMBERCARE: "membercare", TO_CRM: "customcrm"}
CRM_GROUP, MC_GROUP = "customcrm", "membercare"
COUNTRIES_KEY = dg.AssetKey(["membercare", "countries"])


def raw_key(table: RawTable) -> dg.AssetKey:
    return dg.AssetKey(["crm" if table.system == CRM_SYSTEM else "membercare", table.resource])


def raw_group(table: RawTable) -> str:
    return CRM_GROUP if table.system == CRM_SYSTEM else MC_GROUP


def links_key(flow: Flow) -> dg.AssetKey:
    return dg.AssetKey(["links", flow.name])


def changes_key(flow: Flow, direction: str) -> dg.AssetKey:
    return dg.AssetKey(["changes", flow.name, direction])


def writeback_key(flow: Flow, direction: str) -> dg.AssetKey:
    return dg.AssetKey(["writeback", TARGET[direction], flow.name])
