"""Normalization of decoded HJ 212 packets into measurements."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from streams_support import CHINA, GAS, WATER, make_registry

from ingest.hj212 import decode, encode
from schemas.measurement import PeriodKind
from streams.domain.errors import NormalizeError, NormalizeReason
from streams.domain.normalize import normalize_packet

REGISTRY = make_registry()
AT = datetime(2024, 5, 1, 12, 0, 30, tzinfo=CHINA)


def normalize(**fields: Any) -> list[Any]:
    fields.setdefault("st", "31")
    fields.setdefault("mn", GAS)
    packet = decode(encode(**fields).encode())
    return normalize_packet(packet, AT + timedelta(seconds=5), REGISTRY)


@pytest.mark.parametrize(
    ("cn", "period", "start"),
    [
        ("2011", PeriodKind.RTD, AT),
        ("2051", PeriodKind.MINUTE, AT.replace(second=0)),
        ("2061", PeriodKind.HOUR, AT.replace(minute=0, second=0)),
        ("2031", PeriodKind.DAY, AT.replace(hour=0, minute=0, second=0)),
    ],
)
def test_commands_map_to_periods_and_period_starts_are_floored(
    cn: str, period: PeriodKind, start: datetime
) -> None:
    [m] = normalize(cn=cn, data_time=AT, values={"a21026": {"Avg": 12.5, "Rtd": 12.5}})
    assert (m.period, m.period_start, m.outlet_id) == (period, start, "G1")
    assert m.period_start.utcoffset() == timedelta(hours=8)


def test_2005_codes_become_2017_codes_and_flags_default_to_n() -> None:
    values = {
        "02": {"Rtd": 80.0, "ZsRtd": 95.5, "Flag": "n"},
        "S01": {"Rtd": 9.1},
        "B02": {"Rtd": 35.75},
        "a21002": {"Rtd": 40.0, "Flag": "D"},
    }
    found = {m.factor: m for m in normalize(cn="2011", data_time=AT, values=values)}
    assert set(found) == {"a21026", "a19001", "a00000", "a21002"}
    so2 = found["a21026"]
    assert (so2.factor_as_sent, so2.rtd, so2.zs_rtd, so2.flag) == ("02", 80.0, 95.5, "N")
    assert found["a19001"].flag == "N"
    assert found["a21002"].flag == "D"


def test_water_minute_values_keep_avg_min_max_and_cou() -> None:
    values = {"w01018": {"Avg": 40.0, "Min": 38.0, "Max": 42.0, "Cou": 1.5, "Flag": "N"}}
    [cod] = normalize(st="32", mn=WATER, cn="2051", data_time=AT, values=values)
    assert (cod.avg, cod.min, cod.max, cod.cou, cod.outlet_id) == (40.0, 38.0, 42.0, 1.5, "W1")


def test_status_and_text_values_are_not_measurements() -> None:
    values = {"SB1": {"RS": "1"}, "a21026": {"Rtd": 10.0}}
    assert [m.factor for m in normalize(cn="2011", data_time=AT, values=values)] == ["a21026"]


@pytest.mark.parametrize("cn", ["9014", "2021", "2041", "8013"])
def test_packets_without_measurements_give_nothing(cn: str) -> None:
    assert normalize(cn=cn, data_time=AT, values={"SB1": {"RS": "1"}}) == []


def test_unknown_devices_and_missing_data_time_are_refused_with_a_reason() -> None:
    with pytest.raises(NormalizeError) as unknown:
        normalize(cn="2011", mn="NOBODY", data_time=AT, values={"a21026": {"Rtd": 1.0}})
    assert unknown.value.reason is NormalizeReason.UNKNOWN_DEVICE and unknown.value.mn == "NOBODY"
    with pytest.raises(NormalizeError) as no_time:
        normalize(cn="2051", values={"a21026": {"Avg": 1.0}})
    assert no_time.value.reason is NormalizeReason.MISSING_DATA_TIME
