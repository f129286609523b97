"""Rolling intensities as Σ numerator ÷ Σ denominator, never an average of ratios.

A window ends with a China calendar day ``end`` (inclusive):

- ``24h``: that day; ``30d``: the 30 days ending with it;
- ``month``: the calendar month up to it; ``ytd``: the calendar year up to it.

The numerator is the sum of the daily numerators (kWh or kgce) in the window. The denominator
is the sum of the daily figures (output in t) in the window plus, for each calendar month that
lies wholly inside the window and has no daily figure at all, its monthly figure: an enterprise
reporting output only monthly (月报) gets a month and a year-to-date intensity at month end,
never a figure built from a part of a month. No denominator → no intensity (None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Window = Literal["24h", "30d", "month", "ytd"]
WINDOWS: tuple[Window, ...] = ("24h", "30d", "month", "ytd")


@dataclass(frozen=True, slots=True)
class WindowSum:
    """Σ numerator, Σ denominator and their ratio (None when the denominator is 0)."""

    window: Window
    first_day: date
    end: date
    numerator: float
    denominator: float

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator > 0 else None


def window_start(window: Window, end: date) -> date:
    if window == "24h":
        return end
    if window == "30d":
        return end - timedelta(days=29)
    if window == "month":
        return end.replace(day=1)
    return end.replace(month=1, day=1)


def window_sum(
    window: Window,
    end: date,
    numerator_by_day: Mapping[date, float],
    denominator_by_day: Mapping[date, float],
    denominator_by_month: Mapping[date, float],
) -> WindowSum:
    """Σ/Σ over the window ending with ``end``; monthly keys are the months' first days."""
    first = window_start(window, end)
    numerator = sum(v for d, v in numerator_by_day.items() if first <= d <= end)
    denominator = sum(v for d, v in denominator_by_day.items() if first <= d <= end)
    months_with_days = {d.replace(day=1) for d in denominator_by_day}
    for month, value in denominator_by_month.items():
        if month in months_with_days or month < first:
            continue
        if month_end(month) <= end:
            denominator += value
    return WindowSum(window, first, end, numerator, denominator)


def month_end(month: date) -> date:
    """Last day of the month of ``month``."""
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)
