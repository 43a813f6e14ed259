"""MemberCare's clock face: instants stored as UTC epoch seconds, shown as Europe/Oslo local time.

Local time has no offset, so two wall-clock readings need care: the repeated autumn hour (02:00-03:00 occurs
twice) and the skipped spring hour (02:00-03:00 never occurs).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"
_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_LOCAL_WITH_FRACTION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$")


def epoch_seconds(instant: datetime) -> int:
    """An aware instant truncated to the second, as UTC epoch seconds (the store's time column)."""
    return int(instant.timestamp() // 1)


def render_local(epoch: int) -> str:
    """'2026-11-27T09:15:02': the instant as Oslo wall-clock time, no offset."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(OSLO).strftime(LOCAL_FORMAT)


def parse_local(text: str) -> datetime | None:
    """A strict 'YYYY-MM-DDTHH:MM:SS' as a naive datetime; None when the text is not one."""
    if not isinstance(text, str) or not _LOCAL_DATETIME.match(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def local_to_epoch(text: str) -> int:
    """The instant a stored local timestamp stands for (first occurrence in the repeated hour)."""
    wall = parse_local(text)
    if wall is None:
        raise ValueError(f"not a local datetime: {text!r}")
    return epoch_seconds(wall.replace(tzinfo=OSLO, fold=0))


def changed_after_bound(text: str) -> int | None:
    """The epoch second a `changedAfter` value stands for; records strictly later than it match.

    Fractions of a second are dropped: records carry whole seconds, so 'later than 09:15:02.5' and 'later than
    09:15:02' select the same records. In the repeated autumn hour the value means its *first* occurrence, so
    the answer is a superset. In the skipped spring hour no record can carry the value; it means "just before
    the clock jumped", so every record shown at 03:00:00 or later matches and none shown at 01:59:59 or
    earlier does, which is exactly the wall-clock order a client sees. None when the text is unreadable.
    """
    if not isinstance(text, str) or not _LOCAL_WITH_FRACTION.match(text):
        return None
    wall = parse_local(text[:19])
    if wall is None:
        return None
    first = wall.replace(tzinfo=OSLO, fold=0)
    if first.astimezone(UTC).astimezone(OSLO).replace(tzinfo=None) == wall:
        return epoch_seconds(first)
    return _spring_jump(wall) - 1


def _spring_jump(wall: datetime) -> int:
    """The epoch second at which the clock skipped over `wall` (a nonexistent local time)."""
    low = epoch_seconds(wall.replace(tzinfo=OSLO, fold=1))  # read with the summer offset: before the jump
    high = epoch_seconds(wall.replace(tzinfo=OSLO, fold=0))  # read with the winter offset: after it
    before = _offset(low)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(middle) == before:
            low = middle
        else:
            high = middle
    return high


def _offset(epoch: int):
    return datetime.fromtimestamp(epoch, UTC).astimezone(OSLO).utcoffset()
