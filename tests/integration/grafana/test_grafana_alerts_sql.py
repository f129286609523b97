"""告警 panels against the seeded province (grafana_province.ALERTS)."""

from __future__ import annotations

from grafana_province import CH, CM, TP, Province, hour

from alerts.ladder import Basis
from grafana import alerts_dashboard
from grafana.check import run_panel, with_variables
from grafana.macros import VariableValue

ALL_ENTERPRISES = VariableValue.many(["E-CH-01", "E-CM-01", "E-TP-01", "E-WW-01"])
LEVELS = (
    "数据质量 (data quality)",
    "预警 (warning)",
    "超标 (exceedance)",
    "限制生产 (restrict production)",
    "停产整治 (suspend for rectification)",
)


def test_open_alerts_by_level_one_tile_per_rung(province: Province) -> None:
    context = with_variables(province.context, {"enterprise": ALL_ENTERPRISES})

    result = run_panel(province.conn, alerts_dashboard.OPEN_BY_LEVEL, context)

    # The resolved exceedance and the pending data-quality alert are not open.
    assert result.columns == LEVELS
    assert result.rows == [(1, 1, 0, 1, 1)]


def test_open_alerts_by_level_for_one_enterprise(province: Province) -> None:
    context = with_variables(province.context, {"enterprise": VariableValue.many(["E-TP-01"])})

    result = run_panel(province.conn, alerts_dashboard.OPEN_BY_LEVEL, context)

    assert result.rows == [(0, 0, 0, 1, 0)]


def test_open_alerts_most_severe_first(province: Province) -> None:
    context = with_variables(province.context, {"enterprise": ALL_ENTERPRISES})

    records = run_panel(province.conn, alerts_dashboard.OPEN_ALERTS, context).records()

    assert [(r["级别 (level)"], r["alert_id"]) for r in records] == [
        (4, f"{CH}/w20115/hourly_concentration"),
        (3, f"{TP}/a21026/hourly_concentration"),
        (1, f"{CM}/a21002/hourly_concentration"),  # fired before the range: still open
        (0, "DEMO-WW01-W1/-/quality.silent"),
    ]
    restricted = records[1]
    assert restricted["状态 (state)"] == "escalated"
    assert restricted["依据 (basis)"] == Basis.ART5_SUSTAINED.value
    assert restricted["确认人 (acknowledged by)"] == "regulator:wang"
    assert restricted["排口 (outlet)"] == "1号机组烟囱"
    assert restricted["触发时间 (fired at)"] == hour(6).replace(minute=5)
    assert records[3]["排口 (outlet)"] == "—"
    assert records[3]["设备 MN (device)"] == "DEMO-WW01-W1"


def test_recent_alert_events_in_the_range_newest_first(province: Province) -> None:
    context = with_variables(province.context, {"enterprise": ALL_ENTERPRISES})

    records = run_panel(province.conn, alerts_dashboard.RECENT_EVENTS, context).records()

    assert [
        (r["事件 (event)"], r["对象 (outlet or device)"], r["操作者 (actor)"]) for r in records
    ] == [
        ("待确认 (pending)", "1号机组烟囱", "system"),
        ("解除 (resolved)", "窑尾烟囱", "system"),
        ("触发 (fired)", "窑尾烟囱", "system"),
        ("已确认 (acknowledged)", "1号机组烟囱", "regulator:wang"),
        ("升级 (escalated)", "1号机组烟囱", "system"),
        ("触发 (fired)", "1号机组烟囱", "system"),
        ("触发 (fired)", "废水总排口", "system"),
        ("触发 (fired)", "DEMO-WW01-W1", "system"),  # no outlet recorded: the device
    ]  # the warning fired 30 h before the end is outside the range
    escalated = records[4]
    assert (escalated["级别 (level)"], escalated["状态 (state)"]) == (3, "escalated")
    assert escalated["名录版本 (registry version)"] == "demo-province-2026.1"
