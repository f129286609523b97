"""HJ 75-2017 missing-data substitution applied to a day's load (issue 13 item 5, wired).

``substitution.py`` states the rule on a whole series (the tiers are data). A stream cannot
hold a device's last 2160 valid hours for every factor, so the engine keeps, per device and
factor with a daily quota, a ``RateHistory``: the *staircase* of the valid hourly emission
rates before a day (each rate greater than every later one, with its position among the
valid hours: the maximum of the last N valid rates is the oldest step within them), the number
of valid hours counted, the latest valid hour and the quarter's valid hours so far. That is
all the substitution of the next day needs, and it is small (a few steps for real data).

``substitute_day`` fills every hour of a closed day that has no load at all (no data, or no
rate: 缺失) by the tier the quarter's capture rate (valid hours of the quarter through the day /
hours of the quarter through the day) and the gap's length select: the maximum of the previous
N valid hourly rates, the day's own valid hours first, then the history. A gap that began
before the day counts its hours since the latest valid hour; a gap running past the day's end
is measured to the day's end. Hours invalid but with a load (flagged, too few minutes) keep
their load: they are measured, not missing. Substituted kg are never counted as measured.

``RateHistory.extend`` rolls the history over a closed day (``WindowCloser``); after a restart
it is read from the store (``Store.rate_histories``). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from math import fsum
from typing import Any, Final

from streams.domain.daily import HourSummary
from streams.domain.periods import DAY, HOUR, HOURS_PER_DAY
from streams.domain.substitution import NO_METHOD, SubstitutionRules, substitution_rules

LOOK_BACK: Final = max(t.previous_valid_hours for t in substitution_rules().tiers)
"""The longest look-back of the tiers (valid hours kept in a history's staircase)."""


def quarter_start(moment: datetime) -> datetime:
    """Start of the China calendar quarter of ``moment`` (aware, China time)."""
    month = 3 * ((moment.month - 1) // 3) + 1
    return moment.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class StoredRates:
    """A history as the store gives it: the staircase steps as (valid hours after it, rate),
    the valid hours counted (at most ``LOOK_BACK``), the latest valid hour, and the valid hours
    of the quarter before the day."""

    steps: tuple[tuple[int, float], ...] = ()
    count: int = 0
    last_valid: datetime | None = None
    quarter_valid: int = 0
    quarter_first: datetime | None = None
    """The first valid hour of the quarter (its hours are counted from there)."""


def staircase(rates: Sequence[float]) -> tuple[tuple[int, float], ...]:
    """The steps of valid ``rates`` (time order, at most ``LOOK_BACK`` kept): (valid hours
    after it, rate) of each rate greater than every later one."""
    kept = rates[-LOOK_BACK:]
    steps: list[tuple[int, float]] = []
    highest: float | None = None
    for back, rate in enumerate(reversed(kept)):
        if highest is None or rate > highest:
            steps.append((back, rate))
            highest = rate
    return tuple(steps)


@dataclass(slots=True)
class RateHistory:
    """Valid hourly rates (kg/h) of one device and factor before ``start`` (a day start)."""

    start: datetime
    steps: list[tuple[int, float]] = field(default_factory=list)
    """(position, rate) of the staircase, oldest first: positions rising, rates falling."""
    valid: int = 0
    """Valid hours counted (positions 0 … valid − 1)."""
    last_valid: datetime | None = None
    quarter_valid: int = 0
    """Valid hours in [``quarter_start(start)``, ``start``)."""
    quarter_first: datetime | None = None
    """The quarter's first valid hour: the capture rate counts the hours from there (a
    device commissioned in the quarter is not held to the hours before it reported)."""

    @classmethod
    def of(
        cls, start: datetime, rates: Sequence[tuple[datetime, float]], quarter_valid: int
    ) -> RateHistory:
        """A history from valid rates (hour start, kg/h) in time order, the latest last."""
        history = cls(start, quarter_valid=quarter_valid)
        quarter = quarter_start(start)
        history.quarter_first = next((h for h, _ in rates if h >= quarter), None)
        for hour, rate in rates[-LOOK_BACK:]:
            history._push(rate)
            history.last_valid = hour
        return history

    @classmethod
    def stored(cls, start: datetime, found: StoredRates) -> RateHistory:
        """A history from what the store found (``Store.rate_histories``)."""
        steps = [(found.count - 1 - back, rate) for back, rate in sorted(found.steps, reverse=True)]
        return cls(
            start, steps, found.count, found.last_valid, found.quarter_valid, found.quarter_first
        )

    def copy(self) -> RateHistory:
        return replace(self, steps=list(self.steps))

    def max_of_last(self, count: int) -> float | None:
        """The maximum of the last ``count`` valid rates (None when there are none)."""
        if count <= 0:
            return None
        first = self.valid - count
        return next((rate for position, rate in self.steps if position >= first), None)

    def extend(self, day: datetime, rates: Mapping[datetime, float | None]) -> None:
        """Roll the history over the day from ``day`` (hour start → valid rate or None)."""
        if quarter_start(day) != quarter_start(self.start):
            self.quarter_valid, self.quarter_first = 0, None
        for index in range(HOURS_PER_DAY):
            hour = day + index * HOUR
            rate = rates.get(hour)
            if rate is not None:
                self._push(rate)
                self.last_valid = hour
                self.quarter_valid += 1
                self.quarter_first = self.quarter_first or hour
        self.start = day + DAY

    def skip_to(self, day: datetime) -> None:
        """Move to ``day`` over days without data (missing hours)."""
        while self.start < day:
            self.extend(self.start, {})

    def _push(self, rate: float) -> None:
        while self.steps and self.steps[-1][1] <= rate:
            self.steps.pop()
        self.steps.append((self.valid, rate))
        self.valid += 1
        cut = self.valid - LOOK_BACK
        while self.steps and self.steps[0][0] < cut:
            self.steps.pop(0)


@dataclass(frozen=True, slots=True)
class DaySubstitution:
    """The substituted hours of one day's load."""

    capture_rate: float
    hours: tuple[tuple[datetime, float | None, str, int, int], ...]
    """(hour start, substituted rate kg/h or None, method, gap hours, valid hours looked at)."""

    @property
    def substituted_kg(self) -> float:
        return fsum(rate for _, rate, _, _, _ in self.hours if rate is not None)

    def evidence(self, measured_kg: float | None) -> dict[str, Any]:
        """The daily load verdict's account of it (measured and substituted kept apart)."""
        filled = [h for h in self.hours if h[1] is not None]
        return {
            "measured_load_kg": measured_kg,
            "substituted_load_kg": self.substituted_kg,
            "substituted_hours": [
                {
                    "hour": h.isoformat(),
                    "rate_kgh": r,
                    "method": m,
                    "gap_hours": g,
                    "basis_hours": b,
                }
                for h, r, m, g, b in filled
            ],
            "unsubstituted_hours": len(self.hours) - len(filled),
            "quarter_capture_rate": self.capture_rate,
            "capture_counted_from": "the quarter's first valid hour",
            "substitution_rules": substitution_rules().version,
        }


def day_rates(hours: Mapping[datetime, HourSummary]) -> dict[datetime, float | None]:
    """Each closed hour's valid emission rate (None: not valid or no rate)."""
    return {start: (s.emission_rate_kgh if s.valid else None) for start, s in sorted(hours.items())}


def substitute_day(
    day: datetime,
    hours: Mapping[datetime, HourSummary],
    history: RateHistory,
    rules: SubstitutionRules | None = None,
) -> DaySubstitution:
    """Substitutes of the hours of the day from ``day`` that have no load (see the module
    doc); ``history`` holds the valid rates before ``day``."""
    rules = rules or substitution_rules()
    rates = day_rates(hours)
    valid_today = [h for h in sorted(rates) if rates[h] is not None]
    same_quarter = quarter_start(history.start) == quarter_start(day)
    first = history.quarter_first if same_quarter else None
    first = first or (valid_today[0] if valid_today else None)
    counted = history.quarter_valid if same_quarter else 0
    elapsed = (day + DAY - first) / HOUR if first is not None else 0
    rate = (counted + len(valid_today)) / elapsed if elapsed else 0.0
    missing = [
        day + i * HOUR
        for i in range(HOURS_PER_DAY)
        if (summary := hours.get(day + i * HOUR)) is None or summary.load_kg is None
    ]
    filled: list[tuple[datetime, float | None, str, int, int]] = []
    index = 0
    while index < len(missing):
        end = index
        while end + 1 < len(missing) and missing[end + 1] == missing[end] + HOUR:
            end += 1
        first = missing[index]
        since = history.last_valid + HOUR if first == day and history.last_valid else first
        gap = int((missing[end] + HOUR - min(since, first)) / HOUR)
        before = [r for h, r in rates.items() if h < first and r is not None]
        value, method, basis = _fill(before, history, rate, gap, rules)
        filled.extend((missing[i], value, method, gap, basis) for i in range(index, end + 1))
        index = end + 1
    return DaySubstitution(rate, tuple(filled))


def _fill(
    before: Sequence[float | None],
    history: RateHistory,
    rate: float,
    gap: int,
    rules: SubstitutionRules,
) -> tuple[float | None, str, int]:
    tier = rules.tier(rate, gap)
    if tier is None:
        return None, NO_METHOD, 0
    wanted = tier.previous_valid_hours
    today = [r for r in before[-wanted:] if r is not None]
    older = history.max_of_last(wanted - len(today))
    candidates = today + ([older] if older is not None else [])
    basis = len(today) + min(history.valid, max(0, wanted - len(today)))
    if not candidates:
        return None, NO_METHOD, 0
    return max(candidates), tier.method, basis
