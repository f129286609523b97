"""Rolling intensity rows of one subject: a product's unit consumption, or an enterprise's
energy and CO2 per 10^4 yuan of value added.

``rolling_rows(...)`` computes, for every end day from ``from_day`` on, the Σ/Σ of each window
(``intensity.window_sum``) and returns one ``IntensityRow`` per window with a denominator;
earlier end days are unchanged by what changed and are not recomputed. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from streams.domain.energy.intensity import Window, month_end, window_sum
from streams.domain.energy.model import IntensityRow
from streams.domain.periods import day_start_of


@dataclass(frozen=True, slots=True)
class Series:
    """Daily numerators, and the denominator by day and by month (keys: first days)."""

    numerator: Mapping[date, float]
    by_day: Mapping[date, float]
    by_month: Mapping[date, float]

    def end_days(self, from_day: date) -> list[date]:
        days = set(self.numerator) | set(self.by_day) | {month_end(m) for m in self.by_month}
        return sorted(d for d in days if d >= from_day)


def rolling_rows(
    enterprise_id: str,
    subject: str,
    indicator: str,
    windows: Iterable[Window],
    series: Series,
    from_day: date,
    evidence: Mapping[str, Any],
    completeness: Callable[[date, date], float | None] | None = None,
) -> list[IntensityRow]:
    """Rows of every window ending on a day ≥ ``from_day`` that has a denominator."""
    rows: list[IntensityRow] = []
    chosen = tuple(windows)
    for end in series.end_days(from_day):
        for window in chosen:
            total = window_sum(window, end, series.numerator, series.by_day, series.by_month)
            if total.value is None:
                continue
            body: dict[str, Any] = {
                "numerator": total.numerator,
                "denominator": total.denominator,
                "first_day": total.first_day.isoformat(),
                "last_day": end.isoformat(),
                **evidence,
            }
            if completeness is not None:
                body["completeness"] = completeness(total.first_day, end)
            rows.append(
                IntensityRow(
                    enterprise_id,
                    subject,
                    indicator,
                    window,
                    day_start_of(end),
                    total.numerator,
                    total.denominator,
                    total.value,
                    body,
                )
            )
    return rows
