"""The clients' exception hierarchy: retryable vs permanent, with the server's field errors attached.

Messages name the system, the method and the path (never the query string, which may carry a credential).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str


class SystemApiError(Exception):
    """Something went wrong talking to CustomCRM or MemberCare."""

    def __init__(
        self,
        system: str,
        method: str,
        path: str,
        status: int | None,
        message: str,
        *,
        code: str | None = None,
        field_errors: tuple[FieldError, ...] = (),
    ) -> None:
        self.system = system
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.field_errors = field_errors
        self.reason = message
        where = f"{system} {method} {path}"
        super().__init__(f"{where}: {status or 'no response'} {message}".rstrip())


class RetryableError(SystemApiError):
    """Transient: a timeout, a 5xx, a 429. Safe to try again later."""

    def __init__(self, *args, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class OutcomeUnknown(RetryableError):
    """A create (or other non-idempotent write) may or may not have happened: look it up before retrying."""


class PermanentError(SystemApiError):
    """The server understood and refused. Retrying the same request will fail the same way."""


class ValidationFailed(PermanentError):
    """400/422: the payload is invalid; `field_errors` says which fields and why."""


class NotFound(PermanentError):
    """404."""


class Conflict(PermanentError):
    """409: duplicate key, locked invoice, illegal status move, archived record (`code` says which)."""


class PreconditionFailed(PermanentError):
    """412: the record changed since the version we based the update on. Re-read and re-merge."""


class Unauthorized(PermanentError):
    """401 that a fresh credential did not cure: the credential itself is wrong."""
