"""The Dagster code location: one `Definitions` for `dagster dev` (workspace.yaml) and `dg` ([tool.dg]).

Generated from the flows (`mapping.FLOWS`) and the raw tables (`engine.raw_schema.RAW_TABLES`); see
docs/dagster.md. Runs use the in-process executor: one run is one process, the only DuckDB writer.
"""

from __future__ import annotations

import dagster as dg

from crm_membercare.defs.assets import assets
from crm_membercare.defs.checks import checks
from crm_membercare.defs.jobs import jobs, schedules
from crm_membercare.defs.resources import resources_from_env
from crm_membercare.defs.sensors import sensors

defs = dg.Definitions(
    assets=assets,
    asset_checks=checks,
    jobs=jobs,
    sensors=sensors,
    schedules=schedules,
    resources=resources_from_env(),
    executor=dg.in_process_executor,
)
