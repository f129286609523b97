"""Why an hour or a day is invalid: flags (and their daily allowance) or too few data.

HJ 75-2017 (domain.md §3): an hour is valid with ``valid_minutes_per_hour`` valid minutes, a day
with ``valid_hours_per_day`` valid hours; minutes flagged F/M/C/D/B (HJ 212-2017) are invalid
for compliance. Issue 13 item 3: an invalid hour must say *why*, because the two causes are two
different tricks (the launder: exceedance minutes sent flagged; and sending too few minutes):

- ``invalid_cause`` of an hourly verdict: ``flags`` when enough minutes were reported
  (valid + flagged ≥ ``valid_minutes_per_hour``) but flagged ones made it invalid,
  ``low_capture`` when too few minutes were reported at all; absent for a valid hour.
- the **flag allowance** (``AlertPolicy.flag_allowance_minutes``, per flag; e.g. ``C: 30``,
  a CEMS's automatic calibration; our default, set by no standard): the flags of this hour
  with more minutes than their allowance (0 for flags not listed) are
  ``flag_allowance_exceeded``. Counted per hour (a day's running total would make an hour's
  verdict depend on the order its day's hours close in); the daily budget, spent by minute
  time, is ``streams.domain.flag_budget``. Whether a window
  was declared for them is the alert service's business (it holds the declarations,
  ``alerts.flags``); a verdict with flags beyond the allowance is what it checks.
- a **low-capture day**: fewer than ``valid_hours_per_day`` valid hours even if every hour
  invalid by flags had been valid (``day_capture``): a ``low_capture`` signal for the day
  (active, or cleared by a day with enough data), which reaches the regulator when it
  persists (the alert service's data-quality path).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas.alert import QualityKind, QualitySignal
from schemas.measurement import INVALID_FOR_COMPLIANCE, AggregateValue
from schemas.registry import AlertPolicy
from streams.domain.context import DeviceContext
from streams.domain.daily import HourSummary
from streams.domain.periods import DAY


def invalid_cause(aggregate: AggregateValue, policy: AlertPolicy) -> str | None:
    """``flags`` or ``low_capture`` for an invalid hourly aggregate; None for a valid one."""
    if aggregate.valid:
        return None
    reported = aggregate.valid_count + aggregate.invalid_count
    return "low_capture" if reported < policy.valid_minutes_per_hour else "flags"


def flag_evidence(
    aggregate: AggregateValue, day_hours: Mapping[datetime, HourSummary], policy: AlertPolicy
) -> dict[str, Any]:
    """What an hourly verdict's evidence says about its flags and why it is invalid.

    ``flag_allowance_exceeded`` counts this hour's minutes only (a value of the hour, so the
    verdict does not depend on the order the day's hours close in: replay equals streaming);
    ``day_hours`` is not read: the daily budget is ``streams.domain.flag_budget``, applied
    when the day closes."""
    here = {f: n for f, n in aggregate.flag_counts.items() if f in INVALID_FOR_COMPLIANCE and n}
    allowance = policy.flag_allowance_minutes
    exceeded = sorted(f for f, n in here.items() if n > allowance.get(f, 0))
    evidence: dict[str, Any] = {"flag_allowance_exceeded": exceeded}
    cause = invalid_cause(aggregate, policy)
    if cause is not None:
        evidence["invalid_cause"] = cause
    return evidence


def day_capture(
    device: DeviceContext,
    day: datetime,
    factor: str,
    hours: Mapping[datetime, HourSummary],
    policy: AlertPolicy,
) -> QualitySignal:
    """The day's ``low_capture`` signal: active when too few hours had enough minutes
    reported for the day to be valid, whatever the flags; cleared otherwise."""
    valid = sum(1 for h in hours.values() if h.valid)
    flagged = sum(
        1 for h in hours.values() if not h.valid and h.reported >= policy.valid_minutes_per_hour
    )
    low = valid + flagged < policy.valid_hours_per_day
    detail: dict[str, Any] = {
        "period": "day",
        "day": day.date().isoformat(),
        "valid_hours": valid,
        "hours_invalid_by_flags": flagged,
        "hours_with_data": len(hours),
        "valid_hours_required": policy.valid_hours_per_day,
    }
    return device.signal(factor, QualityKind.LOW_CAPTURE, low, day + DAY, detail)
