"""The energy engine: accepted readings and statistics in, changed rows and verdicts out.

State is per enterprise (the raw energy topic is keyed by enterprise id, so one worker owns
all of an enterprise's meters): every register value and quantity of its meters and every
statistic it reported. ``ingest(records)`` adds a batch and returns only what it changed
(readings with their marks, consumption rows, intensities, verdicts), so a re-sent reading
changes nothing and a late or corrected one re-aggregates and re-issues exactly what it moves.
``hydrate(enterprise_id, records)`` loads what the store holds before the first batch that
touches an enterprise, without emitting it. The same object is driven by the worker and by
``greenwatch replay``. Pure: no I/O, no clock (``now`` is not needed: days close by data).

Verdicts (rules in ``schemas.verdict.Rule``):

- ``energy_completeness`` per meter and closed day (the meter has a real-time value after it):
  compliant at ≥ ``policy.energy_completeness_min`` of the expected readings, else warning;
- ``energy_quota`` per product quota, window in ``policy.energy_quota_windows`` and closed day
  with output: exceedance above the limit, warning at ``energy_quota_warning_fraction`` of it;
- ``energy_consistency`` per closed month with a reported month figure (a meter's month
  quantity, a monthly statistic): compliant within ``energy_consistency_max_deviation`` of
  the sum of its daily figures, else warning (``streams.domain.energy.consistency``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from schemas.energy import (
    EnergyRecord,
    Meter,
    StatisticIndicator,
    StatType,
)
from schemas.registry import EnergyQuota, Enterprise, Registry
from schemas.verdict import Verdict
from streams.domain.energy.consistency import (
    meter_consistency,
    month_of,
    statistics_consistency,
)
from streams.domain.energy.intensity import WINDOWS
from streams.domain.energy.meters import MeterState, meter_consumption
from streams.domain.energy.model import (
    ConsumptionRow,
    EnergyOutput,
    IntensityRow,
    ProcessCo2Row,
    ReadingRow,
    StatisticRow,
)
from streams.domain.energy.process import changed_process_rows, process_co2_rows
from streams.domain.energy.rolling import Series, rolling_rows
from streams.domain.energy.verdicts import completeness_verdict, quota_verdict
from streams.domain.periods import china_time, day_start

StatKey = tuple[str, str, str, datetime]
"""(indicator, product or '', stat type, period start)."""


@dataclass(slots=True)
class EnterpriseState:
    """An enterprise's meters and statistics, what was derived from them (the latest row of
    every natural key) and, per product, the last day that was closed for every meter."""

    meters: dict[str, MeterState] = field(default_factory=lambda: defaultdict(MeterState))
    statistics: dict[StatKey, float] = field(default_factory=dict)
    statistics_from: date | None = None
    consumption: dict[tuple[str, str, datetime], ConsumptionRow] = field(default_factory=dict)
    intensities: dict[tuple[str, str, str, datetime], IntensityRow] = field(default_factory=dict)
    verdicts: dict[tuple[str, str, str, datetime], Verdict] = field(default_factory=dict)
    closed: dict[str, date] = field(default_factory=dict)
    month_figures: dict[str, dict[date, float]] = field(default_factory=dict)
    """Per meter, its reported month quantities by month (day-vs-month consistency)."""
    process: dict[tuple[str, datetime], ProcessCo2Row] = field(default_factory=dict)
    """Process CO2 by (product, day)."""
    """Per meter, its reported month quantities by month (day-vs-month consistency)."""


class EnergyEngine:
    """Energy state of the enterprises a worker owns, judged under one registry at a time."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._states: dict[str, EnterpriseState] = {}

    def swap_registry(self, registry: Registry) -> None:
        """Judge every later batch under ``registry``. What was derived stays as it was (a
        past verdict keeps the version it was judged under, as on the emissions path); new
        data derive under the new registry (a replacement declared late applies to the days
        the next readings re-derive; ``greenwatch replay`` re-derives the whole history)."""
        self.registry = registry

    def forget(self) -> None:
        """Drop all state (partitions were reassigned: hydrate again from the store)."""
        self._states.clear()

    def missing(self, records: Iterable[EnergyRecord]) -> set[str]:
        """Enterprises of ``records`` the engine holds no state for (to hydrate first)."""
        return {r.enterprise_id for r in records} - set(self._states)

    def hydrate(self, enterprise_id: str, records: Iterable[EnergyRecord]) -> None:
        """Load stored records of an enterprise (no output; later batches diff against it)."""
        state = self._states.setdefault(enterprise_id, EnterpriseState())
        for record in records:
            self._add(state, record)
        enterprise = self.registry_enterprise(enterprise_id)
        if enterprise is not None:
            self._derive(enterprise, state, EnergyOutput())

    def registry_enterprise(self, enterprise_id: str) -> Enterprise | None:
        return next((e for e in self.registry.enterprises if e.id == enterprise_id), None)

    def ingest(self, records: Sequence[EnergyRecord]) -> EnergyOutput:
        """Add ``records`` (accepted by the API, so their meters are the enterprise's own);
        return the rows and verdicts they changed. Records of an enterprise or meter the
        current registry no longer has are kept as readings but derive nothing."""
        output = EnergyOutput()
        touched: dict[str, EnterpriseState] = {}
        for record in records:
            state = self._states.setdefault(record.enterprise_id, EnterpriseState())
            self._add(state, record)
            touched[record.enterprise_id] = state
            if record.reading is not None:
                found = self.registry.meter(record.reading.meter_id)
                unit = found[1].unit if found else record.reading.unit
                output.readings.append(
                    ReadingRow(
                        record.reading.meter_id,
                        record.enterprise_id,
                        record.reading.stat_type.value,
                        record.reading.at,
                        record.reading.value,
                        unit,
                        record.reading.instant is not None,
                    )
                )
            else:
                assert record.statistic is not None
                s = record.statistic
                output.statistics.append(
                    StatisticRow(
                        record.enterprise_id,
                        s.indicator.value,
                        s.product or "",
                        s.stat_type.value,
                        s.period_start,
                        s.value,
                        s.unit,
                    )
                )
        for enterprise_id, state in touched.items():
            enterprise = self.registry_enterprise(enterprise_id)
            if enterprise is not None:
                self._derive(enterprise, state, output)
        output.readings = [self._with_marks(r) for r in output.readings]
        return output

    # --- state -------------------------------------------------------------------------

    def _add(self, state: EnterpriseState, record: EnergyRecord) -> None:
        if record.reading is not None:
            reading = record.reading
            meter = state.meters[reading.meter_id]
            if reading.instant is not None:
                meter.add_register(reading.instant, reading.value)
            else:
                meter.add_quantity(reading.stat_type, reading.at, reading.value)
                if reading.stat_type is StatType.MONTH:
                    months = state.month_figures.setdefault(reading.meter_id, {})
                    months[month_of(china_time(reading.at))] = reading.value
        elif record.statistic is not None:
            s = record.statistic
            key = (s.indicator.value, s.product or "", s.stat_type.value, s.period_start)
            state.statistics[key] = s.value
            day = day_start(s.period_start).date()
            if state.statistics_from is None or day < state.statistics_from:
                state.statistics_from = day

    def _with_marks(self, row: ReadingRow) -> ReadingRow:
        state = self._states.get(row.enterprise_id)
        held = state.meters.get(row.meter_id) if state else None
        marks = tuple(sorted(held.marks.get(row.at, ()))) if held else ()
        if marks == row.marks:
            return row
        return ReadingRow(
            row.meter_id,
            row.enterprise_id,
            row.stat_type,
            row.at,
            row.value,
            row.unit,
            row.register,
            marks,
        )

    # --- derivation --------------------------------------------------------------------

    def _derive(self, enterprise: Enterprise, state: EnterpriseState, out: EnergyOutput) -> None:
        energy = enterprise.energy
        if energy is None:
            return
        changed_from = state.statistics_from
        statistics_changed = changed_from is not None
        state.statistics_from = None
        last_day: dict[str, date] = {}
        for meter in energy.meters:
            held = state.meters.get(meter.id)
            if held is None:
                continue
            result = meter_consumption(
                meter, enterprise.id, held, self.registry.energy_reference, enterprise.region_code
            )
            times = held.realtime_times()
            if times:
                last_day[meter.id] = day_start(times[-1]).date()
            if result.affected_from is not None:
                day = result.affected_from.date()
                changed_from = day if changed_from is None else min(changed_from, day)
                months = state.month_figures.get(meter.id)
                if months:
                    for verdict in meter_consistency(
                        self.registry, enterprise.id, meter, months, held.daily
                    ):
                        self._issue(state, out, verdict)
            for row in result.rows:
                key = (row.meter_id, row.period, row.period_start)
                if state.consumption.get(key) == row:
                    continue
                state.consumption[key] = row
                out.consumption.append(row)
                if row.period == "day" and row.period_start.date() < last_day.get(
                    meter.id, date.min
                ):
                    self._issue(state, out, completeness_verdict(self.registry, row))
        for quota in enterprise.energy_quotas:
            self._judge_quota(enterprise, state, quota, last_day, changed_from, out)
        if statistics_changed:
            for verdict in statistics_consistency(self.registry, enterprise.id, state.statistics):
                self._issue(state, out, verdict)
            self._process_co2(enterprise, state, out)
        if changed_from is not None:
            self._value_added(enterprise, state, changed_from, out)

    def _judge_quota(
        self,
        enterprise: Enterprise,
        state: EnterpriseState,
        quota: EnergyQuota,
        last_day: dict[str, date],
        changed_from: date | None,
        out: EnergyOutput,
    ) -> None:
        meters = [m for m in _meters(enterprise) if m.product == quota.product]
        closed = min((last_day[m.id] for m in meters if m.id in last_day), default=date.min)
        before = state.closed.get(quota.product)
        state.closed[quota.product] = closed
        starts = [d for d in (changed_from, before if before != closed else None) if d]
        if not starts:
            return
        numerator: dict[date, float] = defaultdict(float)
        readings: dict[date, int] = defaultdict(int)
        expected: dict[date, int] = defaultdict(int)
        for _, consumed in self._day_rows(state, meters):
            day = consumed.period_start.date()
            numerator[day] += _quota_quantity(quota, consumed)
            readings[day] += consumed.readings or 0
            expected[day] += consumed.expected or 0

        def completeness(first: date, last: date) -> float | None:
            days = [d for d in expected if first <= d <= last]
            return _ratio(sum(readings[d] for d in days), sum(expected[d] for d in days))

        by_day, by_month = _statistic(state, StatisticIndicator.OUTPUT.value, quota.product)
        evidence = {
            "numerator_unit": quota.unit.split("/")[0],
            "denominator_unit": "t",
            "meters": [m.id for m in meters],
            "basis": quota.basis.value,
            "reference_version": self.registry.energy_reference.version,
            "registry_version": self.registry.version,
        }
        rows = rolling_rows(
            enterprise.id,
            quota.product,
            quota.unit,
            WINDOWS,
            Series(numerator, by_day, by_month),
            min(starts),
            evidence,
            completeness,
        )
        judged = self.registry.policy.energy_quota_windows
        for row in rows:
            self._keep(state, row, out)
            if row.window in judged and row.period_start.date() < closed:
                self._issue(state, out, quota_verdict(self.registry, enterprise, quota, row))

    def _value_added(
        self, enterprise: Enterprise, state: EnterpriseState, changed_from: date, out: EnergyOutput
    ) -> None:
        """Energy (tce, calorific basis) and CO2 (t) per 10^4 yuan of value added, month and
        year to date; feedstock use excluded (发改环资〔2022〕803号). Not judged yet."""
        by_day, by_month = _statistic(state, StatisticIndicator.VALUE_ADDED.value, "")
        if not by_day and not by_month:
            return
        tce: dict[date, float] = defaultdict(float)
        co2: dict[date, float] = defaultdict(float)
        for meter, consumed in self._day_rows(state, _meters(enterprise)):
            if meter.feedstock:
                continue
            tce[consumed.period_start.date()] += consumed.kgce_calorific / 1000.0
            co2[consumed.period_start.date()] += (consumed.co2_kg or 0.0) / 1000.0
        for process in state.process.values():
            co2[process.period_start.date()] += process.co2_t
        evidence = {
            "denominator_unit": "10^4 yuan (constant prices)",
            "feedstock": "excluded",
            "co2": "combustion + purchased electricity + process",
            "reference_version": self.registry.energy_reference.version,
            "registry_version": self.registry.version,
        }
        for indicator, numerator in (("tce/10^4 yuan", tce), ("tCO2/10^4 yuan", co2)):
            series = Series(numerator, by_day, by_month)
            rows = rolling_rows(
                enterprise.id,
                "value_added",
                indicator,
                ("month", "ytd"),
                series,
                changed_from,
                evidence,
            )
            for row in rows:
                self._keep(state, row, out)

    def _process_co2(
        self, enterprise: Enterprise, state: EnterpriseState, out: EnergyOutput
    ) -> None:
        """Process CO2 of the products that name a process; a day that lost its output (a
        monthly figure replaced by daily ones) is re-issued at zero."""
        assert enterprise.energy is not None
        for product in enterprise.energy.products:
            if product.process_co2 is None:
                continue
            by_day, by_month = _statistic(state, StatisticIndicator.OUTPUT.value, product.id)
            rows = process_co2_rows(
                enterprise.id, product, self.registry.energy_reference, by_day, by_month
            )
            out.process_co2 += changed_process_rows(state.process, product.id, rows)

    @staticmethod
    def _day_rows(
        state: EnterpriseState, meters: Iterable[Meter]
    ) -> Iterable[tuple[Meter, ConsumptionRow]]:
        for meter in meters:
            held = state.meters.get(meter.id)
            for day in held.daily if held else ():
                row = state.consumption.get((meter.id, "day", day))
                if row is not None:
                    yield meter, row

    @staticmethod
    def _keep(state: EnterpriseState, row: IntensityRow, out: EnergyOutput) -> None:
        key = (row.subject, row.indicator, row.window, row.period_start)
        if state.intensities.get(key) != row:
            state.intensities[key] = row
            out.intensities.append(row)

    def _issue(self, state: EnterpriseState, out: EnergyOutput, verdict: Verdict) -> None:
        key = (verdict.outlet_id, verdict.factor, verdict.rule.value, verdict.period_start)
        previous = state.verdicts.get(key)
        if previous is not None and previous.model_dump() == verdict.model_dump():
            return
        state.verdicts[key] = verdict
        out.verdicts.append(verdict)


def _meters(enterprise: Enterprise) -> list[Meter]:
    return enterprise.energy.meters if enterprise.energy else []


def _quota_quantity(quota: EnergyQuota, row: ConsumptionRow) -> float:
    if quota.unit == "kWh/t":
        return row.quantity if row.carrier == "electricity" else 0.0
    kgce = row.kgce_calorific if quota.basis.value == "calorific" else row.kgce_equivalent
    return kgce / 1000.0 if quota.unit == "tce/t" else kgce


def _statistic(
    state: EnterpriseState, wanted: str, product: str
) -> tuple[dict[date, float], dict[date, float]]:
    """Daily and monthly figures of one indicator (and product), by day / month start."""
    by_day: dict[date, float] = {}
    by_month: dict[date, float] = {}
    for (indicator, item, stat, start), value in state.statistics.items():
        if indicator != wanted or item != product:
            continue
        day = day_start(start).date()
        if stat == StatType.DAY.value:
            by_day[day] = value
        elif stat == StatType.MONTH.value:
            by_month[day.replace(day=1)] = value
    return by_day, by_month


def _ratio(numerator: int, denominator: int) -> float | None:
    return min(1.0, numerator / denominator) if denominator else None
