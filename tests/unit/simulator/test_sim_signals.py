"""Simulated monitor values: plausible, healthy by default, diurnal, and reproducible."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ingest.hj212 import CHINA_TZ
from ingest.simulator.profiles import load_profiles
from ingest.simulator.province import SimDevice, build_province
from ingest.simulator.signals import (
    GAS_FLOW,
    O2,
    WATER_FLOW,
    DeviceSignal,
    FactorValues,
    HourAccumulator,
    Reading,
    significant,
)

DAY = datetime(2026, 3, 2, tzinfo=CHINA_TZ)


def _day(device: SimDevice, seed: int = 1) -> list[Reading]:
    signal = DeviceSignal(device, seed, load_profiles())
    return [signal.minute(DAY + timedelta(minutes=m)) for m in range(24 * 60)]


def _devices() -> dict[str, SimDevice]:
    return {d.kind_name: d for d in build_province(7, seed=1).devices}


def test_same_seed_same_readings() -> None:
    device = _devices()["coal_unit_stack"]
    assert _day(device)[:30] == _day(device)[:30]
    assert _day(device, seed=2)[:30] != _day(device)[:30]


@pytest.mark.parametrize("kind", sorted(_devices()))
def test_a_healthy_outlet_meets_its_limits_every_hour(kind: str) -> None:
    device = _devices()[kind]
    minutes = _day(device)
    for hour in range(24):
        accumulator = HourAccumulator()
        for reading in minutes[hour * 60 : (hour + 1) * 60]:
            accumulator.add(reading)
        hourly = accumulator.take()
        assert hourly is not None
        for code, limit in device.limits.items():
            if code in hourly:
                value = hourly[code]
                judged = value.zs if value.zs is not None else value.avg
                assert 0 < judged < limit, f"{kind} {code} hour {hour}: {judged} vs {limit}"


def test_gas_values_are_physically_plausible() -> None:
    for kind in ("coal_unit_stack", "cement_kiln_tail", "potline_fume"):
        for reading in _day(_devices()[kind])[::17]:
            assert 0 < reading[O2].avg <= 20.9
            assert reading[GAS_FLOW].avg > 0
            assert reading[GAS_FLOW].min <= reading[GAS_FLOW].avg <= reading[GAS_FLOW].max
            assert reading[GAS_FLOW].cou == pytest.approx(reading[GAS_FLOW].avg * 60, rel=1e-3)


def test_measured_concentration_follows_o2_correction() -> None:
    device = _devices()["coal_unit_stack"]
    reading = _day(device)[600]
    so2, o2 = reading["a21026"], reading[O2].avg
    assert so2.zs is not None
    # C_ref = C_measured × (21 − 6) / (21 − O2): within the rounding of O2 and 4 digits
    assert so2.zs == pytest.approx(so2.avg * 15 / (21 - o2), rel=0.02)


def test_power_load_follows_the_day_and_sewage_inflow_peaks_in_the_morning() -> None:
    power = _day(_devices()["coal_unit_stack"])
    evening = sum(r[GAS_FLOW].avg for r in power[18 * 60 : 19 * 60])
    night = sum(r[GAS_FLOW].avg for r in power[3 * 60 : 4 * 60])
    assert evening > night * 1.4
    sewage = _day(_devices()["municipal_effluent"])
    morning = sum(r[WATER_FLOW].avg for r in sewage[8 * 60 : 9 * 60])
    small_hours = sum(r[WATER_FLOW].avg for r in sewage[3 * 60 : 4 * 60])
    assert morning > small_hours * 1.8


def test_hourly_roll_up_averages_sums_and_flags() -> None:
    accumulator = HourAccumulator()
    for minute in range(60):
        flag = "C" if minute < 20 else "N"
        accumulator.add({"a21026": FactorValues(10.0 + minute % 2, 9.0, 12.0, 11.0, 0.5, flag)})
    hourly = accumulator.take()
    assert hourly is not None
    value = hourly["a21026"]
    assert (value.avg, value.min, value.max, value.cou) == (10.5, 9.0, 12.0, 30.0)
    assert value.flag == "C"  # more than a quarter of the minutes in calibration
    assert accumulator.take() is None


def test_significant_digits() -> None:
    assert significant(123.456) == 123.5
    assert significant(0.00123456) == 0.001235
    assert significant(0.0) == 0.0
