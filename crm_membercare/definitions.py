"""The Dagster code location: one `Definitions` for `dagster dev` (workspace.yaml) and `dg` ([tool.dg]).

Generated from the flows (`mapping.FLOWS`) and the raw tables (`engine.raw_schema.RAW_TABLES`); see
docs/dagster.md. Runs use the in-process executor: one run is one process, the only DuckDB writer.
"""

from __future__ import annotations

import dagster as dg

from crm_membercare.config import Settings
from crm_membercare.defs.assets import assets
from crm_membercare.defs.checks import checks
from crm_membercare.defs.jobs import jobs, schedules
from crm_membercare.defs.resources import resources_from_settings
from crm_membercare.defs.sensors import build_sensors


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        sensors=build_sensors(settings.sensor_interval_s),
        schedules=schedules,
        resources=resources_from_settings(settings),
        executor=dg.in_process_executor,
    )


# Loading the code location reads the environment, once, here (a bad policy fails the load, naming it).
defs = build_definitions(Settings.from_env())
