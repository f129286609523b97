"""Energy factors (``i3…``) in HJ 212 frames become energy meter readings, checked by the
energy API's own admission; unknown codes and unusable values are refused with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from gateway_fixtures import (
    DAILY_METER,
    DEVICE,
    ELECTRICITY_METER,
    NOW,
    energy_registry,
    frame,
    registry,
)

from ingest.energy.admission import admit
from ingest.gateway.energy_factors import energy_readings
from ingest.hj212 import decode
from schemas.energy import StatType
from schemas.registry import RegistryError, parse_registry
from streams.domain.energy.engine import EnergyEngine

STAMP = NOW.replace(minute=15)


def test_a_register_and_a_daily_quantity_become_the_readings_the_api_would_take() -> None:
    packet = decode(
        frame(
            cn="2011",
            data_time=STAMP,
            values={
                "a21026": {"Rtd": 12.5, "Flag": "N"},
                "i33201": {"Rtd": 84210.5, "Flag": "N"},
            },
        )
    )
    found = energy_readings(packet, energy_registry(), NOW + timedelta(minutes=1))
    assert found.refused == []
    assert found.batch is not None and found.batch.enterprise_id == "E-T-01"
    [reading] = found.batch.readings
    posted = {
        "meter_id": ELECTRICITY_METER,
        "value": 84210.5,
        "unit": "kWh",
        "instant": STAMP.isoformat(),
    }
    registry = energy_registry()
    enterprise = registry.enterprises[0]
    [(_, record)] = admit("readings", [posted], enterprise, registry, NOW).accepted
    assert reading == record.reading  # the HTTP path's record, to the field

    daily = decode(frame(cn="2031", data_time=STAMP.replace(hour=0, minute=0),
                         values={"i33202": {"Cou": 5210.0}}))  # fmt: skip
    [quantity] = energy_readings(daily, registry, NOW).batch.readings  # type: ignore[union-attr]
    assert (quantity.meter_id, quantity.stat_type, quantity.value) == (
        DAILY_METER,
        StatType.DAY,
        5210.0,
    )
    assert quantity.period_start == STAMP.replace(hour=0, minute=0)


def test_a_frame_reading_derives_consumption_like_a_posted_one() -> None:
    registry = energy_registry()
    engine = EnergyEngine(registry)
    records = []
    for minutes, raw in ((0, 1000.0), (60, 1100.0)):
        at = STAMP + timedelta(minutes=minutes)
        packet = decode(frame(cn="2011", data_time=at, values={"i33201": {"Rtd": raw}}))
        batch = energy_readings(packet, registry, at).batch
        assert batch is not None
        records += batch.records()
    output = engine.ingest(records)
    hours = [r for r in output.consumption if r.period == "hour"]
    assert sum(r.quantity for r in hours) == pytest.approx(1000.0)  # 100 raw × multiplier 10


@pytest.mark.parametrize(
    ("values", "data_time_shift", "reason"),
    [
        ({"i33299": {"Rtd": 5.0}}, timedelta(0), "unknown_energy_code"),
        ({"i33201": {"Flag": "D"}}, timedelta(0), "bad_energy_value"),
        ({"i33201": {"Rtd": 5.0}}, timedelta(hours=2), "clock_skew"),
    ],
)
def test_refused_energy_factors_carry_a_reason(
    values: dict[str, dict[str, float | str]], data_time_shift: timedelta, reason: str
) -> None:
    packet = decode(frame(cn="2011", data_time=STAMP + data_time_shift, values=values))
    found = energy_readings(packet, energy_registry(), NOW)
    assert found.batch is None
    [refusal] = found.refused
    assert refusal.reason == reason
    assert DEVICE in refusal.message and next(iter(values)) in refusal.message


def test_frames_without_energy_factors_are_untouched() -> None:
    found = energy_readings(decode(frame()), energy_registry(), NOW)
    assert found.batch is None and found.refused == []
    # a device of a registry without meters: its i3 factor is an unknown code
    bare = energy_readings(decode(frame(values={"i33201": {"Rtd": 1.0}})), registry(), NOW)
    assert [r.reason for r in bare.refused] == ["unknown_energy_code"]


def test_the_registry_refuses_a_meter_read_from_another_enterprises_device() -> None:
    document = energy_registry().model_dump(mode="json", exclude={"standards", "energy_reference"})
    meters = document["enterprises"][0]["energy"]["meters"]
    meters[0]["hj212"]["mn"] = "NOT-OURS"
    with pytest.raises(RegistryError, match="device NOT-OURS is not E-T-01's"):
        parse_registry(document)
    meters[0]["hj212"]["mn"] = DEVICE
    meters[1]["hj212"]["code"] = "i33201"
    with pytest.raises(RegistryError, match="mapped twice"):
        parse_registry(document)


def test_frames_of_other_commands_are_passed_over_not_misread() -> None:
    """A minute's or an hour's ``Cou`` of a register is that period's kWh, not the register:
    only real-time frames (the register's channel) are read; nothing is refused."""
    for cn in ("2051", "2061"):
        packet = decode(frame(cn=cn, data_time=STAMP, values={"i33201": {"Cou": 85.0}}))
        found = energy_readings(packet, energy_registry(), NOW)
        assert found.batch is None and found.refused == []
    document = energy_registry().model_dump(mode="json", exclude={"standards", "energy_reference"})
    document["enterprises"][0]["energy"]["meters"][1]["hj212"]["cn"] = "2061"
    document["enterprises"][0]["energy"]["meters"][1]["interval_minutes"] = 60
    hourly = parse_registry(document)
    packet = decode(
        frame(cn="2061", data_time=STAMP.replace(minute=0), values={"i33202": {"Cou": 85.0}})
    )
    [reading] = energy_readings(packet, hourly, NOW).batch.readings  # type: ignore[union-attr]
    assert (reading.meter_id, reading.stat_type, reading.value) == (
        DAILY_METER,
        StatType.REALTIME,
        85.0,
    )
