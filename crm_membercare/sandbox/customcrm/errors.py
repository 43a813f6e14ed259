"""CustomCRM's error answers: `{"detail": "<message>"}`, and `{"detail": [{"loc", "msg", "type"}]}` for 422."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One reason a body was refused, located like FastAPI's own errors: ("body", "lines", 0, "unit_price")."""

    loc: tuple[str | int, ...]
    msg: str
    type: str

    def as_dict(self) -> dict:
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}


class CrmError(Exception):
    """An answer with a status and a one-line detail (404, 409, 412)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class ValidationFailed(Exception):
    """A 422: every problem found in the request, so a client can fix them all at once."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in problems))
        self.problems = problems

    def body(self) -> dict:
        return {"detail": [problem.as_dict() for problem in self.problems]}


def not_found(resource: str, record_id: int) -> CrmError:
    return CrmError(404, f"{resource} {record_id} not found")


def conflict(detail: str) -> CrmError:
    return CrmError(409, detail)
