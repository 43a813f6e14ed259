"""Validation in advance: which fields of a mapped payload the target would reject, and why.

    validate_for_membercare(flow, payload, countries=None) -> [FieldProblem]
    validate_for_crm(flow, payload, partial=False) -> [FieldProblem]
    problems_for_membercare(flow, values, current, ctx) -> [FieldProblem]   (map, then validate)
    problems_for_crm(flow, values, fields=None) -> [FieldProblem]           (map, then validate)

The rules are DESIGN A2's validation list and A1's field types, applied row by row through each row's data
type: E.164 phones, valid emails, known country ids, digits-only organisation numbers, numbers with at most
two decimals for money and rates, enum values the target knows, required fields present. Where DESIGN is
silent we reject what no sane record holds, so a bad value is named here rather than written: a negative
quantity, a rate outside 0–100, text longer than `MAX_TEXT_LENGTH` characters or holding control characters.
A `FieldProblem` names the row key (plus the item, "lines[1].quantity"), the reason, and the value
(shortened when long). `UnresolvedReference` is not a problem but a wait, and propagates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from crm_membercare.mapping import dates, decimals, phones
from crm_membercare.mapping.convert import apply_common_to_mc, common_to_crm_patch
from crm_membercare.mapping.countries import CountryTable
from crm_membercare.mapping.flows import Flow
from crm_membercare.mapping.links import MappingContext
from crm_membercare.mapping.problems import FieldProblem, MappingRejected
from crm_membercare.mapping.rows import MISSING, RawValue
from crm_membercare.mapping.transforms import DecimalCodec, EnumCodec
from crm_membercare.resources import CRM_LINE_REQUIRED

MAX_TEXT_LENGTH = 4000
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
ALPHA2 = re.compile(r"^[A-Z]{2}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
TEXT_KINDS = {"text", "email", "phone", "url", "digits", "currency"}


def _shown(value: Any) -> Any:
    """The value as a problem carries it: long text cut, so a 10 MB string does not travel into the logs."""
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + f"… ({len(value)} characters)"
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text_reason(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be text"
    if len(value) > MAX_TEXT_LENGTH:
        return f"is longer than {MAX_TEXT_LENGTH} characters"
    if CONTROL_CHARACTERS.search(value):
        return "contains control characters"
    return None


def _decimal_reason(codec: DecimalCodec, value: Any) -> str | None:
    if not _is_number(value):
        return "must be a number"
    number = decimals.to_decimal(value)
    if codec.places is not None and decimals.decimal_places(number) > codec.places:
        return f"has more than {codec.places} decimals"
    if codec.minimum is not None and number < codec.minimum:
        return "must not be negative" if codec.minimum == 0 else f"must be at least {codec.minimum}"
    if codec.maximum is not None and number > codec.maximum:
        return f"must be at most {codec.maximum}"
    return None


def _reason(raw: RawValue, side: str, countries: CountryTable | None) -> str | None:
    """Why the target would refuse `raw.value` (not None), or None when it would take it."""
    kind, value = raw.codec.kind, raw.value
    if kind in TEXT_KINDS:
        reason = _text_reason(value)
        if reason:
            return reason
    if kind == "email" and not EMAIL_PATTERN.fullmatch(value):
        return "is not a valid email address"
    if kind == "phone" and side == "membercare" and not phones.is_e164(value):
        extension = phones.extension_of(value)
        if extension:
            return (f"has an extension (ext {extension}), and MemberCare keeps phones as E.164 (like "
                    "+4791234567), which has no room for one: remove it from the number")
        return "is not a phone number MemberCare accepts (E.164, like +4791234567)"
    if kind == "digits" and not value.isdigit():
        return "must contain digits only"
    if kind == "currency" and not CURRENCY.match(value):
        return "is not a currency code (three capital letters, like NOK)"
    if kind == "bool" and not isinstance(value, bool):
        return "must be true or false"
    if isinstance(raw.codec, DecimalCodec):
        return _decimal_reason(raw.codec, value)
    if isinstance(raw.codec, EnumCodec):
        allowed = [mc for mc, _ in raw.codec.mc_to_crm] if side == "membercare" else [c for c, _ in raw.codec.crm_to_mc]
        return None if value in allowed else f"is not one of {', '.join(allowed)}"
    if kind == "country":
        return _country_reason(value, side, countries)
    if kind == "date":
        return _date_reason(value, side)
    if kind == "reference":
        valid = (isinstance(value, int) and not isinstance(value, bool)) or (
            side == "membercare" and isinstance(value, str) and value.isdigit()
        )
        return None if valid else "is not a record id"
    if kind == "list":
        return None if isinstance(value, list) else "must be a list"
    if kind == "object":
        return "must be an object"
    return None


def _country_reason(value: Any, side: str, countries: CountryTable | None) -> str | None:
    if side == "crm":
        return None if isinstance(value, str) and ALPHA2.match(value) else "is not an ISO country code like NO"
    if countries is not None and not countries.knows_id(value):
        return "is not a country id MemberCare knows"
    return None if _is_number(value) else "must be a MemberCare country id"


def _date_reason(value: Any, side: str) -> str | None:
    try:
        if side == "crm":
            dates.parse_iso_date(value)
        else:
            dates.mc_to_date(value)
    except (TypeError, ValueError):
        return "is not a date (YYYY-MM-DD)" if side == "crm" else "is not a date-time (YYYY-MM-DDT00:00:00)"
    return None


def _not_null_in_crm(flow: Flow, crm_fields: tuple[str, ...], subfield: str) -> bool:
    if subfield.startswith("["):
        return subfield.rsplit(".", 1)[-1] in CRM_LINE_REQUIRED
    # DESIGN A1: the CustomCRM fields that may not be null, declared with the resource (`Resource.required`).
    return len(crm_fields) == 1 and crm_fields[0] in flow.crm.required


def _validate(flow: Flow, payload: Mapping[str, Any], side: str, partial: bool,
              countries: CountryTable | None) -> list[FieldProblem]:
    problems = []
    for row in flow.rows:
        if side == "crm" and row.direction == "to_membercare":
            continue
        raws = row.transform.raw_crm(payload) if side == "crm" else row.transform.raw_mc(payload)
        if row.required and not (partial and all(r.value is MISSING for r in raws)):
            if all(r.value in (None, MISSING) or (isinstance(r.value, str) and not r.value.strip()) for r in raws):
                problems.append(FieldProblem(row.key, "is required", None))
                continue
        for raw in raws:
            field = row.key + raw.subfield
            if raw.value is MISSING:
                if not partial and raw.subfield.startswith("["):
                    problems.append(FieldProblem(field, "is required", None))
                continue
            if raw.value is None:
                if side == "crm" and _not_null_in_crm(flow, row.crm_fields, raw.subfield):
                    problems.append(FieldProblem(field, "may not be empty in CustomCRM", None))
                continue
            reason = _reason(raw, side, countries)
            if reason:
                problems.append(FieldProblem(field, reason, _shown(raw.value)))
    return problems


def validate_for_membercare(
    flow: Flow, payload: Mapping[str, Any], countries: CountryTable | None = None
) -> list[FieldProblem]:
    """Problems MemberCare would answer with a 422 for this full record body (country ids need `countries`)."""
    return _validate(flow, payload, "membercare", False, countries)


def validate_for_crm(flow: Flow, payload: Mapping[str, Any], partial: bool = False) -> list[FieldProblem]:
    """Problems CustomCRM would answer with a 422; `partial` for a PATCH body (absent fields are fine)."""
    return _validate(flow, payload, "crm", partial, None)


def problems_for_membercare(
    flow: Flow, values: Mapping[str, Any], current: Mapping[str, Any] | None, ctx: MappingContext,
    fields: Iterable[str] | None = None,
) -> list[FieldProblem]:
    """Everything that stops these mapped values reaching MemberCare: values with no counterpart, then the
    payload's problems."""
    try:
        payload = apply_common_to_mc(flow, values, current, ctx, fields)
    except MappingRejected as rejected:
        return rejected.problems
    return validate_for_membercare(flow, payload, ctx.countries)


def problems_for_crm(flow: Flow, values: Mapping[str, Any], fields: Iterable[str] | None = None,
                     partial: bool = True) -> list[FieldProblem]:
    """The same for a CustomCRM PATCH (`partial`, the default) or POST body built from mapped values."""
    try:
        patch = common_to_crm_patch(flow, values, fields)
    except MappingRejected as rejected:
        return rejected.problems
    return validate_for_crm(flow, patch, partial=partial)
