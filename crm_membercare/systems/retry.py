"""Capped exponential backoff with full jitter, honouring the server's Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay_s: float = 0.1
    max_delay_s: float = 8.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt number `attempt + 1` (attempt counts from 0)."""
        backoff = min(self.max_delay_s, self.base_delay_s * 2**attempt)
        jittered = random.uniform(backoff / 2, backoff)
        if retry_after is not None:
            # The server said when; a little jitter keeps concurrent workers from returning in lockstep.
            return retry_after + random.uniform(0, min(0.5, retry_after / 4))
        return jittered


NO_RETRY = RetryPolicy(attempts=1)
