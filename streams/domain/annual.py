"""Year-to-date loads against an annual quota (年许可排放量, annual permitted load; MEP Order
No. 30 (2014) Art. 6(3)): one ledger per outlet, factor and China calendar year.

A ledger holds the load (kg) of every closed China day of the year, whether the engine closed
the day itself or read it from the store, and the year-to-date value last judged for each
day, so a day re-closed by late data re-issues the annual verdicts of that day and of the
later days whose year-to-date value moved, and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from math import fsum

from schemas.registry import AlertPolicy
from schemas.verdict import Verdict
from streams.domain.context import DeviceContext
from streams.domain.evaluate import judge_annual_load
from streams.domain.periods import day_start_of


@dataclass(slots=True)
class YearLedger:
    """Daily loads (China day → kg) of one outlet, factor and year, and what was judged."""

    prior_kg: float = 0.0
    days: dict[date, float] = field(default_factory=dict)
    issued: dict[date, float] = field(default_factory=dict)

    def hydrate(self, year: int, stored: float | Mapping[date, float]) -> None:
        """Stored daily loads of ``year`` (days already held keep their value), or an opaque
        year-to-date total; what they add up to counts as already judged."""
        if isinstance(stored, Mapping):
            for day, load in stored.items():
                if day.year == year and day not in self.days:
                    self.days[day] = load
        else:
            self.prior_kg = stored
        for day, ytd in self.year_to_date():
            self.issued.setdefault(day, ytd)

    def record(
        self,
        context: DeviceContext,
        factor: str,
        day: datetime,
        load_kg: float | None,
        policy: AlertPolicy,
    ) -> list[Verdict]:
        """A (re)closed day's load; the annual verdicts of that day and of later closed days
        whose year-to-date value changed."""
        if load_kg is None:
            self.days.pop(day.date(), None)
        else:
            self.days[day.date()] = load_kg
        verdicts: list[Verdict] = []
        for counted, (closed_day, ytd) in enumerate(self.year_to_date(), start=1):
            if closed_day < day.date() or self.issued.get(closed_day) == ytd:
                continue
            self.issued[closed_day] = ytd
            verdict = judge_annual_load(
                context, factor, day_start_of(closed_day), ytd, counted, policy
            )
            if verdict is not None:
                verdicts.append(verdict)
        return verdicts

    def year_to_date(self) -> Iterable[tuple[date, float]]:
        """(day, year-to-date load through that day) for every day with a known load."""
        loads: list[float] = [self.prior_kg] if self.prior_kg else []
        for day in sorted(self.days):
            loads.append(self.days[day])
            yield day, fsum(loads)
