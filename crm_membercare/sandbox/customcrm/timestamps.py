"""CustomCRM time: instants kept as UTC epoch milliseconds, shown as RFC 3339 with milliseconds and `Z`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def epoch_ms(instant: datetime) -> int:
    """Whole milliseconds since the epoch, rounded down (the precision `updated_at` shows)."""
    return (instant - _EPOCH) // _MILLISECOND


def render(ms: int) -> str:
    """'2026-11-27T09:15:02.123Z'."""
    instant = _EPOCH + ms * _MILLISECOND
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant with `Z` or an offset; raises ValueError for anything else (a naive time included).

    A `+` in an offset that reached us unencoded in a query string arrives as a space; it is read as `+`.
    """
    if len(text) > 19 and text[-6] == " ":
        text = f"{text[:-6]}+{text[-5:]}"
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None or "T" not in text.upper():
        raise ValueError("needs a date, a time and Z or an offset")
    return instant


def since_ms(text: str) -> int:
    """The first whole millisecond at or after the instant, so that `updated_at >= since` stays inclusive."""
    instant = parse_instant(text)
    return -((_EPOCH - instant) // _MILLISECOND)
