"""Lockable periods: quarters in China time (``2026Q3`` = 2026-07-01T00:00+08:00 to
2026-10-01T00:00+08:00, end exclusive). Pure."""

from __future__ import annotations

import re
from datetime import datetime

from audit.errors import BadQuery
from audit.times import CHINA

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def quarter(text: str) -> tuple[datetime, datetime]:
    """``(start, end)`` of a quarter like ``2026Q3``; BadQuery for anything else."""
    match = _QUARTER.match(text.strip().upper())
    if match is None:
        raise BadQuery(f"{text!r} is not a quarter (e.g. 2026Q3)")
    year, number = int(match[1]), int(match[2])
    start = datetime(year, 3 * number - 2, 1, tzinfo=CHINA)
    end = (
        datetime(year + 1, 1, 1, tzinfo=CHINA)
        if number == 4
        else datetime(year, 3 * number + 1, 1, tzinfo=CHINA)
    )
    return start, end
