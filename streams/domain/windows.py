"""The stream engine's per-device windows and how they close: hour → day → year.

``DeviceState`` holds one device's open hour buffers (its minutes and real-time values by
factor), the days it has hourly summaries for, its watermark and its data-quality state.
``WindowCloser.close_ripe`` closes what the watermark has passed (hour end + grace, day end +
grace): an hour becomes hourly aggregates and verdicts (``aggregate_hour``, ``judge_hour``)
and leaves only its ``HourSummary`` in its day; a day becomes daily aggregates, daily-load
verdicts (排污许可日排放量, daily permitted load) and, for factors with an annual quota, the
annual ledger's verdicts (``YearLedger``). A closed hour also goes through the device's
evasion rules (``evasion.EvasionWatch``: ``tampering`` signals). An hourly verdict says why
its hour is invalid and which flags are beyond the day's allowance; a closed day of a judged
factor gives its ``low_capture`` signal (``streams.domain.capture``). Outputs are issued only
when they change (fingerprints), so closing the same data twice issues nothing new. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from schemas.alert import QualitySignal
from schemas.measurement import INVALID_FOR_COMPLIANCE, AggregateValue, Measurement
from schemas.registry import Registry
from schemas.verdict import Verdict
from streams.domain import factors
from streams.domain.annual import YearLedger
from streams.domain.annual_substitution import SubstitutedLoad
from streams.domain.capture import day_capture, flag_evidence
from streams.domain.context import DeviceContext
from streams.domain.daily import HourSummary, aggregate_day, fingerprint
from streams.domain.evaluate import judge_daily_load, judge_hour
from streams.domain.evasion import ClosedHour, EvasionWatch
from streams.domain.flag_budget import day_flag_budget
from streams.domain.hourly import HourResult, aggregate_hour
from streams.domain.load_substitution import (
    DaySubstitution,
    RateHistory,
    day_rates,
    substitute_day,
)
from streams.domain.minutes import FactorReadings
from streams.domain.periods import DAY, HOUR, day_start, hour_start
from streams.domain.quality import DeviceQuality

Output = AggregateValue | Verdict | QualitySignal
"""What the engine returns: aggregates, verdicts and data-quality signals."""
YearKey = tuple[str, str, int]
"""(outlet id, factor, China calendar year)."""

CLOSED_DAY_RETENTION: Final = DAY
"""How long a closed day's hourly summaries stay in memory for late data (beyond it, late
data make the engine ask for the whole day again)."""


@dataclass(slots=True)
class DayState:
    """One China day of a device: its closed hours' summaries by factor and what was issued."""

    hours: dict[str, dict[datetime, HourSummary]] = field(default_factory=dict)
    issued: dict[str, int] = field(default_factory=dict)
    closed: bool = False
    dirty: bool = False
    bases: dict[str, RateHistory] = field(default_factory=dict)
    """Per factor, the valid hourly rates before the day its load substitution used."""
    budgets: dict[str, tuple[bool, dict[str, Any]]] = field(default_factory=dict)
    """Per factor, the day's last issued flag-budget signal (``flag_budget``), as captures."""
    captures: dict[str, tuple[bool, dict[str, Any]]] = field(default_factory=dict)
    """Per factor, the day's last issued ``low_capture`` signal (active, detail): a day
    re-closed by late data issues it again only when it says something else, so the signals
    do not depend on how often (how the input was batched) the day was re-closed."""


NOTHING_HELD: Final[dict[str, FactorReadings]] = {}
"""The one buffer of every hour held open with no readings (``DeviceState.hold_hour``):
shared, never added to. At 10 000 devices the hours of the day a new device is hydrated for
were ~240 000 empty dicts (docs/perf.md, "Fourth slice")."""


