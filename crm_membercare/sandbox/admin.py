"""The `/_sandbox/` admin API both sandboxes serve: reset, seed, faults, stats, clock (no auth, loopback only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from crm_membercare.sandbox.clock import SandboxClock
from crm_membercare.sandbox.faults import FaultInjector

Scale = Literal["small", "medium", "large"] | dict[str, int]


class SeedRequest(BaseModel):
    seed: int = 1
    scale: Scale = "small"
    overlap: float = Field(default=0.0, ge=0.0, le=1.0)
    # Shared records carry their counterpart's sync identity, as if synced before (an extension of DESIGN A).
    stamped: bool = False


class ClockRequest(BaseModel):
    now: datetime | None = None


class SeedableStore(Protocol):
    def reset(self) -> None: ...

    def seed(self, seed: int, scale: Scale, overlap: float, stamped: bool = False) -> dict[str, int]:
        """Write deterministic fake data straight into the store; return the record count per resource."""
        ...


def admin_router(store: SeedableStore, injector: FaultInjector, clock: SandboxClock) -> APIRouter:
    router = APIRouter(prefix="/_sandbox", tags=["sandbox admin"])

    @router.post("/reset")
    def reset() -> dict[str, Any]:
        store.reset()
        return {"reset": True}

    @router.post("/seed")
    def seed(request: SeedRequest) -> dict[str, Any]:
        try:
            counts = store.seed(request.seed, request.scale, request.overlap, request.stamped)
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from error
        return {"seeded": counts}

    @router.get("/faults")
    def get_faults() -> dict[str, Any]:
        return injector.settings.as_dict()

    @router.put("/faults")
    def put_faults(changes: dict[str, Any]) -> dict[str, Any]:
        try:
            return injector.update(changes).as_dict()
        except (TypeError, ValueError) as error:
            raise HTTPException(status_code=422, detail=str(error)) from error

    @router.get("/stats")
    def get_stats() -> dict[str, Any]:
        return injector.stats()

    @router.delete("/stats", status_code=204)
    def delete_stats() -> None:
        injector.clear_stats()

    @router.get("/clock")
    def get_clock() -> dict[str, Any]:
        return {"now": clock.now().isoformat()}

    @router.put("/clock")
    def put_clock(request: ClockRequest) -> dict[str, Any]:
        """Shift the server's clock so that now is `now` (an aware instant); null goes back to real time."""
        if request.now is not None and request.now.tzinfo is None:
            raise HTTPException(status_code=422, detail="now needs an offset or Z")
        clock.set(request.now)
        return {"now": clock.now().isoformat()}

    return router
