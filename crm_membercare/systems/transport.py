"""The HTTP plumbing both clients share: one pooled httpx client, retries, and error translation.

Retry rules, chosen so that no retry can create a duplicate:
- reads and idempotent writes (GET, PUT, PATCH, DELETE) are retried on timeouts, connection errors, 5xx
  and 429;
- non-idempotent writes (POST) are retried only when the request provably did not reach the store (a
  connection that never opened, or a 429, which the server answers before touching anything); any other
  failure raises `OutcomeUnknown`, and the caller looks the record up by its external id before trying again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import orjson

from crm_membercare.systems import redaction
from crm_membercare.systems.base_url import check_base_url
from crm_membercare.systems.errors import (
    Conflict,
    FieldError,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    PreconditionFailed,
    RetryableError,
    SystemApiError,
    Unauthorized,
    ValidationFailed,
)
from crm_membercare.systems.retry import RetryPolicy

T = TypeVar("T")
R = TypeVar("R")

IDEMPOTENT = frozenset({"GET", "PUT", "PATCH", "DELETE"})
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class Transport:
    """A pooled httpx client bound to one system's base URL.

    Subclasses say how to authenticate (`auth_headers`, `refresh_auth`) and how the system spells its
    errors (`parse_error`), and name their base URL's setting and credential for the transport check.
    """

    system = "system"
    base_url_setting = "the base URL"
    credential = "credential"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_connections: int = 16,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_base_url(base_url, self.base_url_setting, self.credential)  # before any connection exists
        redaction.install()  # httpx's loggers redact credentials before this client's first request is logged
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.max_connections = max_connections
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    # --- what a subclass provides -------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {}

    def refresh_auth(self, rejected_headers: dict[str, str]) -> bool:
        """Called on a 401; return True when new credentials were obtained and the call may be retried."""
        return False

    def parse_error(self, response: httpx.Response) -> tuple[str | None, str, tuple[FieldError, ...]]:
        """(code, message, field errors) from an error response."""
        return None, response.reason_phrase, ()

    # --- lifecycle ----------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- requests -----------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send one call with retries; return the successful response or raise a `SystemApiError`."""
        refreshed = False
        attempt = 0
        while True:
            auth = self.auth_headers() if authenticated else {}
            try:
                response = self._http.request(
                    method, path, params=_drop_none(params), json=json, headers={**auth, **(headers or {})}
                )
            except httpx.TransportError as error:
                failure = self._transport_failure(method, path, error)
            else:
                if response.status_code < 400:
                    return response
                if response.status_code == 401 and authenticated and not refreshed:
                    refreshed = True
                    if self.refresh_auth(auth):
                        continue
                failure = self._http_failure(method, path, response)
            if not isinstance(failure, RetryableError) or isinstance(failure, OutcomeUnknown):
                raise failure
            attempt += 1
            if attempt >= self.retry.attempts:
                raise failure
            self._sleep(self.retry.delay(attempt - 1, failure.retry_after))

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET and parse the body: orjson for speed (a page is parsed on a reader thread while the GIL is
        wanted elsewhere), the standard library for what orjson refuses (an integer past 64 bits, NaN)."""
        content = self.request("GET", path, params=params).content
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            return json.loads(content)

    def _transport_failure(self, method: str, path: str, error: httpx.TransportError) -> SystemApiError:
        never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        kind = RetryableError if method in IDEMPOTENT or never_sent else OutcomeUnknown
        return kind(self.system, method, path, None, f"{type(error).__name__}: {error}")

    def _http_failure(self, method: str, path: str, response: httpx.Response) -> SystemApiError:
        status = response.status_code
        code, message, field_errors = self.parse_error(response)
        args = (self.system, method, path, status, message)
        if status == 429:
            return RetryableError(*args, code=code, retry_after=_retry_after(response))
        if status >= 500:
            kind = RetryableError if method in IDEMPOTENT else OutcomeUnknown
            return kind(*args, code=code)
        kinds: dict[int, type[PermanentError]] = {
            400: ValidationFailed,
            401: Unauthorized,
            404: NotFound,
            409: Conflict,
            412: PreconditionFailed,
            422: ValidationFailed,
        }
        return kinds.get(status, PermanentError)(*args, code=code, field_errors=field_errors)

    def map_bounded(self, work: Callable[[T], R], items: list[T], workers: int | None = None) -> list[R | Exception]:
        """Run `work` over `items` with at most `workers` requests in flight (default: the pool size).

        Each item's outcome is its result or the exception it raised, in input order: one failure never
        stops the others.
        """

        def outcome(item: T) -> R | Exception:
            try:
                return work(item)
            except SystemApiError as error:
                return error

        workers = max(1, min(workers or self.max_connections, len(items) or 1))
        if workers == 1:
            return [outcome(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.system}-io") as pool:
            return list(pool.map(outcome, items))


def _drop_none(params: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if params is None else {k: v for k, v in params.items() if v is not None}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
