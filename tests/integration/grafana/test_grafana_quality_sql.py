"""数据质量 panels against the seeded province (grafana_province)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from grafana_province import END, Province, hour

from grafana import data_quality
from grafana.check import run_panel, with_variables
from grafana.macros import VariableValue

ALL_ENTERPRISES = VariableValue.many(["E-CH-01", "E-CM-01", "E-TP-01", "E-WW-01"])


def _epoch(moment: datetime) -> float:
    """What ``$__timeGroupAlias`` returns: epoch seconds of the bucket start."""
    return moment.timestamp()


def test_invalid_minutes_by_flag_per_hour(province: Province) -> None:
    context = with_variables(province.context, {"enterprise": ALL_ENTERPRISES})

    result = run_panel(province.conn, data_quality.INVALID_MINUTES, context)

    assert result.columns == ("time", "metric", "value")
    # The panel's 1 h minimum interval groups minutes by hour; SO2 and NOx flagged M in the
    # same minute count once (device-minutes).
    assert result.rows == [
        (_epoch(hour(2)), "C 校准 (calibration)", 5),
        (_epoch(hour(20)), "M 维护 (maintenance)", 40),
        (_epoch(hour(21)), "B 通讯异常 (comm fault)", 30),
    ]


def test_invalid_minutes_follow_the_enterprise_variable(province: Province) -> None:
    context = with_variables(province.context, {"enterprise": VariableValue.many(["E-CM-01"])})

    result = run_panel(province.conn, data_quality.INVALID_MINUTES, context)

    assert [row[1:] for row in result.rows] == [("C 校准 (calibration)", 5)]


def test_silent_devices_past_n_intervals(province: Province) -> None:
    context = with_variables(province.context, {"enterprise": ALL_ENTERPRISES})

    result = run_panel(province.conn, data_quality.SILENT_DEVICES, context)

    last_tp = hour(21) + timedelta(minutes=59, seconds=90)
    assert [
        (r["设备 MN (device)"], r["最后接收 (last received)"], r["静默时长 (silent for)"])
        for r in result.records()
    ] == [
        ("DEMO-CH01-W1", None, None),
        ("DEMO-WW01-W1", None, None),
        ("DEMO-TP01-G1", last_tp, pytest.approx((END - last_tp).total_seconds())),
    ]  # the cement kiln's device reported 3 min before the end: not silent (5 × 60 s)
    assert {r["静默阈值 N (intervals)"] for r in result.records()} == {5}
    assert {r["上报间隔 (interval)"] for r in result.records()} == {60}


def test_silence_threshold_comes_from_the_registry_policy(province: Province) -> None:
    province.conn.execute(
        "UPDATE registry_versions"
        " SET document = jsonb_set(document, '{policy,silence_intervals}', '180')"
    )
    context = with_variables(province.context, {"enterprise": ALL_ENTERPRISES})

    result = run_panel(province.conn, data_quality.SILENT_DEVICES, context)

    # 180 × 60 s = 3 h: the thermal power device (silent ~1.5 h) is no longer listed.
    assert [r["设备 MN (device)"] for r in result.records()] == ["DEMO-CH01-W1", "DEMO-WW01-W1"]


def test_dead_letters_by_reason_over_time(province: Province) -> None:
    context = with_variables(province.context, {"enterprise": ALL_ENTERPRISES})
    hourly = replace(context, interval=timedelta(hours=1))

    result = run_panel(province.conn, data_quality.DEAD_LETTERS, hourly)

    assert result.columns == ("time", "metric", "value")
    assert result.rows == [
        (_epoch(hour(1)), "auth_unknown_mn", 1),
        (_epoch(hour(1)), "bad_crc", 3),
        (_epoch(hour(5)), "bad_crc", 2),
    ]


def test_dead_letters_use_at_least_ten_minute_buckets(province: Province) -> None:
    result = run_panel(province.conn, data_quality.DEAD_LETTERS, province.context)

    assert [(float(row[0]) - _epoch(hour(1)), row[1], row[2]) for row in result.rows[:4]] == [
        (0.0, "bad_crc", 1),
        (600.0, "bad_crc", 1),
        (1200.0, "bad_crc", 1),
        (1800.0, "auth_unknown_mn", 1),
    ]


def test_recent_dead_letters_newest_first(province: Province) -> None:
    result = run_panel(province.conn, data_quality.RECENT_DEAD_LETTERS, province.context)

    assert [r["说明 (message)"] for r in result.records()] == [
        "bad_crc #5",
        "bad_crc #4",
        "auth_unknown_mn #3",
        "bad_crc #2",
        "bad_crc #1",
        "bad_crc #0",
    ]
    assert result.records()[2]["设备 MN (device)"] == "DEMO-XX"
