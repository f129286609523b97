"""Process CO2 (domain-energy.md §5.3): output × the reference factor of the product's process,
added to the enterprise's CO2 beside combustion and purchased electricity. Worked examples."""

from __future__ import annotations

from datetime import date

import pytest
from energy_support import day, energy_document

from schemas.energy import EnergyRecord, ReadingIn, StatisticIn
from schemas.registry import Registry, RegistryError, parse_registry
from streams.domain.energy.engine import EnergyEngine

MARCH = date(2026, 3, 1)


def cement_registry(process: str = "cement_clinker") -> Registry:
    document = energy_document()
    cement = next(e for e in document["enterprises"] if e["id"] == "E-CM-01")
    cement["energy"]["products"][0]["process_co2"] = process
    return parse_registry(document, "process-test")


def clinker(stat: str, tonnes: float, offset: int = 0) -> EnergyRecord:
    statistic = StatisticIn(
        indicator="output",
        product="clinker",
        stat_type=stat,
        period_start=day(offset, MARCH),
        value=tonnes,
        unit="t",
    )
    return EnergyRecord(enterprise_id="E-CM-01", statistic=statistic)


def test_a_days_clinker_emits_output_times_the_factor_with_its_source() -> None:
    engine = EnergyEngine(cement_registry())
    out = engine.ingest([clinker("day", 4_000.0)])
    [row] = out.process_co2
    # 4 000 t clinker × 0.52 t CO2/t (IPCC default, [?]) = 2 080 t CO2
    assert (row.product, row.process, row.period_start) == (
        "clinker",
        "cement_clinker",
        day(0, MARCH),
    )
    assert row.co2_t == pytest.approx(2_080.0)
    factor = row.evidence["factor"]
    assert factor["value"] == 0.52 and factor["unconfirmed"] is True
    assert "IPCC 2006" in factor["source"]
    assert row.evidence["reference_version"] == "energy-reference-2026.2"


def test_a_monthly_only_figure_is_spread_over_its_days_and_replaced_by_daily_ones() -> None:
    engine = EnergyEngine(cement_registry())
    out = engine.ingest([clinker("month", 124_000.0)])
    assert len(out.process_co2) == 31
    assert sum(r.co2_t for r in out.process_co2) == pytest.approx(124_000.0 * 0.52)
    out = engine.ingest([clinker("day", 4_100.0, 2)])  # daily figures now: the spread goes
    by_day = {r.period_start: r.co2_t for r in out.process_co2}
    assert by_day[day(2, MARCH)] == pytest.approx(4_100.0 * 0.52)
    assert by_day[day(0, MARCH)] == 0.0 and len(by_day) == 31


def test_process_co2_is_in_the_co2_per_value_added() -> None:
    engine = EnergyEngine(cement_registry())
    coal = ReadingIn(
        meter_id="CM-COAL-1", value=480_000.0, unit="kg", stat_type="day",
        period_start=day(0, MARCH),
    )  # fmt: skip
    value_added = StatisticIn(
        indicator="value_added", stat_type="day", period_start=day(0, MARCH), value=1_000.0,
        unit="10^4 yuan",
    )  # fmt: skip
    out = engine.ingest(
        [
            EnergyRecord(enterprise_id="E-CM-01", reading=coal),
            EnergyRecord(enterprise_id="E-CM-01", statistic=value_added),
            clinker("day", 4_000.0),
        ]
    )
    co2 = {r.window: r for r in out.intensities if r.indicator == "tCO2/10^4 yuan"}["month"]
    # combustion 480 t raw coal × 1.9003 = 912.144 t, plus process 2 080 t = 2 992.144 t
    assert co2.numerator == pytest.approx(912.144 + 2_080.0)
    assert co2.value == pytest.approx((912.144 + 2_080.0) / 1_000.0)
    assert "process" in co2.evidence["co2"]


def test_the_registry_refuses_a_process_the_reference_has_no_factor_for() -> None:
    with pytest.raises(RegistryError, match="no process CO2 factor 'glass'"):
        cement_registry("glass")
