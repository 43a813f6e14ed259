"""The words the state stores, each spelled one way: which side, which direction, what kind of write.

They are `StrEnum`s, so a value is its text in DuckDB, in JSON and in a comparison with a plain string; a
misspelling is an AttributeError at import instead of a row nobody reads.
"""

from __future__ import annotations

from enum import StrEnum

from crm_membercare import resources


class Side(StrEnum):
    """A system, as the state names it (`sync.dirty`, `sync.cursors`, rejects, ambiguous matches, keys)."""

    CRM = resources.CRM  # the declarations' spelling: a raw table's schema is its system's name
    MEMBERCARE = resources.MEMBERCARE


class Direction(StrEnum):
    """Which system an operation writes to."""

    TO_MEMBERCARE = "to_membercare"
    TO_CRM = "to_crm"


class OpKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
