"""MemberCare's error answers: `{"error": code}` for 401/404/409, `{"errors": [...]}` for 400/422."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class ApiError(Exception):
    """An answer with a single error code, e.g. 409 {"error": "invoice_locked"}."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


class ValidationFailed(Exception):
    """A request the server will not act on, with every field error found (422, or 400 for malformed JSON)."""

    def __init__(self, errors: list[FieldError], status: int = 422) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
        self.status = status

    def body(self) -> dict:
        return {"errors": [error.as_dict() for error in self.errors]}


def not_found() -> ApiError:
    return ApiError(404, "not_found")
