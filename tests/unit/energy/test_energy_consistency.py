"""Day-vs-month consistency (key-energy-user rule, 5 %): a month's reported figure against the
sum of its daily figures, judged once the month is closed, alerted through the alert engine."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from energy_support import day, energy_registry
from hypothesis import given
from hypothesis import strategies as st

from alerts.engine import Batch, World
from alerts.routing import Audience, Subscription
from schemas.alert import AlertLevel
from schemas.energy import EnergyRecord, ReadingIn, StatisticIn
from schemas.measurement import PeriodKind
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.domain.energy.consistency import month_checks
from streams.domain.energy.engine import EnergyEngine

MARCH = date(2026, 3, 1)


def gas_day(offset: int, m3: float) -> EnergyRecord:
    reading = ReadingIn(
        meter_id="AL-AUX-1", value=m3, unit="m3", stat_type="day", period_start=day(offset, MARCH)
    )
    return EnergyRecord(enterprise_id="E-AL-01", reading=reading)


def gas_month(m3: float) -> EnergyRecord:
    reading = ReadingIn(
        meter_id="AL-AUX-1", value=m3, unit="m3", stat_type="month", period_start=day(0, MARCH)
    )
    return EnergyRecord(enterprise_id="E-AL-01", reading=reading)


def consistency(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.outlet_id: v for v in verdicts if v.rule is Rule.ENERGY_CONSISTENCY}


def test_a_meters_month_figure_is_judged_against_its_days_once_the_month_closes() -> None:
    engine = EnergyEngine(energy_registry())
    first_days = engine.ingest([gas_month(3_300.0), *(gas_day(d, 100.0) for d in range(20))])
    assert consistency(first_days.verdicts) == {}  # March still open: 2 000 of 3 300 is no fault
    rest = engine.ingest([gas_day(d, 100.0) for d in range(20, 31)])
    verdict = consistency(rest.verdicts)["AL-AUX-1"]
    assert verdict.status is VerdictStatus.WARNING
    assert verdict.period is PeriodKind.MONTH and verdict.period_start == day(0, MARCH)
    assert verdict.value == pytest.approx(200.0 / 3_300.0)  # 6.1 % > 5 %
    assert verdict.limit == 0.05
    assert verdict.evidence["month_figure"] == 3_300.0
    assert verdict.evidence["daily_sum"] == pytest.approx(3_100.0)
    assert (verdict.evidence["days"], verdict.evidence["days_in_month"]) == (31, 31)
    corrected = engine.ingest([gas_month(3_200.0)])  # the 月报 corrected: 3.1 % is within
    assert consistency(corrected.verdicts)["AL-AUX-1"].status is VerdictStatus.COMPLIANT


def test_data_of_the_next_month_close_a_month_with_missing_days() -> None:
    engine = EnergyEngine(energy_registry())
    out = engine.ingest([gas_month(3_100.0), *(gas_day(d, 100.0) for d in range(25))])
    assert consistency(out.verdicts) == {}
    out = engine.ingest([gas_day(31, 100.0)])  # 1 April: March is over, 6 days never came
    verdict = consistency(out.verdicts)["AL-AUX-1"]
    assert verdict.status is VerdictStatus.WARNING and verdict.evidence["days"] == 25


def test_monthly_output_against_its_daily_output() -> None:
    engine = EnergyEngine(energy_registry())

    def output(stat: str, offset: int, tonnes: float) -> EnergyRecord:
        statistic = StatisticIn(
            indicator="output",
            product="al-liquid",
            stat_type=stat,
            period_start=day(offset, MARCH),
            value=tonnes,
            unit="t",
        )
        return EnergyRecord(enterprise_id="E-AL-01", statistic=statistic)

    out = engine.ingest(
        [output("month", 0, 20_000.0), *(output("day", d, 600.0) for d in range(31))]
    )
    verdict = consistency(out.verdicts)["E-AL-01/output/al-liquid"]
    assert verdict.status is VerdictStatus.WARNING  # 18 600 t of days vs 20 000 t: 7 %
    assert verdict.factor == "output" and verdict.evidence["unit"] == "t"
    assert verdict.value == pytest.approx(1_400.0 / 20_000.0)


@given(
    st.lists(st.floats(0.0, 1e6), min_size=31, max_size=31),
    st.floats(0.0, 1e7),
)
def test_deviation_is_relative_to_the_month_figure(days: list[float], month: float) -> None:
    by_day = {MARCH + timedelta(days=i): v for i, v in enumerate(days)}
    [check] = month_checks(by_day, {MARCH: month}, None)
    total = sum(days)
    if month > 0:
        assert check.deviation == pytest.approx(abs(total - month) / month)
    else:
        assert check.deviation == (0.0 if total == 0 else 1.0)


def test_an_inconsistent_month_warns_the_enterprise() -> None:
    registry = energy_registry()
    engine = EnergyEngine(registry)
    out = engine.ingest([gas_month(3_300.0), *(gas_day(d, 100.0) for d in range(31))])
    verdict = consistency(out.verdicts)["AL-AUX-1"]
    enterprise = Subscription(
        1, "E-AL-01", Audience.ENTERPRISE, "json://x/1", AlertLevel.DATA_QUALITY, None
    )
    world = World(registry, subscriptions=(enterprise,))
    batch = Batch(world, {}, day(3, date(2026, 4, 1)))
    batch.verdict(verdict)
    [notice] = batch.outbox
    assert "日数据与月数据一致性" in notice.title + notice.body
    assert "相差超过 5%" in notice.body
