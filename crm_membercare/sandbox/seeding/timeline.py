"""When seeded records were made and last changed, and how each side writes those instants down."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
TWO_YEARS_MS = 730 * 24 * 3600 * 1000
UNCHANGED_SHARE = 0.4  # records never edited after creation


@dataclass(frozen=True, slots=True)
class Stamps:
    created_ms: int  # epoch milliseconds, UTC
    updated_ms: int


def draw_stamps(rng: random.Random, now_ms: int) -> Stamps:
    """Created within the two years before now; updated between then and now (both strictly before now)."""
    created = now_ms - 1 - rng.randrange(TWO_YEARS_MS)
    updated = created if rng.random() < UNCHANGED_SHARE else created + rng.randrange(now_ms - created)
    return Stamps(created, updated)


def epoch_ms(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return int(instant.timestamp() * 1000)


def crm_timestamp(ms: int) -> str:
    """'2026-11-27T09:15:02.123Z'."""
    seconds, millis = divmod(ms, 1000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def membercare_timestamp(ms: int) -> str:
    """'2026-11-27T10:15:02': Oslo wall-clock time, whole seconds, no offset."""
    return f"{datetime.fromtimestamp(ms // 1000, OSLO):%Y-%m-%dT%H:%M:%S}"


def oslo_date(ms: int) -> date:
    return datetime.fromtimestamp(ms // 1000, OSLO).date()


def local_midnight(day: date | None) -> str | None:
    """A date as MemberCare carries it: a local datetime at midnight."""
    return None if day is None else f"{day.isoformat()}T00:00:00"


def days_after(day: date, days: int) -> date:
    return day + timedelta(days=days)
