"""MemberCare's timestamps: Europe/Oslo local time without an offset, second precision.

In the autumn the hour 02:00-03:00 occurs twice, so a local timestamp alone does not name one instant.
MemberCare reads an ambiguous `changedAfter` as the first occurrence (a superset), which is the safe side;
these helpers keep local timestamps as MemberCare writes them and convert only where an instant is needed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"


def parse_local(text: str) -> datetime:
    """A naive datetime from MemberCare's local timestamp text."""
    return datetime.strptime(text[:19], LOCAL_FORMAT)


def format_local(moment: datetime) -> str:
    return moment.strftime(LOCAL_FORMAT)


def step_back(text: str, seconds: float) -> str:
    """The local timestamp `seconds` earlier on the wall clock (an ambiguous result still errs early)."""
    return format_local(parse_local(text) - timedelta(seconds=seconds))


def local_to_utc(text: str, *, fold: int = 0) -> datetime:
    """The instant of a local timestamp; `fold=0` picks the first occurrence of a repeated hour."""
    return parse_local(text).replace(tzinfo=OSLO, fold=fold).astimezone(UTC)


def utc_to_local(moment: datetime) -> str:
    return format_local(moment.astimezone(OSLO))
