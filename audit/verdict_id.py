"""A verdict's id in URLs: its natural key (outlet, factor, rule, period start) as one string,
``<outlet>~<factor>~<rule>~<YYYYMMDDTHHMMSS+0800>``. Pure."""

from __future__ import annotations

from datetime import datetime

from audit.errors import BadQuery
from audit.times import CHINA

_FORMAT = "%Y%m%dT%H%M%S%z"


def verdict_id(outlet_id: str, factor: str, rule: str, period_start: datetime) -> str:
    return "~".join((outlet_id, factor, rule, period_start.astimezone(CHINA).strftime(_FORMAT)))


def parse_verdict_id(text: str) -> tuple[str, str, str, datetime]:
    """``(outlet, factor, rule, period_start)``; raises BadQuery when ``text`` is not an id."""
    parts = text.split("~")
    if len(parts) != 4 or not all(parts):
        raise BadQuery(f"{text!r} is not a verdict id (<outlet>~<factor>~<rule>~<time>)")
    try:
        start = datetime.strptime(parts[3], _FORMAT)
    except ValueError:
        raise BadQuery(f"{parts[3]!r} is not a verdict time (YYYYMMDDTHHMMSS+0800)") from None
    return parts[0], parts[1], parts[2], start
