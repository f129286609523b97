"""Day-vs-month consistency (日月数据一致性): a month's reported figure against the sum of the
same month's daily figures, within ``policy.energy_consistency_max_deviation`` (5 %, the
key-energy-user data-quality rule, domain-energy.md §1.4).

Two kinds of pairs are checked, both per closed month:

- a meter's reported month quantity (an interval meter's ``stat_type: month``) against the sum
  of its daily consumption derived from its real-time and day data (subject: the meter id,
  factor: the carrier);
- an enterprise's monthly statistic (``output`` per product, ``value_added``, …) against the
  sum of its daily figures of the same indicator (subject: ``<enterprise>/<indicator>`` or
  ``<enterprise>/<indicator>/<product>``, factor: the indicator).

A month is judged once it is closed: data dated on or after the first of the next month exist
(or, for daily statistics, every day of the month was reported), so a month still filling up is
never called inconsistent. Deviation = |Σ days − month| ÷ month (a zero month figure with
non-zero days deviates by 1, i.e. 100 %). ``energy_consistency`` verdicts: compliant within the
bound, warning beyond it, with the month figure, the daily sum, the days counted and the
deviation in the evidence. Pure: no I/O, no clock.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from schemas.energy import STATISTIC_UNITS, Meter, StatisticIndicator, StatType
from schemas.measurement import PeriodKind
from schemas.registry import Registry
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.domain.periods import china_time, day_start_of


@dataclass(frozen=True, slots=True)
class MonthCheck:
    """One closed month: the reported month figure against the sum of its days."""

    month: date
    month_figure: float
    daily_sum: float
    days: int
    days_in_month: int

    @property
    def deviation(self) -> float:
        if self.month_figure == 0:
            return 0.0 if self.daily_sum == 0 else 1.0
        return abs(self.daily_sum - self.month_figure) / self.month_figure


def month_checks(
    days: Mapping[date, float], months: Mapping[date, float], closed_before: date | None
) -> list[MonthCheck]:
    """The checks of every month in ``months`` (keyed by the 1st) that is closed: its next
    month's first day is ≤ ``closed_before`` (the day after the latest data), or every day of
    it is in ``days``. Months without any daily figure are not checked (nothing to compare)."""
    sums: dict[date, float] = {}
    counts: dict[date, int] = {}
    for day, value in days.items():
        first = day.replace(day=1)
        sums[first] = sums.get(first, 0.0) + value
        counts[first] = counts.get(first, 0) + 1
    checks = []
    for month, figure in sorted(months.items()):
        if month not in counts:
            continue
        length = calendar.monthrange(month.year, month.month)[1]
        following = _next_month(month)
        closed = counts[month] >= length or (
            closed_before is not None and following <= closed_before
        )
        if closed:
            checks.append(MonthCheck(month, figure, sums[month], counts[month], length))
    return checks


def consistency_verdict(
    registry: Registry,
    enterprise_id: str,
    subject: str,
    factor: str,
    unit: str,
    check: MonthCheck,
) -> Verdict:
    """Judge one month check against ``policy.energy_consistency_max_deviation``."""
    bound = registry.policy.energy_consistency_max_deviation
    deviation = check.deviation
    status = VerdictStatus.WARNING if deviation > bound else VerdictStatus.COMPLIANT
    return Verdict(
        enterprise_id=enterprise_id,
        outlet_id=subject,
        factor=factor,
        rule=Rule.ENERGY_CONSISTENCY,
        period=PeriodKind.MONTH,
        period_start=day_start_of(check.month),
        value=deviation,
        limit=bound,
        ratio=deviation / bound,
        status=status,
        evidence={
            "month_figure": check.month_figure,
            "daily_sum": check.daily_sum,
            "days": check.days,
            "days_in_month": check.days_in_month,
            "deviation": deviation,
            "unit": unit,
            "registry_version": registry.version,
        },
        registry_version=registry.version,
    )


def meter_consistency(
    registry: Registry,
    enterprise_id: str,
    meter: Meter,
    months: Mapping[date, float],
    daily: Mapping[datetime, float],
) -> list[Verdict]:
    """A meter's reported month quantities (by month) against its daily consumption (by
    China-time day start), for every closed month."""
    if not months or not daily:
        return []
    days = {start.date(): quantity for start, quantity in daily.items()}
    return [
        consistency_verdict(
            registry, enterprise_id, meter.id, meter.carrier.value, meter.unit, check
        )
        for check in month_checks(days, months, max(days))
    ]


def statistics_consistency(
    registry: Registry,
    enterprise_id: str,
    statistics: Mapping[tuple[str, str, str, datetime], float],
) -> list[Verdict]:
    """Every monthly statistic (keys: indicator, product or '', stat type, period start)
    against the sum of the same indicator's daily figures, for every closed month."""
    by_day: dict[tuple[str, str], dict[date, float]] = defaultdict(dict)
    by_month: dict[tuple[str, str], dict[date, float]] = defaultdict(dict)
    for (indicator, product, stat, start), value in statistics.items():
        day = china_time(start).date()
        if stat == StatType.DAY.value:
            by_day[(indicator, product)][day] = value
        elif stat == StatType.MONTH.value:
            by_month[(indicator, product)][day.replace(day=1)] = value
    verdicts = []
    for (indicator, product), months in sorted(by_month.items()):
        days = by_day.get((indicator, product))
        if not days:
            continue
        subject = "/".join(p for p in (enterprise_id, indicator, product) if p)
        unit = STATISTIC_UNITS[StatisticIndicator(indicator)]
        verdicts += [
            consistency_verdict(registry, enterprise_id, subject, indicator, unit, check)
            for check in month_checks(days, months, max(days))
        ]
    return verdicts


def month_of(moment: datetime) -> date:
    """The 1st of the (China-time) month of a period start already in China time."""
    return moment.date().replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)
