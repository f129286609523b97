"""The simulated energy management systems: what the potline posts and when."""

from __future__ import annotations

from datetime import datetime, timedelta

from ingest.simulator.energy import (
    BACKFILL_AT,
    OUTAGE,
    STEP,
    EnergySchedule,
    load_energy_plan,
    with_energy,
)
from ingest.simulator.province import build_province
from streams.domain.periods import CHINA_TZ

START = datetime(2026, 3, 1, tzinfo=CHINA_TZ)


def _schedule() -> EnergySchedule:
    registry = with_energy(build_province(3, seed=7).registry, START, "s", load_energy_plan())
    return EnergySchedule(registry, START, load_energy_plan())


def _potline(posts: list, meter: str = "E-AL-001-POT") -> list[dict]:  # type: ignore[type-arg]
    return [r for p in posts for r in p.body.get("readings", []) if r["meter_id"] == meter]


def test_registry_gets_meters_products_quotas_and_the_declared_replacement() -> None:
    registry = with_energy(build_province(3, seed=7).registry, START, "s", load_energy_plan())
    found = registry.meter("E-AL-001-POT")
    assert found is not None
    enterprise, meter = found
    assert [q.limit for q in enterprise.energy_quotas if q.product == "al-liquid"] == [13650.0]
    assert meter.replacements[0].at == START + timedelta(hours=12, minutes=7)
    assert registry.meter("E-TP-001-AUX") is not None and registry.meter("E-CM-001-COAL")


def test_the_potline_rolls_over_steps_back_goes_silent_and_back_fills() -> None:
    schedule = _schedule()
    values: dict[timedelta, float] = {}
    sent_at: dict[timedelta, timedelta] = {}
    step = timedelta(0)
    while step <= timedelta(hours=26):
        for reading in _potline(schedule.posts(START + step)):
            at = datetime.fromisoformat(reading["instant"]) - START
            values[at], sent_at[at] = reading["value"], step
        step += STEP
    assert values[2 * STEP] < values[STEP]  # the register passed its rollover
    assert values[timedelta(hours=8)] < values[timedelta(hours=7, minutes=45)]  # backwards
    assert values[timedelta(hours=8, minutes=15)] > values[timedelta(hours=7, minutes=45)]
    assert sent_at[OUTAGE[0]] == BACKFILL_AT and sent_at[OUTAGE[1]] == OUTAGE[1]
    assert values[timedelta(hours=12, minutes=15)] < 1_000  # the new register, from 0


def test_output_of_a_day_is_posted_at_the_next_midnight() -> None:
    schedule = _schedule()
    midnight = [p for p in schedule.posts(START + timedelta(days=1)) if p.path == "/v1/statistics"]
    items = {p.body["statistics"][0]["product"]: p.body["statistics"][0] for p in midnight}
    assert items["al-liquid"]["period_start"] == START.isoformat()
    assert items["al-liquid"]["value"] == 600
