"""The `/_sandbox/` admin API both sandboxes serve: reset, seed, faults, stats, clock (no auth, loopback only).

Having no credential, it must not be reachable from a web page the operator happens to open: a page can send
requests to 127.0.0.1 (a cross-site form or `fetch`), or make its own name resolve to 127.0.0.1 (DNS
rebinding). So every admin request must name a loopback host in `Host`, come from no other origin than the
server's own (an `Origin` header, which browsers send on such requests, on a loopback name and this port), and
a POST or PUT must say `Content-Type: application/json` (which a page cannot send cross-site without the
server's consent). The system APIs under /api/v1 are not concerned: they have credentials.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
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


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _authority(text: str, scheme: str = "") -> tuple[str | None, int | None]:
    """(host, port) of `host[:port]` or of an origin `scheme://host[:port]`; (None, None) when malformed."""
    try:
        parts = urlsplit(text if scheme else f"//{text}")
        if scheme and (parts.scheme != scheme or parts.path or parts.query or parts.fragment):
            return None, None
        return parts.hostname, parts.port
    except ValueError:
        return None, None


def same_machine_only(request: Request) -> None:
    """Refuse what a web page could send: a non-loopback Host, a foreign Origin, a body that is not JSON."""
    host, _ = _authority(request.headers.get("host", ""))
    if not _is_loopback(host):
        raise HTTPException(403, "the admin API answers only requests whose Host is a loopback name "
                                 "(127.0.0.1, localhost, [::1])")
    origin = request.headers.get("origin")
    if origin is not None:
        origin_host, origin_port = _authority(origin, scheme="http")
        server_port = request.scope["server"][1] if request.scope.get("server") else None
        if not _is_loopback(origin_host) or (origin_port or 80) != server_port:
            raise HTTPException(403, "the admin API answers no request from another Origin than its own")
    if request.method in ("POST", "PUT"):
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise HTTPException(415, "the admin API takes Content-Type: application/json on POST and PUT")


def admin_router(store: SeedableStore, injector: FaultInjector, clock: SandboxClock) -> APIRouter:
    router = APIRouter(prefix="/_sandbox", tags=["sandbox admin"], dependencies=[Depends(same_machine_only)])

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
