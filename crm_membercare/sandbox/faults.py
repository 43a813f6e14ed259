"""Fault injection and request statistics shared by both sandboxes (DESIGN Part A, admin API).

Faults apply to `/api/v1/...` calls only (the token call included), never to `/_sandbox/*`.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

API_PREFIX = "/api/v1/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class FaultSettings:
    error_rate: float = 0.0
    rate_limit_per_s: float | None = None
    latency_ms: float = 0.0
    lost_response_rate: float = 0.0
    token_ttl_s: float = 900.0

    def as_dict(self) -> dict:
        return asdict(self)


class TokenBucket:
    """Holds `rate` tokens (one second of burst) and refills `rate` per second."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0 when a token was taken; otherwise the whole seconds (>= 1) to wait before asking again."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        return max(1, math.ceil((1 - self.tokens) / self.rate))


class FaultInjector:
    """The sandbox's fault settings, its random source, and its request counters."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self.settings = FaultSettings()
        self._bucket: TokenBucket | None = None
        self._random = random.Random(seed)
        self.requests: Counter[str] = Counter()
        self.faults: Counter[str] = Counter({"error": 0, "rate_limited": 0, "lost_response": 0})

    def update(self, changes: dict) -> FaultSettings:
        """Partial update: omitted fields keep their value. Raises ValueError on an unknown or bad field."""
        with self._lock:
            current = self.settings.as_dict()
            unknown = set(changes) - set(current) - {"random_seed"}
            if unknown:
                raise ValueError(f"unknown fault setting(s): {sorted(unknown)}")
            if "random_seed" in changes:
                self._random = random.Random(changes["random_seed"])
            current.update({k: v for k, v in changes.items() if k != "random_seed"})
            for name in ("error_rate", "lost_response_rate"):
                if not 0.0 <= float(current[name]) <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1")
            rate = current["rate_limit_per_s"]
            if rate is not None and float(rate) <= 0:
                raise ValueError("rate_limit_per_s must be positive or null")
            if float(current["token_ttl_s"]) <= 0 or float(current["latency_ms"]) < 0:
                raise ValueError("token_ttl_s must be positive and latency_ms not negative")
            self.settings = FaultSettings(**current)
            if rate is None:
                self._bucket = None
            elif self._bucket is None or self._bucket.rate != float(rate):
                self._bucket = TokenBucket(float(rate))
            return self.settings

    def stats(self) -> dict:
        with self._lock:
            return {"requests": dict(self.requests), "faults": dict(self.faults)}

    def clear_stats(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults.update({k: -v for k, v in self.faults.items()})

    # The three decisions the middleware asks for, each counted when it fires.
    def count_request(self, key: str) -> None:
        with self._lock:
            self.requests[key] += 1

    def retry_after(self) -> float:
        with self._lock:
            wait = self._bucket.take() if self._bucket else 0
            if wait:
                self.faults["rate_limited"] += 1
            return wait

    def injected_error(self) -> int | None:
        with self._lock:
            if self._random.random() < self.settings.error_rate:
                self.faults["error"] += 1
                return self._random.choice((500, 502, 503))
            return None

    def loses_response(self) -> bool:
        with self._lock:
            if self._random.random() < self.settings.lost_response_rate:
                self.faults["lost_response"] += 1
                return True
            return False


def stats_key(method: str, path: str) -> str:
    """'GET persons' for GET /api/v1/persons/17: the method and the first path segment after /api/v1/."""
    return f"{method} {path[len(API_PREFIX):].split('/', 1)[0]}"


def install_fault_middleware(
    app: FastAPI, injector: FaultInjector, error_body: Callable[[str], dict]
) -> None:
    """Count, rate-limit, fail and lose API calls as the injector's settings say.

    `error_body(code)` renders an error in the system's own shape ({"detail": ...} or {"error": ...}).
    """

    @app.middleware("http")
    async def inject_faults(request: Request, call_next):
        path = request.url.path
        if not path.startswith(API_PREFIX):
            return await call_next(request)
        injector.count_request(stats_key(request.method, path))
        latency = injector.settings.latency_ms
        if latency:
            await asyncio.sleep(latency / 1000)
        wait = injector.retry_after()
        if wait:
            return JSONResponse(error_body("rate_limited"), status_code=429, headers={"Retry-After": str(wait)})
        status = injector.injected_error()
        if status is not None:
            return JSONResponse(error_body("injected_fault"), status_code=status)
        response = await call_next(request)
        if request.method in WRITE_METHODS and response.status_code < 400 and injector.loses_response():
            # The write is committed; the caller only learns that something went wrong.
            return Response(status_code=503)
        return response
