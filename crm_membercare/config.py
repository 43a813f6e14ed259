"""Settings from the environment (DESIGN A0). Defaults serve the local sandboxes; real systems change only these.

Credentials are read here and handed to the clients; they are never logged, stored or put in messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from crm_membercare.systems.customcrm import CustomCrmClient
from crm_membercare.systems.membercare import MemberCareClient


@dataclass(frozen=True)
class Settings:
    customcrm_base_url: str = "http://127.0.0.1:8101/api/v1"
    customcrm_token: str = field(default="sandbox-crm-token", repr=False)
    membercare_base_url: str = "http://127.0.0.1:8102/api/v1"
    membercare_api_key: str = field(default="sandbox-membercare-key", repr=False)
    db_path: str = "data/sync.duckdb"
    sensor_interval_s: int = 30

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
        )

    def customcrm_client(self, **options) -> CustomCrmClient:
        return CustomCrmClient(self.customcrm_base_url, self.customcrm_token, **options)

    def membercare_client(self, **options) -> MemberCareClient:
        return MemberCareClient(self.membercare_base_url, self.membercare_api_key, **options)
