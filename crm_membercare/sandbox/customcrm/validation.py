"""Checks a request body against the field descriptions in fields.py and returns the writable values.

The CRM is lenient where a CRM is (phones are free text, an email needs only an "@", a country only the shape
of an ISO code) and strict on types: a string where a number belongs is refused, never coerced. References are
checked against the store by the service, not here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from crm_membercare.sandbox.customcrm.errors import FieldProblem, ValidationFailed
from crm_membercare.sandbox.customcrm.fields import DOCUMENTS, FIELDS, LINE_FIELDS, MAX_ID, Field, read_only
from crm_membercare.sandbox.money import MAX_NUMBER, has_at_most_two_decimals, within_bounds

Loc = tuple[str | int, ...]
Problem = tuple[str, str]  # (message, type)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DIGITS = re.compile(r"[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: Any) -> Problem | None:
    if not isinstance(value, str):
        return "must be a string", "string_type"
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape: no store or answer can hold it
        return "is not valid Unicode text", "string_unicode"
    return None


def _matching(pattern: re.Pattern[str], message: str) -> Callable[[Any], Problem | None]:
    def check(value: Any) -> Problem | None:
        problem = _text(value)
        if problem:
            return problem
        return None if pattern.fullmatch(value) else (message, "format")

    return check


def _date(value: Any) -> Problem | None:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return "must be a date as YYYY-MM-DD", "date_format"
    try:
        date.fromisoformat(value)
    except ValueError:
        return "is not a calendar date", "date_format"
    return None


def _bool(value: Any) -> Problem | None:
    return None if isinstance(value, bool) else ("must be true or false", "bool_type")


_OUT_OF_BOUNDS = (f"must be between -{MAX_NUMBER:.0e} and {MAX_NUMBER:.0e}", "range")


def _number(value: Any) -> Problem | None:
    if not _is_number(value):
        return "must be a JSON number", "number_type"
    return None if within_bounds(value) else _OUT_OF_BOUNDS


def _money(value: Any) -> Problem | None:
    if not _is_number(value):
        return "must be a JSON number", "number_type"
    if not within_bounds(value):
        return _OUT_OF_BOUNDS
    return None if has_at_most_two_decimals(value) else ("must have at most 2 decimals", "decimal_places")


def _percent(value: Any) -> Problem | None:
    if not _is_number(value):
        return "must be a JSON number", "number_type"
    return None if 0 <= value <= 100 else ("must be between 0 and 100", "range")


def _ref(value: Any) -> Problem | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return None
    return "must be a record id (a positive integer)", "int_type"


_CHECKS: dict[str, Callable[[Any], Problem | None]] = {
    "text": _text,
    "email": _matching(_EMAIL, "is not an email address"),
    "country": _matching(_COUNTRY, "must be an ISO 3166-1 alpha-2 code (two capital letters)"),
    "currency": _matching(_CURRENCY, "must be an ISO 4217 code (three capital letters)"),
    "digits": _matching(_DIGITS, "must be digits only"),
    "date": _date,
    "bool": _bool,
    "number": _number,
    "money": _money,
    "percent": _percent,
    "ref": _ref,
}


def _check_value(field: Field, value: Any, loc: Loc, problems: list[FieldProblem]) -> Any:
    """The value to store, or None after noting why it cannot be stored."""
    if value is None:
        if not field.nullable:
            problems.append(FieldProblem(loc, "may not be null", "null"))
        return None
    if field.kind == "lines":
        return _check_lines(value, loc, problems)
    if field.kind == "enum":
        if value not in field.choices:
            problems.append(FieldProblem(loc, f"must be one of {', '.join(field.choices)}", "enum"))
        return value
    problem = _CHECKS[field.kind](value)
    if problem is None and field.required and field.kind == "text" and not value.strip():
        problem = ("may not be empty", "missing")
    if problem:
        problems.append(FieldProblem(loc, *problem))
    return value


def _check_object(
    fields: dict[str, Field], body: Any, loc: Loc, problems: list[FieldProblem], *, partial: bool,
    ignored: frozenset[str] = frozenset(),
) -> dict:
    if not isinstance(body, dict):
        problems.append(FieldProblem(loc, "must be a JSON object", "dict_type"))
        return {}
    for name in body.keys() - fields.keys() - ignored:
        problems.append(FieldProblem((*loc, name), "is not a field of this resource", "extra_forbidden"))
    values: dict[str, Any] = {}
    for name, field in fields.items():
        if name in body:
            values[name] = _check_value(field, body[name], (*loc, name), problems)
        elif partial:
            continue
        elif field.required:
            problems.append(FieldProblem((*loc, name), "is required", "missing"))
        else:
            values[name] = list(field.default) if field.kind == "lines" else field.default
    return values


def _check_lines(value: Any, loc: Loc, problems: list[FieldProblem]) -> list[dict]:
    if not isinstance(value, list):
        problems.append(FieldProblem(loc, "must be a list of lines", "list_type"))
        return []
    return [_check_object(LINE_FIELDS, line, (*loc, index), problems, partial=False) for index, line in
            enumerate(value)]


def writable_values(resource: str, body: Any, *, partial: bool,
                    fields: Mapping[str, Mapping[str, Field]] = FIELDS) -> dict:
    """The body's writable fields, checked (read-only ones dropped); on create, defaults fill the gaps.

    Raises ValidationFailed naming every bad field.
    """
    problems: list[FieldProblem] = []
    values = _check_object(fields[resource], body, ("body",), problems, partial=partial,
                           ignored=read_only(resource))
    if problems:
        raise ValidationFailed(problems)
    return values


def check_parties(resource: str, record: dict) -> None:
    """An order or quote belongs to a customer, a contact, or both (a private one has only a contact)."""
    if resource in DOCUMENTS and record.get("customer_id") is None and record.get("contact_id") is None:
        message = f"{resource[:-1]} needs customer_id or contact_id"
        raise ValidationFailed([FieldProblem(("body", "customer_id"), message, "missing")])
