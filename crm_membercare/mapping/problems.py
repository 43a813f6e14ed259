"""What can go wrong while mapping a record, as values and exceptions the engine can act on.

- `FieldProblem(field, reason, value)`: one field the target would reject (or that cannot be mapped at all),
  in words an operator understands. The engine turns these into rejects.
- `MappingRejected(problems)`: raised by the mapping functions when one or more fields cannot be converted
  (an unknown country, a status with no counterpart). Permanent: retrying will not help.
- `UnresolvedReference(flow, field, through, record_id)`: a reference whose target is not linked yet.
  Temporary: the engine leaves the change pending until the referenced record is linked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    field: str
    reason: str
    value: Any = None


class MappingError(Exception):
    """Base of the mapping layer's exceptions."""


class MappingRejected(MappingError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in self.problems))


class UnresolvedReference(MappingError):
    def __init__(self, flow: str, field: str, through: str, record_id: Any) -> None:
        self.flow, self.field, self.through, self.record_id = flow, field, through, record_id
        super().__init__(f"{flow}.{field}: {record_id!r} is not linked yet through {through}")


class ValueProblem(Exception):
    """Raised by a value transform; the caller adds the field name and turns it into a FieldProblem."""

    def __init__(self, reason: str, value: Any, subfield: str = "") -> None:
        # `subfield` locates the value inside a list row, e.g. "[2].quantity" within "lines".
        self.reason, self.value, self.subfield = reason, value, subfield
        super().__init__(reason)


class MissingLink(Exception):
    """Raised by a reference transform; the caller adds flow and field and raises UnresolvedReference."""

    def __init__(self, through: str, record_id: Any) -> None:
        self.through, self.record_id = through, record_id
        super().__init__(f"{record_id!r} not linked through {through}")
