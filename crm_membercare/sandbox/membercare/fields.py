"""Reading one writable field of a request body: type, format and range checks, defaults, error paths.

A `FieldReader` collects every error it finds (so a 422 lists them all) and returns a normalised value, or the
field's default when the field is absent or null: a PUT is a full replacement, so absent means "reset".
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection

from crm_membercare.sandbox.membercare.errors import FieldError, ValidationFailed
from crm_membercare.sandbox.membercare.oslo_time import parse_local
from crm_membercare.sandbox.money import MAX_NUMBER, has_at_most_two_decimals, within_bounds
from crm_membercare.sandbox.sqlite_store import storable

MAX_TEXT = 4000
EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DIGITS = re.compile(r"^\d+$")
_MISSING = object()


class FieldReader:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        # (path, resources any of which may hold it, id): checked against the store after the shape checks
        self.references: list[tuple[str, tuple[str, ...], int]] = []

    def reference(self, path: str, resources: tuple[str, ...], key: int) -> None:
        self.references.append((path, resources, key))

    def fail(self, path: str, code: str, message: str) -> None:
        self.errors.append(FieldError(path, code, message))

    def raise_if_failed(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)

    def _value(self, body: dict, key: str, path: str, required: bool):
        value = body.get(key)
        if value is None or (required and isinstance(value, str) and not value.strip()):
            if required:
                self.fail(path, "required", f"{path} is required")
            return _MISSING
        return value

    def text(
        self, body: dict, key: str, prefix: str = "", *, required: bool = False,
        pattern: re.Pattern | None = None, expected: str = "",
    ) -> str | None:
        path = prefix + key
        value = self._value(body, key, path, required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail(path, "invalid_type", f"{path} must be a string")
        elif len(value) > MAX_TEXT:
            self.fail(path, "too_long", f"{path} is longer than {MAX_TEXT} characters")
        elif pattern is not None and not pattern.match(value):
            self.fail(path, "invalid_format", f"{path} must be {expected}")
        else:
            return value
        return None

    def number(
        self, body: dict, key: str, prefix: str = "", *, required: bool = False,
        default: float | None = None, minimum: float | None = None, maximum: float | None = None,
    ) -> int | float | None:
        """A JSON number (never a string) with at most 2 decimals, within the bounds given."""
        path = prefix + key
        value = self._value(body, key, path, required)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(path, "invalid_type", f"{path} must be a JSON number")
        elif not within_bounds(value):
            self.fail(path, "out_of_range", f"{path} must be between -{MAX_NUMBER:.0e} and {MAX_NUMBER:.0e}")
        elif not has_at_most_two_decimals(value):
            self.fail(path, "too_many_decimals", f"{path} has more than 2 decimals")
        elif (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.fail(path, "out_of_range", f"{path} must be between {minimum} and {maximum}")
        else:
            return value
        return default

    def integer(self, body: dict, key: str, prefix: str = "", *, default: int | None = None) -> int | None:
        path = prefix + key
        value = self._value(body, key, path, False)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "invalid_type", f"{path} must be an integer")
            return default
        if not storable(value):
            self.fail(path, "out_of_range", f"{path} must be a 64-bit integer")
            return default
        return value

    def boolean(self, body: dict, key: str, *, default: bool) -> bool:
        value = self._value(body, key, key, False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.fail(key, "invalid_type", f"{key} must be true or false")
            return default
        return value

    def choice(
        self, body: dict, key: str, choices: Collection, prefix: str = "", *,
        default=None, required: bool = False,
    ):
        """One of `choices`, compared exactly (so 1 and True, or "Draft" and "draft", are different)."""
        path = prefix + key
        value = self._value(body, key, path, required)
        if value is _MISSING:
            return default
        if not any(type(value) is type(choice) and value == choice for choice in choices):
            allowed = ", ".join(repr(choice) for choice in choices)
            self.fail(path, "invalid_value", f"{path} must be one of {allowed}")
            return default
        return value

    def local_datetime(self, body: dict, key: str, *, required: bool = False) -> str | None:
        value = self.text(body, key, required=required)
        if value is not None and parse_local(value) is None:
            self.fail(key, "invalid_format", f"{key} must be a local datetime YYYY-MM-DDTHH:MM:SS")
            return None
        return value

    def obj(self, body: dict, key: str, prefix: str = "") -> dict | None:
        path = prefix + key
        value = self._value(body, key, path, False)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.fail(path, "invalid_type", f"{path} must be an object")
            return None
        return value

    def objects(self, body: dict, key: str) -> list[tuple[str, dict]]:
        """A list of objects as (path prefix, object) pairs, e.g. ("contacts[0].", {...}); absent is empty."""
        value = self._value(body, key, key, False)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.fail(key, "invalid_type", f"{key} must be a list")
            return []
        pairs = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                pairs.append((f"{key}[{index}].", item))
            else:
                self.fail(f"{key}[{index}]", "invalid_type", f"{key}[{index}] must be an object")
        return pairs
