"""Resources: the two systems' API clients and the sync engine over the DuckDB state file.

Everything is configured from the environment through `dg.EnvVar` (DESIGN A0), so the UI shows variable
names, never credentials. `SyncEngineResource` opens the state file through `dagster-duckdb`'s
`DuckDBResource` (which waits, with backoff, while another process holds the file) and both clients once
per run (the in-process executor makes a run one process), starts one cycle on first use and, at teardown,
finishes it and publishes the analysts' copy (DESIGN C13): one `sync.cycles` row per Dagster run.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from crm_membercare.config import (
    CONFLICT_POLICIES,
    DELETE_POLICIES,
    Settings,
    parse_policies,
    resolve_analytics_path,
    resolve_state_path,
)
from crm_membercare.engine import analytics, breaker, qa
from crm_membercare.engine.cycle import Cycle, EngineSettings, SyncEngine
from crm_membercare.engine.state import OWNER_ONLY, migrate
from crm_membercare.mapping.links import MappingContext
from crm_membercare.systems import CustomCrmClient, MemberCareClient

DEFAULTS = Settings()


class CustomCrmResource(dg.ConfigurableResource):
    """CustomCRM REST API v1 (`CUSTOMCRM_BASE_URL`, `CUSTOMCRM_TOKEN`)."""

    base_url: str = DEFAULTS.customcrm_base_url
    token: str

    def client(self, **options: Any) -> CustomCrmClient:
        """A new client; use it as a context manager so its connection pool is closed."""
        return CustomCrmClient(self.base_url, self.token, **options)


class MemberCareResource(dg.ConfigurableResource):
    """MemberCare REST API v1 (`MEMBERCARE_BASE_URL`, `MEMBERCARE_API_KEY`)."""

    base_url: str = DEFAULTS.membercare_base_url
    api_key: str

    def client(self, **options: Any) -> MemberCareClient:
        return MemberCareClient(self.base_url, self.api_key, **options)


def state_database(path: str, memory_limit: str = DEFAULTS.duckdb_memory_limit) -> DuckDBResource:
    """The state file as a `DuckDBResource`: DuckDB's memory capped, spilling next to the file."""
    return DuckDBResource(database=path, connection_config={"memory_limit": memory_limit,
                                                            "temp_directory": f"{path}.tmp"})


