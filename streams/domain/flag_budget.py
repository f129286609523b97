"""The daily flag budget: a day's calibration (C) minutes beyond a per-day allowance.

HJ 75-2017 / HJ 212-2017: minutes flagged F/M/C/D/B are invalid for compliance; a CEMS's
automatic calibration (C) flags a few minutes every day, which needs no declared window
(issue 13 item 3: "within a policy allowance, e.g. daily calibration minutes per device").
``AlertPolicy.flag_daily_allowance_minutes`` (per flag; our default ``{C: 60}``, set by no
standard) is that allowance per device, factor and China day. The budget is spent **by minute
time**: the earliest N flagged minutes of the day are within it, whatever order the hours
closed (or were re-closed by late data) in, so the result is a function of the day's data
only and replay equals streaming for any batching (a first version counted in close order and
failed the any-order property test). Hours are time-ordered, so the hour counts suffice: an
hour's minutes beyond the budget are ``min(count, cumulative count through the hour − N)``.

A closed day whose minutes of a budgeted flag go beyond the budget gives an
``undeclared_flag`` signal with ``detail.period: "day"`` naming the hours and minutes beyond
it (``over_budget``); the next close of that day that finds none clears it. Whether a
maintenance window was declared for those hours is the alert service's business. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas.alert import QualityKind, QualitySignal
from schemas.registry import AlertPolicy
from streams.domain.context import DeviceContext
from streams.domain.daily import HourSummary
from streams.domain.periods import DAY


def over_budget(
    hours: Mapping[datetime, HourSummary], flag: str, allowance: int
) -> tuple[int, list[tuple[datetime, int]]]:
    """(the day's minutes with ``flag``, [(hour start, minutes beyond the budget)]) with the
    earliest ``allowance`` minutes of the day within it."""
    spent = 0
    beyond: list[tuple[datetime, int]] = []
    for start in sorted(hours):
        count = dict(hours[start].flag_counts).get(flag, 0)
        if not count:
            continue
        spent += count
        extra = min(count, spent - allowance)
        if extra > 0:
            beyond.append((start, extra))
    return spent, beyond


def day_flag_budget(
    device: DeviceContext,
    day: datetime,
    factor: str,
    hours: Mapping[datetime, HourSummary],
    policy: AlertPolicy,
) -> QualitySignal:
    """The day's budget signal for ``factor``: active when some budgeted flag has minutes
    beyond its daily allowance (the caller issues it only when it changed)."""
    budgets: dict[str, Any] = {}
    for flag, allowance in sorted(policy.flag_daily_allowance_minutes.items()):
        spent, beyond = over_budget(hours, flag, allowance)
        if beyond:
            budgets[flag] = {
                "allowance_minutes": allowance,
                "minutes": spent,
                "over_budget": [{"hour": h.isoformat(), "minutes": n} for h, n in beyond],
            }
    detail: dict[str, Any] = {
        "period": "day",
        "day": day.date().isoformat(),
        "rule": "flag_daily_allowance",
        "budgets": budgets,
    }
    return device.signal(factor, QualityKind.UNDECLARED_FLAG, bool(budgets), day + DAY, detail)
