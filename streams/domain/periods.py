"""Event-time periods: China time (UTC+8) minutes, hours and calendar days.

HJ 212 ``DataTime`` is China Standard Time and marks the **start** of a minute (2051), hour
(2061) or day (2031) period, or the sampling instant of real-time data (2011). Every datetime
here is aware; functions accept any time zone and return China time, so values read back
from PostgreSQL (session time zone) bucket the same way as values decoded from a frame.
Days are China calendar days (00:00–24:00 UTC+8).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Final

from ingest.hj212.packet import CHINA_TZ

MINUTE: Final = timedelta(minutes=1)
HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)
HOURS_PER_DAY: Final = 24
_CACHED: Final = 1 << 16
"""Period starts remembered per function: a batch asks for the same few minutes, hours and
days once per factor and stage (8 factors × several stages per frame; docs/perf.md)."""


def china_time(moment: datetime) -> datetime:
    """``moment`` (aware) expressed in China time; raises ValueError when it is naive."""
    if moment.tzinfo is CHINA_TZ:  # the usual case (decoded frames): nothing to convert
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: event times must be aware")
    return moment.astimezone(CHINA_TZ)


@lru_cache(maxsize=_CACHED)
def minute_start(moment: datetime) -> datetime:
    """Start of the China-time minute containing ``moment``."""
    return china_time(moment).replace(second=0, microsecond=0)


@lru_cache(maxsize=_CACHED)
def hour_start(moment: datetime) -> datetime:
    """Start of the China-time hour containing ``moment``."""
    return china_time(moment).replace(minute=0, second=0, microsecond=0)


@lru_cache(maxsize=_CACHED)
def day_start(moment: datetime) -> datetime:
    """Start (00:00 UTC+8) of the China calendar day containing ``moment``."""
    return china_time(moment).replace(hour=0, minute=0, second=0, microsecond=0)


@lru_cache(maxsize=1024)
def day_hours(day: datetime) -> tuple[datetime, ...]:
    """The hour starts of the China day starting at ``day`` (a ``day_start``): 24, China
    time has no daylight saving. Remembered: a new device asks for its day's hours."""
    return tuple(day + index * HOUR for index in range(HOURS_PER_DAY))


def china_date(moment: datetime) -> date:
    """The China calendar day of ``moment``."""
    return china_time(moment).date()


def day_start_of(day: date) -> datetime:
    """00:00 China time of calendar day ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)
