"""Year-to-date loads against an annual quota (年许可排放量, annual permitted load; MEP Order
No. 30 (2014) Art. 6(3)): one ledger per outlet, factor and China calendar year.

A ledger holds the measured load (kg) of every closed China day of the year, whether the
engine closed the day itself or read it from the store, the HJ 75-2017 substituted kg of the
days that had missing hours (``annual_substitution``: judged with the measured kg, shown
apart), and the year-to-date value last judged for each day, so a day re-closed by late data
re-issues the annual verdicts of that day and of the later days whose year-to-date value
moved, and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from math import fsum

from schemas.registry import AlertPolicy
from schemas.verdict import Verdict
from streams.domain.annual_substitution import SubstitutedLoad, year_evidence
from streams.domain.context import DeviceContext
from streams.domain.evaluate import judge_annual_load
from streams.domain.periods import day_start_of


@dataclass(slots=True)
class YearLedger:
    """Daily loads (China day → kg) of one outlet, factor and year, and what was judged."""

    prior_kg: float = 0.0
    days: dict[date, float] = field(default_factory=dict)
    issued: dict[date, float] = field(default_factory=dict)
    substituted: dict[date, SubstitutedLoad] = field(default_factory=dict)
    """HJ 75-2017 substituted kg of the days with missing hours (never counted as measured)."""

    def hydrate(
        self,
        year: int,
        stored: float | Mapping[date, float],
        substituted: Mapping[date, SubstitutedLoad] | None = None,
    ) -> None:
        """Stored daily loads of ``year`` (days already held keep their value) with their
        stored substitutions, or an opaque year-to-date total; what they add up to counts as
        already judged."""
        if isinstance(stored, Mapping):
            for day, load in stored.items():
                if day.year == year and day not in self.days:
                    self.days[day] = load
                    if substituted is not None and day in substituted:
                        self.substituted[day] = substituted[day]
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
        substituted: SubstitutedLoad | None = None,
    ) -> list[Verdict]:
        """A (re)closed day's measured load and substitution; the annual verdicts of that
        day and of later closed days whose year-to-date value changed."""
        if load_kg is None:
            self.days.pop(day.date(), None)
        else:
            self.days[day.date()] = load_kg
        if substituted is None or load_kg is None:
            self.substituted.pop(day.date(), None)
        else:
            self.substituted[day.date()] = substituted
        verdicts: list[Verdict] = []
        for counted, (closed_day, ytd) in enumerate(self.year_to_date(), start=1):
            if closed_day < day.date() or self.issued.get(closed_day) == ytd:
                continue
            self.issued[closed_day] = ytd
            measured = self.measured_to(closed_day)
            shown = [s for d, s in sorted(self.substituted.items()) if d <= closed_day]
            evidence = year_evidence(measured, shown) if shown else None
            verdict = judge_annual_load(
                context, factor, day_start_of(closed_day), ytd, counted, policy, evidence
            )
            if verdict is not None:
                verdicts.append(verdict)
        return verdicts

    def year_to_date(self) -> Iterable[tuple[date, float]]:
        """(day, year-to-date load through that day: measured + substituted kg) for every
        day with a known load."""
        loads: list[float] = [self.prior_kg] if self.prior_kg else []
        for day in sorted(self.days):
            loads.append(self.days[day])
            if day in self.substituted:
                loads.append(self.substituted[day].kg)
            yield day, fsum(loads)

    def measured_to(self, through: date) -> float:
        """The year's measured load through ``through`` (no substituted kg)."""
        loads = [self.prior_kg] + [kg for day, kg in self.days.items() if day <= through]
        return fsum(loads)
