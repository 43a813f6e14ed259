"""Phone numbers: free text as typed in the CRM ↔ E.164 as MemberCare requires.

A number is parsed with the record's country as the default region ("91234567" in Norway is +4791234567, in
Sweden +4691234567); without a usable country, Norway. A number phonenumbers cannot parse, or whose length
is impossible for its country, is not converted: it is kept as typed (trimmed) so that validation can name
it as the reason for a reject, instead of being silently dropped. So is a number with an extension
("(0047) 912-34-567 ext 5"): MemberCare keeps phones as E.164, which has no room for an extension, and
converting it would drop the extension without notice.
"""

from __future__ import annotations

import re

import phonenumbers

DEFAULT_REGION = "NO"
E164_PATTERN = re.compile(r"^\+[1-9]\d{1,14}$")


def region_for(country: str | None) -> str:
    """The phonenumbers region for a record's alpha-2 country; Norway when there is none or it is unknown."""
    code = (country or "").strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else DEFAULT_REGION


def _parsed(text: str, country: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region_for(country))
    except phonenumbers.NumberParseException:
        return None


def to_e164(text: str, country: str | None = None) -> str | None:
    """`text` as E.164 ("+4791234567"), or None when it is not a possible phone number, or when it has an
    extension: E.164 has no room for one, and a number without it would drop part of what was typed."""
    number = _parsed(text, country)
    if number is None or number.extension or not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def extension_of(text: object, country: str | None = None) -> str | None:
    """The extension typed with a number ("ext 5", "x12", "#5"), or None."""
    if not isinstance(text, str) or not text.strip():
        return None
    number = _parsed(text, country)
    return number.extension if number is not None and number.extension else None


def normalise_phone(text: str | None, country: str | None = None) -> str | None:
    """The comparison form of a phone field: E.164 when possible, else the trimmed text; None when empty."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    return to_e164(text, country) or text


def is_e164(value: object) -> bool:
    """True for a string MemberCare accepts as a Mobile/Phone contact value."""
    return isinstance(value, str) and bool(E164_PATTERN.match(value)) and to_e164(value) == value
