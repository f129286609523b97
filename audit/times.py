"""Times at the API's edge: ISO 8601 in, ISO 8601 with +08:00 (China time) out. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from audit.errors import BadQuery

CHINA = timezone(timedelta(hours=8))


def parse_instant(text: str, name: str) -> datetime:
    """An ISO 8601 instant; without an offset it is China time (UTC+8). Raises BadQuery."""
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise BadQuery(
            f"{name}={text!r} is not an ISO 8601 time (e.g. 2026-07-01T00:00:00+08:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA)


def china(moment: datetime) -> str:
    """``moment`` as ISO 8601 in China time, e.g. ``2026-07-01T08:00:00+08:00``."""
    return moment.astimezone(CHINA).isoformat()


def check_range(start: datetime, end: datetime, limit: timedelta) -> None:
    """Refuse an empty, reversed or too long range (BadQuery says the limit)."""
    if end <= start:
        raise BadQuery("to must be after from")
    if end - start > limit:
        raise BadQuery(f"the range is {end - start}; at most {limit} per request")
