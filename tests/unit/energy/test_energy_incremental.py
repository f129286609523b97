"""Incremental derivation equals derivation from scratch, however the input is batched and
ordered (late, back-filled and re-sent readings included)."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from energy_support import day, energy_registry
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.energy import EnergyRecord, ReadingIn, StatisticIn
from streams.domain.energy.engine import EnergyEngine

STEP = timedelta(minutes=15)


def _records(glitches: list[int], drops: list[int]) -> list[EnergyRecord]:
    records, raw = [], 990_000.0
    for i in range(3 * 96 + 1):
        raw = (raw + 850.0 + (i % 7) * 10.0) % 1_000_000.0
        value = max(0.0, raw - 5_000.0) if i in glitches else raw
        if i in drops:
            continue
        reading = ReadingIn(meter_id="AL-POT-1", value=value, unit="kWh", instant=day(0) + i * STEP)
        records.append(EnergyRecord(enterprise_id="E-AL-01", reading=reading))
    for offset in range(3):
        output = StatisticIn(
            indicator="output", product="al-liquid", stat_type="day",
            period_start=day(offset), value=600.0, unit="t",
        )  # fmt: skip
        records.append(EnergyRecord(enterprise_id="E-AL-01", statistic=output))
    gas = ReadingIn(
        meter_id="AL-AUX-1", value=40.0, unit="m3", stat_type="day", period_start=day(1)
    )
    records.append(EnergyRecord(enterprise_id="E-AL-01", reading=gas))
    return records


def _latest(engine: EnergyEngine, batches: list[list[EnergyRecord]]) -> dict[str, dict[Any, Any]]:
    latest: dict[str, dict[Any, Any]] = {"consumption": {}, "intensities": {}, "verdicts": {}}
    for batch in batches:
        out = engine.ingest(batch)
        for row in out.consumption:
            latest["consumption"][(row.meter_id, row.period, row.period_start)] = (
                pytest.approx(row.quantity, rel=1e-9, abs=1e-6),
                row.readings,
                row.marks,
            )
        for intensity in out.intensities:
            key = (intensity.subject, intensity.indicator, intensity.window, intensity.period_start)
            latest["intensities"][key] = pytest.approx(intensity.value, rel=1e-9)
        for verdict in out.verdicts:
            key = (verdict.outlet_id, verdict.factor, verdict.rule, verdict.period_start)
            latest["verdicts"][key] = verdict.status
    return latest


@settings(max_examples=25, deadline=None)
@given(
    glitches=st.lists(st.integers(min_value=1, max_value=280), max_size=3),
    drops=st.lists(st.integers(min_value=1, max_value=280), max_size=20),
    cuts=st.lists(st.integers(min_value=1, max_value=300), max_size=6),
    seed=st.randoms(use_true_random=False),
)
def test_batched_and_shuffled_input_ends_where_one_batch_ends(
    glitches: list[int], drops: list[int], cuts: list[int], seed: Any
) -> None:
    records = _records(glitches, drops)
    whole = _latest(EnergyEngine(energy_registry()), [records])
    shuffled = list(records)
    seed.shuffle(shuffled)
    bounds = [0, *sorted(set(cuts)), len(shuffled)]
    batches = [shuffled[a:b] for a, b in pairwise(bounds) if b > a]
    batches.append(shuffled[: len(shuffled) // 3])  # a resend changes nothing
    pieces = _latest(EnergyEngine(energy_registry()), batches)
    assert pieces["consumption"] == whole["consumption"]
    assert pieces["intensities"] == whole["intensities"]
    assert pieces["verdicts"] == whole["verdicts"]


@pytest.mark.parametrize(
    "late",
    [
        [day(1)],  # the midnight reading after the next ones: the day before changes
        [day(1) + i * STEP for i in range(-8, 8)],  # an outage across midnight, back-filled
        [day(0) + 40 * STEP],  # a glitch (backwards step) arriving after the recovery
    ],
)
def test_late_readings_rederive_the_days_they_change(late: list[Any]) -> None:
    records = _records(glitches=[40], drops=[])
    held = [r for r in records if r.reading is not None and r.reading.instant in late]
    rest = [r for r in records if r not in held]
    whole = _latest(EnergyEngine(energy_registry()), [records])
    pieces = _latest(EnergyEngine(energy_registry()), [rest, held])
    assert pieces == whole
