"""Small helpers the client tests share: clients bound to a fixture server, an admin handle, a sleep recorder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from crm_membercare.sandbox.serving import RunningServer


@dataclass
class RecordingSleep:
    """Really sleeps, and remembers for how long, so a test can see that Retry-After was honoured."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(seconds)


class Admin:
    """The `/_sandbox` admin API of one server."""

    def __init__(self, server: RunningServer) -> None:
        self._http = httpx.Client(base_url=f"{server.root_url}/_sandbox", timeout=30)

    def faults(self, **settings) -> dict:
        response = self._http.put("/faults", json=settings)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict:
        return self._http.get("/stats").json()

    def clear_stats(self) -> None:
        self._http.delete("/stats").raise_for_status()

    def set_clock(self, instant: datetime | None) -> None:
        body = {"now": instant.isoformat() if instant else None}
        self._http.put("/clock", json=body).raise_for_status()

    def close(self) -> None:
        self._http.close()