@dataclass(slots=True)
class DeviceState:
    """Everything the engine holds for one device (bounded by the open hours and days)."""

    context: DeviceContext
    watermark: datetime | None = None
    hours: dict[datetime, dict[str, FactorReadings]] = field(default_factory=dict)
    days: dict[datetime, DayState] = field(default_factory=dict)
    quality: DeviceQuality = field(default_factory=DeviceQuality)
    evasion: EvasionWatch = field(default_factory=EvasionWatch)
    earliest_hour: datetime | None = None
    """At most the earliest of ``hours`` (set when an earlier hour is held, made exact by
    ``WindowCloser.close_ripe``): a watermark before it plus an hour and the grace closes
    nothing, so the usual call takes no ``min`` over a new device's ~24 held hours."""

    def open_hour(self, hour: datetime) -> dict[str, FactorReadings]:
        """The buffer of ``hour``, to add readings to (created with its day's state when
        missing, or when the hour is only held open with nothing: ``hold_hour``)."""
        buffer = self.hours.get(hour)
        if buffer is None or buffer is NOTHING_HELD:
            buffer = self._new_hour(hour, {})
        return buffer

    def hold_hour(self, hour: datetime) -> dict[str, FactorReadings]:
        """Hold ``hour`` open without readings (hydrated with nothing stored: a new device
        opens a whole China day of them); returns its buffer, ``NOTHING_HELD`` (never to be
        added to: ``open_hour`` gives a buffer of its own) when it held none yet."""
        buffer = self.hours.get(hour)
        if buffer is None:
            buffer = self._new_hour(hour, NOTHING_HELD)
        return buffer

    def hold_hours(self, hours: Iterable[datetime]) -> None:
        """``hold_hour`` each of ``hours`` (hour starts) without returning buffers: the hours
        of a device-day the store holds nothing for, in one call (a new device's day)."""
        for hour in hours:
            self.hold_hour(hour)

    def _new_hour(
        self, hour: datetime, buffer: dict[str, FactorReadings]
    ) -> dict[str, FactorReadings]:
        """``buffer`` as ``hour``'s, with its day's state and the ``earliest_hour`` bound
        (every hour comes into ``hours`` through here)."""
        self.hours[hour] = buffer
        if self.earliest_hour is None or hour < self.earliest_hour:
            self.earliest_hour = hour
        day = day_start(hour)
        if day not in self.days:
            self.days[day] = DayState()
        return buffer


def _roll(history: RateHistory, state: DeviceState, factor: str, day: datetime) -> None:
    """Roll ``history`` up to ``day`` over the days before it, with their hours as held now
    (days not held: no valid hour)."""
    while history.start < day:
        held = state.days.get(history.start)
        history.extend(history.start, day_rates(held.hours.get(factor, {})) if held else {})


def add_reading(buffer: dict[str, FactorReadings], measurement: Measurement) -> bool:
    """Put ``measurement`` in its factor's readings; False when it carries no usable value."""
    readings = buffer.get(measurement.factor)
    if readings is None:
        readings = buffer[measurement.factor] = FactorReadings()
    return readings.add(measurement)


