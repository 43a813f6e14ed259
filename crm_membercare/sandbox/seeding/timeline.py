"""When seeded records were made and last changed, and how each side writes those instants down."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from crm_membercare.sandbox.seeding.layout import below

OSLO = ZoneInfo("Europe/Oslo")
TWO_YEARS_MS = 730 * 24 * 3600 * 1000
UNCHANGED_SHARE = 0.4  # records never edited after creation
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Stamps:
    created_ms: int  # epoch milliseconds, UTC
    updated_ms: int


def draw_stamps(rng: random.Random, now_ms: int) -> Stamps:
    """Created within the two years before now; updated between then and now (both strictly before now)."""
    created = now_ms - 1 - below(rng, TWO_YEARS_MS)
    updated = created if rng.random() < UNCHANGED_SHARE else created + below(rng, now_ms - created)
    return Stamps(created, updated)


def epoch_ms(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return int(instant.timestamp() * 1000)


# strftime and zoneinfo cost microseconds a call, too slow for a million records: the date text is cached per
# day and Oslo's UTC offset per hour (it only ever changes on the hour), the rest is arithmetic.
def crm_timestamp(ms: int) -> str:
    """'2026-11-27T09:15:02.123Z'."""
    seconds, millis = divmod(ms, 1000)
    return f"{_wall_clock(seconds)}.{millis:03d}Z"


def membercare_timestamp(ms: int) -> str:
    """'2026-11-27T10:15:02': Oslo wall-clock time, whole seconds, no offset."""
    seconds = ms // 1000
    return _wall_clock(seconds + _oslo_offset(seconds // 3600))


def oslo_date(ms: int) -> date:
    seconds = ms // 1000
    return _day((seconds + _oslo_offset(seconds // 3600)) // 86400)


def _wall_clock(seconds: int) -> str:
    day, in_day = divmod(seconds, 86400)
    hours, rest = divmod(in_day, 3600)
    return f"{_day_text(day)}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


@lru_cache(maxsize=4096)
def _day(epoch_day: int) -> date:
    return _EPOCH + timedelta(days=epoch_day)


@lru_cache(maxsize=4096)
def _day_text(epoch_day: int) -> str:
    return _day(epoch_day).isoformat()


@lru_cache(maxsize=65536)
def _oslo_offset(epoch_hour: int) -> int:
    """Seconds Oslo is ahead of UTC during this UTC hour."""
    return int(datetime.fromtimestamp(epoch_hour * 3600, OSLO).utcoffset().total_seconds())


def local_midnight(day: date | None) -> str | None:
    """A date as MemberCare carries it: a local datetime at midnight."""
    return None if day is None else f"{day.isoformat()}T00:00:00"


def days_after(day: date, days: int) -> date:
    return day + timedelta(days=days)
