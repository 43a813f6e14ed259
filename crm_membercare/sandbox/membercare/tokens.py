"""MemberCare access tokens: issued by the token call, sent back in the `token` header, expiring.

Tokens live in memory (a restart invalidates them; a client refetches on 401). Expiry runs on the monotonic
clock, so shifting the sandbox clock for a test never expires or revives a token by accident.
"""

from __future__ import annotations

import secrets
import threading
import time


class TokenRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deadlines: dict[str, float] = {}

    def issue(self, ttl_s: float) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._deadlines = {t: d for t, d in self._deadlines.items() if d > now}
            self._deadlines[token] = now + ttl_s
        return token

    def problem(self, token: str | None) -> str | None:
        """None for a live token; otherwise the error code a 401 carries."""
        if not token:
            return "missing_token"
        with self._lock:
            deadline = self._deadlines.get(token)
        if deadline is None:
            return "invalid_token"
        if deadline <= time.monotonic():
            return "token_expired"
        return None