class WindowCloser:
    """Closes hours and days of ``DeviceState``s; owns nothing but the annual ledgers it is
    given (shared with the engine, which hydrates them)."""

    def __init__(
        self,
        registry: Registry,
        years: dict[YearKey, YearLedger],
        rates: dict[tuple[str, str], RateHistory] | None = None,
    ) -> None:
        self._registry = registry
        self._policy = registry.policy
        self._grace = timedelta(minutes=registry.policy.grace_minutes)
        self._hour_due = HOUR + self._grace
        """How long after its start an hour closes (ripe at a watermark this far past it)."""
        self._years = years
        self._rates = rates if rates is not None else {}

    def close_ripe(self, state: DeviceState, watermark: datetime | None) -> list[Output]:
        """Close hours and days that end (plus grace) at or before ``watermark``; None
        closes everything. Closed days past ``CLOSED_DAY_RETENTION`` are dropped."""
        outputs: list[Output] = []
        grace = self._grace
        # Ripeness only grows with time: when the earliest hour (day) is not ripe, none is,
        # and the usual call (a watermark inside the open hour) sorts nothing.
        hours, days = state.hours, state.days
        ripe = bool(hours) and watermark is None
        if hours and watermark is not None:
            earliest, due = state.earliest_hour, self._hour_due
            if earliest is None or earliest + due <= watermark:
                earliest = state.earliest_hour = min(hours)  # the bound made exact
                ripe = earliest + due <= watermark
        if ripe:
            for hour in sorted(hours):
                if watermark is not None and hour + HOUR + grace > watermark:
                    break  # in time order: no later hour is ripe either
                outputs.extend(self._close_hour(state, hour))
        if days and (watermark is None or min(days) + DAY + grace <= watermark):
            for day in sorted(days):
                if watermark is not None and day + DAY + grace > watermark:
                    break  # in time order: no later day is ripe either
                day_state = days[day]
                if not day_state.closed or day_state.dirty:
                    outputs.extend(self._close_day(state, day, day_state))
        if watermark is None or not days:
            return outputs
        retention = DAY + grace + CLOSED_DAY_RETENTION
        if min(days) + retention <= watermark:
            for day in sorted(days):  # after closing: a day's close reads the day before
                if day + retention > watermark:
                    break  # in time order: no later day has expired either
                if not any(day <= h < day + DAY for h in hours):
                    del days[day]
        return outputs

    def close_hour(self, state: DeviceState, hour: datetime) -> list[Output]:
        """Close one open hour of ``state`` now (``streams.domain.rebuild`` replays hours)."""
        return self._close_hour(state, hour)

    def _close_hour(self, state: DeviceState, hour: datetime) -> list[Output]:
        readings = state.hours.pop(hour)
        context = state.context
        day_state = state.days.setdefault(day_start(hour), DayState())
        if not readings:  # hydrated with nothing stored: nothing to aggregate or judge
            state.evasion.observe(context, ClosedHour(hour, [], {}, {}, {}), self._policy.evasion)
            return []
        outputs: list[Output] = []
        results = aggregate_hour(context, hour, readings, self._policy)
        judged = {r.aggregate.factor: judge_hour(r, context, self._registry) for r in results}
        for result in results:
            summary = HourSummary.of(result.aggregate)
            hours = day_state.hours.setdefault(result.aggregate.factor, {})
            previous = hours.get(hour)
            hours[hour] = summary
            if previous is not None and previous.fingerprint == summary.fingerprint:
                continue
            day_state.dirty = True
            outputs.append(result.aggregate)
            verdict = judged[result.aggregate.factor]
            if verdict is not None:
                marked = flag_evidence(result.aggregate, hours, self._policy)
                outputs.append(
                    verdict.model_copy(update={"evidence": {**verdict.evidence, **marked}})
                )
        outputs.extend(self._evasion(state, hour, results, judged))
        return outputs

    def _evasion(
        self,
        state: DeviceState,
        hour: datetime,
        results: list[HourResult],
        judged: dict[str, Verdict | None],
    ) -> list[QualitySignal]:
        """The evasion rules over the closed hour (``streams.domain.evasion``)."""
        held = state.evasion.held_hourly
        closed = ClosedHour(
            hour,
            [r.aggregate for r in results],
            {f: v for f, v in judged.items() if v is not None},
            {r.aggregate.factor: r.valid_values for r in results},
            {f: v for (f, h), v in held.items() if h == hour},
        )
        return state.evasion.observe(state.context, closed, self._policy.evasion)

    def device_hourly(self, state: DeviceState, measurement: Measurement) -> list[Output]:
        """A device's own hourly value (CN 2061) for the evasion rules: held until its hour
        closes, or checked at once against the closed hour (``EvasionWatch``)."""
        if measurement.avg is None or not factors.is_pollutant(measurement.factor):
            return []
        if measurement.flag in INVALID_FOR_COMPLIANCE:
            return []
        hour = hour_start(measurement.period_start)
        day = state.days.get(day_start(hour))
        summary = day.hours.get(measurement.factor, {}).get(hour) if day is not None else None
        if summary is None or hour in state.hours:
            state.evasion.hold_device_hourly(measurement.factor, hour, measurement.avg)
            return []
        invalid = any(f in INVALID_FOR_COMPLIANCE and n for f, n in summary.flag_counts)
        if not summary.valid or invalid:
            return []  # not comparable: see evasion._comparable
        policy = self._policy.evasion
        return list(
            state.evasion.device_hourly(
                state.context, measurement.factor, hour, measurement.avg, summary.mean, policy
            )
        )

    def _close_day(self, state: DeviceState, day: datetime, day_state: DayState) -> list[Output]:
        context = state.context
        outputs: list[Output] = []
        for factor in sorted(day_state.hours):
            aggregate = aggregate_day(context, day, factor, day_state.hours[factor], self._policy)
            mark = fingerprint(aggregate)
            if day_state.issued.get(factor) == mark:
                continue
            day_state.issued[factor] = mark
            outputs.append(aggregate)
            substitution = self._substitution(state, day, day_state, factor)
            verdict = judge_daily_load(aggregate, context, self._policy, substitution)
            if verdict is not None:
                outputs.append(verdict)
            if self._registry.limit(context.outlet, factor) is not None:
                capture = day_capture(context, day, factor, day_state.hours[factor], self._policy)
                said = (capture.active, capture.detail)
                if day_state.captures.get(factor) != said:
                    day_state.captures[factor] = said
                    outputs.append(capture)
            outputs.extend(self._flag_budget(context, day, day_state, factor))
            quota = context.quota(factor)
            if quota is not None and quota.annual_kg is not None:
                substituted = SubstitutedLoad.of(substitution)
                outputs.extend(
                    self._record_day_load(context, factor, day, aggregate.load_kg, substituted)
                )
        day_state.closed = True
        day_state.dirty = False
        return outputs

    def _flag_budget(
        self, context: DeviceContext, day: datetime, day_state: DayState, factor: str
    ) -> list[QualitySignal]:
        """The day's flag-budget signal when it says something else than the last one issued
        (never a first one that is clear)."""
        budget = day_flag_budget(context, day, factor, day_state.hours[factor], self._policy)
        said = (budget.active, budget.detail)
        before = day_state.budgets.get(factor)
        if before == said or (before is None and not budget.active):
            return []
        day_state.budgets[factor] = said
        return [budget]

    def _substitution(
        self, state: DeviceState, day: datetime, day_state: DayState, factor: str
    ) -> DaySubstitution | None:
        """HJ 75-2017 substitution of the day's missing hours (``load_substitution``), for
        factors with a daily quota. The rates before the day are the basis the day first
        closed with, else the device's rolling history, rolled up to the day over the days
        before it as they are now (so a day's late data count for the days after it, as in
        a replay, when they arrive before the next day first closes)."""
        quota = state.context.quota(factor)
        if quota is None or quota.daily_kg is None:
            return None
        hours = day_state.hours[factor]
        basis = day_state.bases.get(factor)
        if basis is None:
            history = self._rates.get((state.context.device_id, factor))
            if history is None:
                return None  # no history held (a bare engine): nothing to substitute from
            _roll(history, state, factor, day)
            if history.start != day:
                return None  # an older day rebuilt without its basis (read by prepare)
            basis = day_state.bases[factor] = history.copy()
        return substitute_day(day, hours, basis)

    def _record_day_load(
        self,
        context: DeviceContext,
        factor: str,
        day: datetime,
        load_kg: float | None,
        substituted: SubstitutedLoad | None,
    ) -> list[Verdict]:
        ledger = self._years.setdefault((context.outlet_id, factor, day.year), YearLedger())
        return ledger.record(context, factor, day, load_kg, self._policy, substituted)