class SyncEngineResource(dg.ConfigurableResource):
    """The sync engine of one run: the state file (`CRM_MEMBERCARE_DB`), both clients, one cycle."""

    crm: CustomCrmResource
    membercare: MemberCareResource
    state: DuckDBResource
    analytics_path: str = DEFAULTS.analytics_db  # as CRM_MEMBERCARE_ANALYTICS_DB; empty: publish nothing
    conflict_policy: str = ""  # "flow=newest|crm|membercare,..." as CRM_MEMBERCARE_CONFLICT_POLICY
    delete_policy: str = ""  # "flow=propagate|unlink|ignore,..." as CRM_MEMBERCARE_DELETE_POLICY
    breaker_share: float = breaker.DEFAULT_SHARE
    breaker_minimum: int = breaker.DEFAULT_MINIMUM
    stale_outbox_cycles: int = 3
    workers: int = 8
    ids_interval_s: float = 0.0  # as CRM_MEMBERCARE_IDS_INTERVAL: MemberCare `/ids` compared every cycle (0)
    page_size: int = 0  # as CRM_MEMBERCARE_PAGE_SIZE: records per list request (0: each API's maximum)

    _stack: ExitStack | None = PrivateAttr(default=None)
    _cycle: Cycle | None = PrivateAttr(default=None)
    _log: Any = PrivateAttr(default=None)

    @property
    def db_path(self) -> str:
        return self.state.database

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._stack, self._cycle, self._log = ExitStack(), None, context.log

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        try:
            if self._cycle is not None:
                self._cycle.finish()
                if self.analytics_path:
                    published = analytics.publish(self._cycle.engine.con, self.db_path, self.analytics_path)
                    self._info(f"analysts' copy published to {self.analytics_path} "
                               f"({published.bytes / 1e6:.1f} MB in {published.seconds:.2f} s)")
        finally:
            if self._stack is not None:
                self._stack.close()
            self._stack, self._cycle = None, None

    def _info(self, message: str) -> None:
        if self._log is not None:
            self._log.info(message)

    # --- the cycle of this run, opened on first use ---------------------------------------------------
    @property
    def cycle(self) -> Cycle:
        """This run's cycle: each asset runs its step of it (engine/cycle.py), as `sync --once` runs them all."""
        if self._cycle is None:
            stack = self._stack if self._stack is not None else ExitStack()
            self._stack = stack
            con = self._open_state(stack)
            crm = stack.enter_context(self.crm.client())
            mc = stack.enter_context(self.membercare.client())
            settings = EngineSettings(
                conflict_policy=parse_policies(self.conflict_policy, CONFLICT_POLICIES),
                delete_policy=parse_policies(self.delete_policy, DELETE_POLICIES),
                breaker_share=self.breaker_share, breaker_minimum=self.breaker_minimum, workers=self.workers,
                ids_interval_s=self.ids_interval_s, page_size=self.page_size,
            )
            # The engine's progress lines go to the run's log, where the UI shows them.
            self._cycle = Cycle(SyncEngine(con, crm, mc, settings, progress=self._info))
        return self._cycle

    def _open_state(self, stack: ExitStack) -> duckdb.DuckDBPyConnection:
        # A run is a process of its own (in-process executor): what it creates (the state, its WAL, the
        # spill directory, the analysts' copy) is readable by its owner only, like the CLI's files. Set
        # here, not at setup, so a sensor that only reads `db_path` changes nothing in its process.
        os.umask(0o077)
        started = time.monotonic()
        con = stack.enter_context(self.state.get_connection())
        waited = time.monotonic() - started
        if waited > 1:
            self._info(f"waited {waited:.1f} s for the state file {self.db_path} (another process held it)")
        for path in (self.db_path, f"{self.db_path}.wal"):  # owner-only before the first record is written
            if os.path.exists(path):
                os.chmod(path, OWNER_ONLY)
        migrate(con)
        return con

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.cycle.engine.con

    @property
    def cycle_id(self) -> int:
        return self.cycle.report.cycle_id

    def qa_context(self) -> MappingContext:
        """A mapping context over the links as stored now (after this run's writebacks)."""
        return qa.context(self.con, self.cycle.engine.context.countries, self.cycle.engine.flows)


def resources_from_settings(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The resources as deployed (DESIGN A0). A value that came from the environment is passed as
    `dg.EnvVar(name)`, resolved at run time and shown by name only; an unset one takes the default that serves
    the local sandboxes. Policies are checked here, at load, by `Settings.from_env`."""

    def named(name: str, value: str) -> str:
        return dg.EnvVar(name) if name in settings.from_environment else value

    crm = CustomCrmResource(base_url=named("CUSTOMCRM_BASE_URL", settings.customcrm_base_url),
                            token=named("CUSTOMCRM_TOKEN", settings.customcrm_token))
    membercare = MemberCareResource(base_url=named("MEMBERCARE_BASE_URL", settings.membercare_base_url),
                                    api_key=named("MEMBERCARE_API_KEY", settings.membercare_api_key))
    sync = SyncEngineResource(
        crm=crm, membercare=membercare,
        state=state_database(str(resolve_state_path(settings)), settings.duckdb_memory_limit),
        analytics_path=str(resolve_analytics_path(settings)),
        conflict_policy=named("CRM_MEMBERCARE_CONFLICT_POLICY", ""),
        delete_policy=named("CRM_MEMBERCARE_DELETE_POLICY", ""),
        ids_interval_s=settings.ids_interval_s,
        page_size=settings.page_size,
    )
    return {"crm": crm, "membercare": membercare, "sync": sync}


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    return resources_from_settings(Settings.from_env())
