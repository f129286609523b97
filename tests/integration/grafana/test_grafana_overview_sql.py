"""监管总览 panels run against the seeded province (grafana_province): the rows a regulator sees."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from grafana_province import END, START, TP, Province, hour

from grafana import overview
from grafana.check import run_panel

DEMO_TP = "黔中示范火电厂 (demo thermal power)"
DEMO_CM = "示范水泥有限公司 (demo cement)"
DEMO_CH = "示范磷化工 (demo phosphorus chemicals)"
DEMO_WW = "示范城镇污水处理厂 (demo municipal sewage)"


def test_compliance_rate_counts_valid_hours_only(province: Province) -> None:
    result = run_panel(province.conn, overview.COMPLIANCE_RATE, province.context)

    # 128 valid hourly verdicts, 7 of them exceedance/severe; invalid hours are not judged.
    assert result.columns == ("达标率 (compliance rate)",)
    assert result.rows == [(pytest.approx(121 / 128),)]


def test_capture_total_is_valid_over_expected_hours(province: Province) -> None:
    result = run_panel(province.conn, overview.CAPTURE_TOTAL, province.context)

    # 16 monitored (outlet, factor) pairs × 24 complete hours = 384 expected, 128 valid.
    assert result.rows == [(pytest.approx(128 / 384),)]


def test_exceedance_hours_count_outlet_hours_per_enterprise(province: Province) -> None:
    result = run_panel(province.conn, overview.EXCEEDANCE_HOURS, province.context)

    # TP: SO2 at hours 5, 6 and NOx at 5, 8 → 3 outlet-hours; the exceedance 48 h ago is out.
    assert result.records() == [
        {"企业 (enterprise)": DEMO_TP, "超标小时 (exceedance hours)": 3},
        {"企业 (enterprise)": DEMO_CM, "超标小时 (exceedance hours)": 2},
        {"企业 (enterprise)": DEMO_CH, "超标小时 (exceedance hours)": 1},
    ]


def test_exceedance_hours_panel_is_pinned_to_the_last_24_hours(province: Province) -> None:
    wide = replace(province.context, start=START - timedelta(days=3))

    result = run_panel(province.conn, overview.EXCEEDANCE_HOURS, wide)

    assert result.rows[0] == (DEMO_TP, 3)


def test_capture_by_enterprise_worst_first(province: Province) -> None:
    result = run_panel(province.conn, overview.CAPTURE_BY_ENTERPRISE, province.context)

    assert [tuple(r) for r in result.rows] == [
        (DEMO_WW, 0, 96, 0.0),
        (DEMO_CH, 48, 144, pytest.approx(1 / 3)),
        (DEMO_CM, 36, 72, pytest.approx(0.5)),
        (DEMO_TP, 44, 72, pytest.approx(44 / 72)),
    ]


def test_capture_counts_complete_hours_only(province: Province) -> None:
    half_past = replace(province.context, start=START + timedelta(minutes=30))

    result = run_panel(province.conn, overview.CAPTURE_BY_ENTERPRISE, half_past)

    by_name = {r["企业 (enterprise)"]: r for r in result.records()}
    # Hours 1 … 23 only: 23 per pair; TP loses SO2 and NOx of hour 0.
    assert by_name[DEMO_TP]["应有小时 (expected hours)"] == 3 * 23
    assert by_name[DEMO_TP]["有效小时 (valid hours)"] == 44 - 2


def test_latest_exceedances_newest_first_with_standard_and_registry(province: Province) -> None:
    result = run_panel(province.conn, overview.LATEST_EXCEEDANCES, province.context)
    records = result.records()

    # Newest first; within an hour the larger ratio first (NOx 60/50 before SO2 40/35).
    assert [(r["时段 (period start)"], r["outlet_id"], r["因子 (factor)"]) for r in records] == [
        (hour(11), "E-CM-01-K1", "a21026"),
        (hour(10), "E-CM-01-K1", "a21026"),
        (hour(8), TP, "a21002"),
        (hour(6), TP, "a21026"),
        (hour(5), TP, "a21002"),
        (hour(5), TP, "a21026"),
        (hour(3), "E-CH-01-W1", "w20115"),
    ]
    severe = records[-1]
    assert severe["判定 (status)"] == "severe"
    assert severe["监测值 (value)"] == pytest.approx(0.2)
    assert severe["限值 (limit)"] == pytest.approx(0.05)
    assert severe["倍数 (ratio)"] == pytest.approx(4.0)
    assert severe["标准 (standard)"] == "demo-water-heavy-metals"
    assert severe["名录版本 (registry version)"] == "demo-province-2026.1"
    assert severe["企业 (enterprise)"] == DEMO_CH
    assert severe["规则 (rule)"] == "hourly_concentration"


def test_daily_loads_cover_whole_china_days_highest_share_first(province: Province) -> None:
    result = run_panel(province.conn, overview.DAILY_LOADS, province.context)

    rows = [
        (
            r["日期 (day, UTC+8)"],
            r["排口 (outlet)"],
            r["因子 (factor)"],
            r["日排放量 (daily load)"],
            r["日配额 (daily quota)"],
            r["计量小时 (hours with a load)"],
            r["日判定 (daily verdict)"],
        )
        for r in result.records()
    ]
    assert rows == [
        # 10 hours before the range + 14 in it, all on 2026-03-09 (UTC+8): the whole day.
        (date(2026, 3, 9), "1号机组烟囱", "a21026", 960.0, 900.0, 24, "exceedance"),
        (date(2026, 3, 9), "窑尾烟囱", "a21002", 1200.0, 2500.0, 12, "invalid"),
        (date(2026, 3, 10), "1号机组烟囱", "a21026", 320.0, 900.0, 8, None),  # running day
        (date(2026, 3, 9), "废水总排口", "w01018", 70.0, 200.0, 14, None),
        (date(2026, 3, 10), "废水总排口", "w01018", 50.0, 200.0, 10, None),
    ]
    assert result.records()[0]["配额占比 (share of quota)"] == pytest.approx(960 / 900)


def test_overview_is_empty_before_any_data(province: Province) -> None:
    earlier = replace(
        province.context, start=START - timedelta(days=30), end=END - timedelta(days=29)
    )

    assert run_panel(province.conn, overview.LATEST_EXCEEDANCES, earlier).rows == []
    assert run_panel(province.conn, overview.COMPLIANCE_RATE, earlier).rows == [(None,)]
