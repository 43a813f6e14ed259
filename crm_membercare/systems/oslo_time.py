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


def resolve_local(text: str, known: datetime | None) -> datetime:
    """The instant of a record's `lastChange`, given `known`: the instant of a version of the same record seen
    before (None when there is none).

    Outside the repeated autumn hour there is one answer. Inside it, the first occurrence, unless that lies
    before `known` while the second does not: a record's versions follow each other in time, so a version
    stamped before one already seen cannot be newer than it, and the second occurrence is the only reading
    that fits. Anything else (nothing known, or `known` earlier than both) keeps the first occurrence; a
    `known` later than both is inconsistent data and changes nothing either.
    """
    first = local_to_utc(text)
    if known is None or first >= known:
        return first
    second = local_to_utc(text, fold=1)
    return second if second >= known else first


def utc_to_local(moment: datetime) -> str:
    return format_local(moment.astimezone(OSLO))
