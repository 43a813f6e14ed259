"""Dates ↔ MemberCare's local-midnight datetimes.

MemberCare carries a date (birth date, invoice date, due date) as a local Oslo datetime at midnight, written
without an offset: 1980-05-01 is "1980-05-01T00:00:00". The CRM carries the plain date "1980-05-01". The
common (comparison) form is the ISO date string.

Reading is tolerant: a MemberCare value with an offset ("1980-04-30T22:00:00Z") is first converted to Oslo
time, so a writer that sent UTC still yields the intended date. Oslo midnight exists on every date (the DST
switches happen at 02:00 and 03:00), so the mapping is exact both ways; `oslo_midnight` gives the instant
for code that needs to order or compare it.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")


def parse_iso_date(text: str) -> date:
    """A CRM date ("YYYY-MM-DD"); ValueError otherwise."""
    if not isinstance(text, str) or len(text) != 10:
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}")
    return date.fromisoformat(text)


def date_to_mc(value: str) -> str:
    """"1980-05-01" -> "1980-05-01T00:00:00" (Oslo local midnight, no offset)."""
    return f"{parse_iso_date(value).isoformat()}T00:00:00"


def mc_to_date(value: str) -> str:
    """A MemberCare datetime -> the ISO date it stands for, in Oslo local time."""
    if not isinstance(value, str):
        raise ValueError(f"not a datetime: {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(OSLO)
    return moment.date().isoformat()


def oslo_midnight(value: str) -> datetime:
    """The timezone-aware instant a CRM date stands for at MemberCare: Oslo midnight of that date."""
    return datetime.combine(parse_iso_date(value), time(0), tzinfo=OSLO)
