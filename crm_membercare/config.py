"""Settings from the environment (DESIGN A0). Defaults serve the local sandboxes; real systems change only these.

Credentials are read here and handed to the clients; they are never logged, stored or put in messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from crm_membercare.systems.customcrm import CustomCrmClient
from crm_membercare.systems.membercare import MemberCareClient

CONFLICT_POLICIES = ("newest", "crm", "membercare")
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
    db_path: str = "data/sync.duckdb"
    sensor_interval_s: int = 30
    conflict_policy: dict[str, str] = field(default_factory=dict)  # flow -> newest | crm | membercare
    delete_policy: dict[str, str] = field(default_factory=dict)  # flow -> propagate | unlink | ignore
    ids_interval_s: float = 0.0  # how often MemberCare's `/ids` are compared; 0 = every cycle (DESIGN C1)
    duckdb_memory_limit: str = "512MB"  # DuckDB's share of the sync process's memory (it spills beyond it)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            customcrm_base_url=env.get("CUSTOMCRM_BASE_URL", defaults.customcrm_base_url),
            customcrm_token=env.get("CUSTOMCRM_TOKEN", defaults.customcrm_token),
            membercare_base_url=env.get("MEMBERCARE_BASE_URL", defaults.membercare_base_url),
            membercare_api_key=env.get("MEMBERCARE_API_KEY", defaults.membercare_api_key),
            db_path=env.get("CRM_MEMBERCARE_DB", defaults.db_path),
            sensor_interval_s=int(env.get("CRM_MEMBERCARE_SENSOR_INTERVAL", defaults.sensor_interval_s)),
            conflict_policy=parse_policies(env.get("CRM_MEMBERCARE_CONFLICT_POLICY", ""), CONFLICT_POLICIES),
            delete_policy=parse_policies(env.get("CRM_MEMBERCARE_DELETE_POLICY", ""), DELETE_POLICIES),
            ids_interval_s=float(env.get("CRM_MEMBERCARE_IDS_INTERVAL", defaults.ids_interval_s)),
            duckdb_memory_limit=env.get("CRM_MEMBERCARE_DUCKDB_MEMORY", defaults.duckdb_memory_limit),
        )

    def customcrm_client(self, **options) -> CustomCrmClient:
        return CustomCrmClient(self.customcrm_base_url, self.customcrm_token, **options)

    def membercare_client(self, **options) -> MemberCareClient:
        return MemberCareClient(self.membercare_base_url, self.membercare_api_key, **options)
