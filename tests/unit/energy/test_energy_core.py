"""The pure energy core: register deltas, Σ/Σ windows, tce/CO2 with citations, verdicts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from energy_support import day, energy_document, energy_registry
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.energy import EnergyRecord, Meter, MeterReplacement, ReadingIn, StatisticIn
from schemas.energy_reference import Carrier, load_energy_reference
from schemas.registry import RegistryError, parse_registry
from schemas.verdict import Rule, VerdictStatus
from streams.domain.energy.conversion import convert
from streams.domain.energy.engine import EnergyEngine
from streams.domain.energy.intensity import window_sum
from streams.domain.energy.registers import (
    BACKWARDS,
    IMPLAUSIBLE_JUMP,
    REPLACEMENT,
    ROLLOVER,
    RegisterReading,
    register_deltas,
)

T0 = day(0)
STEP = timedelta(minutes=15)


def _meter(**extra: object) -> Meter:
    body: dict[str, object] = {
        "id": "M1",
        "carrier": "electricity",
        "unit": "kWh",
        "kind": "cumulative",
    }
    body.update(extra)
    return Meter.model_validate(body)


@settings(max_examples=200, deadline=None)
@given(
    increments=st.lists(st.floats(min_value=0, max_value=400, allow_nan=False), max_size=60),
    start=st.floats(min_value=0, max_value=999, allow_nan=False),
    multiplier=st.sampled_from([1.0, 10.0, 100.0]),
)
def test_rollover_loses_no_energy_and_is_never_negative(
    increments: list[float], start: float, multiplier: float
) -> None:
    rollover = 1000.0
    meter = _meter(rollover=rollover, multiplier=multiplier)
    readings, total = [RegisterReading(T0, start)], start
    for i, inc in enumerate(increments, 1):
        total += inc
        readings.append(RegisterReading(T0 + i * STEP, total % rollover))
    walk = register_deltas(meter, readings)
    assert all(d.quantity >= 0 for d in walk.deltas)
    assert sum(d.quantity for d in walk.deltas) == pytest.approx(
        (total - start) * multiplier, rel=1e-9, abs=1e-6
    )
    assert all(BACKWARDS not in m for m in walk.marks.values())


@settings(max_examples=200, deadline=None)
@given(
    increments=st.lists(
        st.floats(min_value=0, max_value=50, allow_nan=False), min_size=2, max_size=40
    ),
    glitch=st.integers(min_value=1, max_value=39),
    drop=st.floats(min_value=1, max_value=500, allow_nan=False),
)
def test_backwards_step_is_marked_kept_and_loses_nothing(
    increments: list[float], glitch: int, drop: float
) -> None:
    meter = _meter()
    readings, total = [RegisterReading(T0, 1000.0)], 1000.0
    for i, inc in enumerate(increments, 1):
        total += inc
        readings.append(RegisterReading(T0 + i * STEP, total))
    glitch = min(glitch, len(readings) - 2)
    bad = readings[glitch]
    readings[glitch] = RegisterReading(bad.instant, max(0.0, readings[glitch - 1].raw - drop))
    walk = register_deltas(meter, readings)
    assert walk.marks[bad.instant] == frozenset({BACKWARDS})
    assert all(d.quantity >= 0 for d in walk.deltas)
    assert sum(d.quantity for d in walk.deltas) == pytest.approx(total - 1000.0, abs=1e-6)


def test_declared_replacement_counts_old_rest_and_new_run() -> None:
    swap = MeterReplacement(at=T0 + 90 * timedelta(minutes=1), old_final=5100.0, new_initial=3.0)
    meter = _meter(replacements=[swap])
    readings = [
        RegisterReading(T0, 5000.0),
        RegisterReading(T0 + 4 * STEP, 5080.0),
        RegisterReading(T0 + 8 * STEP, 13.0),
    ]
    walk = register_deltas(meter, readings)
    assert [d.quantity for d in walk.deltas] == [80.0, 30.0]
    assert walk.marks[T0 + 8 * STEP] == frozenset({REPLACEMENT})
    undeclared = register_deltas(_meter(), readings)
    assert undeclared.marks[T0 + 8 * STEP] == frozenset({BACKWARDS})
    assert sum(d.quantity for d in undeclared.deltas) == 80.0


def test_rollover_and_implausible_jump_are_marked() -> None:
    meter = _meter(rollover=10000.0, max_per_hour=400.0)
    readings = [
        RegisterReading(T0, 9950.0),
        RegisterReading(T0 + STEP, 40.0),
        RegisterReading(T0 + 2 * STEP, 5040.0),
    ]
    walk = register_deltas(meter, readings)
    assert walk.marks[T0 + STEP] == frozenset({ROLLOVER})
    assert walk.marks[T0 + 2 * STEP] == frozenset({IMPLAUSIBLE_JUMP})
    assert [d.quantity for d in walk.deltas] == [90.0, 5000.0]


@given(
    days=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1e6, allow_nan=False),
            st.floats(min_value=0.1, max_value=1e3, allow_nan=False),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_window_is_sum_over_sum(days: list[tuple[float, float]]) -> None:
    end = date(2026, 3, 20)
    numerator = {end - timedelta(days=i): n for i, (n, _) in enumerate(days)}
    denominator = {end - timedelta(days=i): d for i, (_, d) in enumerate(days)}
    total = window_sum("30d", end, numerator, denominator, {})
    inside = [i for i in range(len(days)) if i < 30]
    expected = sum(days[i][0] for i in inside) / sum(days[i][1] for i in inside)
    assert total.value == pytest.approx(expected)


def test_window_never_averages_ratios_and_takes_whole_months() -> None:
    first, second = date(2026, 3, 1), date(2026, 3, 2)
    total = window_sum("24h", second, {first: 100.0, second: 10.0}, {first: 10.0, second: 1.0}, {})
    assert total.value == 10.0
    month = window_sum(
        "month", second, {first: 100.0, second: 10.0}, {first: 10.0, second: 1.0}, {}
    )
    assert month.value == pytest.approx(110.0 / 11.0)  # the mean of ratios would say 10.0 too
    skewed = window_sum(
        "month", second, {first: 100.0, second: 50.0}, {first: 10.0, second: 1.0}, {}
    )
    assert skewed.value == pytest.approx(150.0 / 11.0)  # not (10 + 50) / 2 = 30
    monthly_only = {date(2026, 2, 1): 20.0}
    assert (
        window_sum("ytd", date(2026, 2, 27), {date(2026, 2, 1): 400.0}, {}, monthly_only).value
        is None
    )
    assert (
        window_sum("ytd", date(2026, 2, 28), {date(2026, 2, 1): 400.0}, {}, monthly_only).value
        == 20.0
    )


def test_conversion_cites_both_bases_and_the_grid_factor_of_the_region() -> None:
    reference = load_energy_reference()
    converted = convert(reference, Carrier.ELECTRICITY, 1000.0, 2026, "520400")
    assert converted.kgce_calorific == pytest.approx(122.9)
    assert converted.kgce_equivalent == pytest.approx(404.0)
    assert converted.co2_kg == pytest.approx(404.2)  # South grid 2023, the latest published
    assert converted.evidence["co2_grid"]["year"] == 2023
    assert converted.evidence["co2_grid"]["unconfirmed"] is True
    coal = convert(reference, Carrier.RAW_COAL, 1000.0, 2026, "520300")
    assert coal.kgce_calorific == pytest.approx(714.3)
    assert coal.co2_kg == pytest.approx(1900.3)
    steam = convert(reference, Carrier.WASHED_COAL, 1.0, 2026, "52")
    assert steam.co2_kg is None and steam.evidence["co2_factor"] == "no factor in the reference"


def test_registry_refuses_a_meter_in_the_wrong_unit_and_an_unknown_product() -> None:
    document = energy_document()
    aluminium = document["enterprises"][-1]
    aluminium["energy"]["meters"][0]["unit"] = "MWh"
    with pytest.raises(RegistryError, match="AL-POT-1: electricity is metered in kWh, not MWh"):
        parse_registry(document)
    document = energy_document()
    document["enterprises"][-1]["energy"]["meters"][0]["product"] = "ingot"
    with pytest.raises(RegistryError, match="unknown product 'ingot'"):
        parse_registry(document)
    document = energy_document()
    document["enterprises"][-1]["energy"]["meters"][1]["id"] = "AL-POT-1"
    with pytest.raises(RegistryError, match="meter id defined twice"):
        parse_registry(document)


def _potline_day(
    offset: int, kwh_per_t: float, tonnes: float, start_raw: float
) -> tuple[list[EnergyRecord], float]:
    """A day of 15-min register readings (multiplier 100) using ``kwh_per_t`` × ``tonnes``."""
    per_step = kwh_per_t * tonnes / 96 / 100.0
    records, raw = [], start_raw
    for i in range(1, 97):
        raw = (raw + per_step) % 1_000_000.0
        reading = ReadingIn(
            meter_id="AL-POT-1", value=raw, unit="kWh", instant=day(offset) + i * STEP
        )
        records.append(EnergyRecord(enterprise_id="E-AL-01", reading=reading))
    output = StatisticIn(
        indicator="output",
        product="al-liquid",
        stat_type="day",
        period_start=day(offset),
        value=tonnes,
        unit="t",
    )
    records.append(EnergyRecord(enterprise_id="E-AL-01", statistic=output))
    return records, raw


def test_engine_judges_the_quota_once_the_day_closes_and_resends_change_nothing() -> None:
    engine = EnergyEngine(energy_registry())
    start = EnergyRecord(
        enterprise_id="E-AL-01",
        reading=ReadingIn(meter_id="AL-POT-1", value=999_000.0, unit="kWh", instant=day(0)),
    )
    first, raw = _potline_day(0, 13_800.0, 600.0, 999_000.0)
    midnight, output = first[95], first[96]
    out = engine.ingest([start, *first[:95], output])
    assert not [v for v in out.verdicts if v.rule is Rule.ENERGY_QUOTA]  # day 0 still open
    assert [r.marks for r in out.readings if r.marks] == [("rollover",)]
    second, _ = _potline_day(1, 13_500.0, 600.0, raw)
    out = engine.ingest([midnight, *second])
    quota = {(v.factor, v.period_start): v for v in out.verdicts if v.rule is Rule.ENERGY_QUOTA}
    verdict = quota[("kWh/t@30d", day(0))]
    assert verdict.status is VerdictStatus.EXCEEDANCE
    assert verdict.value == pytest.approx(13_800.0)
    assert verdict.evidence["denominator"] == 600.0
    assert verdict.evidence["excess"] == pytest.approx(150.0)
    assert verdict.evidence["completeness"] == pytest.approx(1.0)
    completeness = [v for v in out.verdicts if v.rule is Rule.ENERGY_COMPLETENESS]
    assert {(v.outlet_id, v.status) for v in completeness} == {
        ("AL-POT-1", VerdictStatus.COMPLIANT)
    }
    assert quota[("kWh/t@30d", day(1))].value == pytest.approx((13_800.0 + 13_500.0) / 2)
    assert quota[("kWh/t@30d", day(1))].status is VerdictStatus.WARNING
    days = {r.period_start: r for r in out.consumption if r.period == "day"}
    assert days[day(1)].quantity == pytest.approx(13_500.0 * 600.0)
    resent = engine.ingest([midnight, *second])
    assert resent.consumption == [] and resent.verdicts == [] and resent.intensities == []


def test_engine_a_back_filled_outage_reaggregates_and_marks_incomplete_days() -> None:
    engine = EnergyEngine(energy_registry())
    records, _ = _potline_day(0, 13_000.0, 600.0, 0.0)
    lost = [r for r in records if r.reading is not None and r.reading.at.hour >= 12]
    out = engine.ingest([r for r in records if r not in lost])
    incomplete = {v.period_start: v for v in out.verdicts if v.rule is Rule.ENERGY_COMPLETENESS}
    assert incomplete[day(0)].status is VerdictStatus.WARNING
    assert incomplete[day(0)].value == pytest.approx(47 / 96)
    days = {r.period_start: r for r in out.consumption if r.period == "day"}
    assert "interpolated" in days[day(0)].marks
    assert days[day(0)].quantity == pytest.approx(13_000.0 * 600.0 * 95 / 96)  # spread, not lost
    backfill = engine.ingest(lost)
    fixed = [v for v in backfill.verdicts if v.rule is Rule.ENERGY_COMPLETENESS]
    assert [(v.period_start, v.status) for v in fixed] == [(day(0), VerdictStatus.COMPLIANT)]
    day0 = {r.period_start: r for r in backfill.consumption if r.period == "day"}[day(0)]
    assert "interpolated" not in day0.marks
    assert day0.quantity == pytest.approx(13_000.0 * 600.0 * 95 / 96)


def test_value_added_intensity_excludes_feedstock_and_waits_for_the_month_figure() -> None:
    document = energy_document()
    cement = next(e for e in document["enterprises"] if e["id"] == "E-CM-01")
    cement["energy"]["meters"].append(
        {
            "id": "CM-FEED-1",
            "carrier": "raw_coal",
            "unit": "kg",
            "kind": "interval",
            "feedstock": True,
        }
    )
    engine = EnergyEngine(parse_registry(document))
    records = []
    for offset in range(31):
        for meter, kg in (("CM-COAL-1", 100_000.0), ("CM-FEED-1", 50_000.0)):
            reading = ReadingIn(
                meter_id=meter, value=kg, unit="kg", stat_type="day", period_start=day(offset)
            )
            records.append(EnergyRecord(enterprise_id="E-CM-01", reading=reading))
    out = engine.ingest(records)
    assert not [i for i in out.intensities if i.subject == "value_added"]
    value_added = StatisticIn(
        indicator="value_added", period_start=day(0), value=2_000.0, unit="10^4 yuan"
    )
    out = engine.ingest([EnergyRecord(enterprise_id="E-CM-01", statistic=value_added)])
    month = {(i.indicator, i.window): i for i in out.intensities if i.subject == "value_added"}
    tce = month[("tce/10^4 yuan", "month")]
    assert tce.period_start == day(30)  # 31 March: the month is whole
    assert tce.value == pytest.approx(31 * 100_000 * 0.7143 / 1000 / 2_000)
    assert month[("tCO2/10^4 yuan", "ytd")].value == pytest.approx(
        31 * 100_000 * 1.9003 / 1000 / 2_000
    )
