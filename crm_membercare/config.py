"""Settings from the environment (DESIGN A0). Defaults serve the local sandboxes; real systems change only these.

Credentials are read here and handed to the clients; they are never logged, stored or put in messages.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from crm_membercare.systems.customcrm import CustomCrmClient
from crm_membercare.systems.membercare import MemberCareClient

DEFAULT_STATE_PATH = "data/state.duckdb"
LEGACY_STATE_PATH = "data/sync.duckdb"  # the first release's default, taken over by `resolve_state_path`
ANALYTICS_NAME = "analytics.duckdb"
# A direct DuckDB connection names its catalog after the file's stem: a file named like one of the state's
# schemas makes `sync.links` ambiguous between that catalog and the schema.
RESERVED_STEMS = ("crm", "membercare", "sync")
CONFLICT_POLICIES = ("newest", "crm", "membercare")

log = logging.getLogger("crm_membercare.state")
# Every variable `Settings.from_env` reads (docs/configuration.md).
ENVIRONMENT = (
    "CUSTOMCRM_BASE_URL", "CUSTOMCRM_TOKEN", "MEMBERCARE_BASE_URL", "MEMBERCARE_API_KEY", "CRM_MEMBERCARE_DB",
    "CRM_MEMBERCARE_ANALYTICS_DB", "CRM_MEMBERCARE_SENSOR_INTERVAL", "CRM_MEMBERCARE_CONFLICT_POLICY",
    "CRM_MEMBERCARE_DELETE_POLICY", "CRM_MEMBERCARE_IDS_INTERVAL", "CRM_MEMBERCARE_DUCKDB_MEMORY",
    "CRM_MEMBERCARE_PAGE_SIZE",
)
DELETE_POLICIES = ("propagate", "unlink", "ignore")


def parse_policies(text: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """'contacts_persons=crm,orders_invoices=membercare' -> {flow: policy}; names are checked, not guessed."""
    from crm_membercare.mapping.flows import FLOWS

    known = {flow.name for flow in FLOWS}
    policies: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        flow, _, policy = item.partition("=")
        if flow.strip() not in known or policy.strip() not in allowed:
            raise ValueError(
                f"bad policy {item!r}: expected FLOW=POLICY, FLOW in {sorted(known)}, POLICY in {allowed}"
            )
        policies[flow.strip()] = policy.strip()
    return policies


@dataclass(frozen=True)
class Settings:
    customcrm_base_url: str = "http://127.0.0.1:8101/api/v1"
    customcrm_token: str = field(default="sandbox-crm-token", repr=False)
    membercare_base_url: str = "http://127.0.0.1:8102/api/v1"
    membercare_api_key: str = field(default="sandbox-membercare-key", repr=False)
    db_path: str = DEFAULT_STATE_PATH
    analytics_db: str = f"data/{ANALYTICS_NAME}"  # the analysts' copy (DESIGN C13)
    sensor_interval_s: int = 30
    conflict_policy: dict[str, str] = field(default_factory=dict)  # flow -> newest | crm | membercare
    delete_policy: dict[str, str] = field(default_factory=dict)  # flow -> propagate | unlink | ignore
    ids_interval_s: float = 0.0  # how often MemberCare's `/ids` are compared; 0 = every cycle (DESIGN C1)
    duckdb_memory_limit: str = "512MB"  # DuckDB's share of the sync process's memory (it spills beyond it)
    page_size: int = 0  # records per list request; 0 = each API's maximum (1000 CustomCRM, 500 MemberCare)
    # The variables that were set: Dagster's resources name those (`dg.EnvVar`) rather than carry their values.
    from_environment: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """The one place settings are read: the CLI, the Dagster code location and the bench all call it."""
        env = os.environ if environ is None else environ
        defaults = cls()
        db_path = env.get("CRM_MEMBERCARE_DB", defaults.db_path)
        return cls(
            customcrm_base_url=env.get("CUSTOMCRM_BASE_URL", defaults.customcrm_base_url),
            customcrm_token=env.get("CUSTOMCRM_TOKEN", defaults.customcrm_token),
            membercare_base_url=env.get("MEMBERCARE_BASE_URL", defaults.membercare_base_url),
            membercare_api_key=env.get("MEMBERCARE_API_KEY", defaults.membercare_api_key),
            db_path=db_path,
            # Unset, the analysts' copy lives beside the state (data/analytics.duckdb beside the default).
            analytics_db=env.get("CRM_MEMBERCARE_ANALYTICS_DB") or str(Path(db_path).parent / ANALYTICS_NAME),
            sensor_interval_s=int(env.get("CRM_MEMBERCARE_SENSOR_INTERVAL", defaults.sensor_interval_s)),
            conflict_policy=parse_policies(env.get("CRM_MEMBERCARE_CONFLICT_POLICY", ""), CONFLICT_POLICIES),
            delete_policy=parse_policies(env.get("CRM_MEMBERCARE_DELETE_POLICY", ""), DELETE_POLICIES),
            ids_interval_s=float(env.get("CRM_MEMBERCARE_IDS_INTERVAL", defaults.ids_interval_s)),
            duckdb_memory_limit=env.get("CRM_MEMBERCARE_DUCKDB_MEMORY", defaults.duckdb_memory_limit),
            page_size=int(env.get("CRM_MEMBERCARE_PAGE_SIZE", defaults.page_size)),
            from_environment=frozenset(name for name in ENVIRONMENT if name in env),
        )

    def customcrm_client(self, **options) -> CustomCrmClient:
        return CustomCrmClient(self.customcrm_base_url, self.customcrm_token, **options)

    def membercare_client(self, **options) -> MemberCareClient:
        return MemberCareClient(self.membercare_base_url, self.membercare_api_key, **options)


class StatePathError(ValueError):
    """A state or analytics path that cannot work; the message is one line for the operator."""


def resolve_state_path(settings: Settings) -> Path:
    """The state file every entry point opens: the first release's `data/sync.duckdb` (and its WAL) is
    renamed to `data/state.duckdb` when the default is in use and the new file does not exist yet; any other
    file named `crm`, `membercare` or `sync` is refused."""
    path = Path(settings.db_path)
    legacy, default = Path(LEGACY_STATE_PATH), Path(DEFAULT_STATE_PATH)
    if path in (legacy, default):
        if legacy.exists() and not default.exists():
            for suffix in ("", ".wal"):
                if Path(f"{legacy}{suffix}").exists():
                    os.replace(f"{legacy}{suffix}", f"{default}{suffix}")
            log.warning("took over the first release's state file %s as %s", legacy, default)
        return default
    if path.stem.lower() in RESERVED_STEMS:
        raise StatePathError(f"CRM_MEMBERCARE_DB={path} is refused: a file named {path.name!r} would make "
                             f"`{path.stem}.…` ambiguous in DuckDB; name it e.g. {path.with_name('state.duckdb')}")
    return path


def resolve_analytics_path(settings: Settings) -> Path:
    """The analysts' file: refused when named like a schema (its readers connect to it directly) or when it is
    the state file itself."""
    path = Path(settings.analytics_db)
    if path.stem.lower() in RESERVED_STEMS:
        raise StatePathError(f"CRM_MEMBERCARE_ANALYTICS_DB={path} is refused: a file named {path.name!r} would "
                             f"make `{path.stem}.…` ambiguous in DuckDB; name it e.g. "
                             f"{path.with_name(ANALYTICS_NAME)}")
    if path.resolve() == resolve_state_path(settings).resolve():
        raise StatePathError(f"CRM_MEMBERCARE_ANALYTICS_DB={path} is the state file itself: give analysts "
                             f"their own file, e.g. {path.with_name(ANALYTICS_NAME)}")
    return path
