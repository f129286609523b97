"""排口详情 panels and variables against the seeded province (grafana_province)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from grafana_province import CH, TP, Province, hour, outlet_variables

from grafana import outlet_detail
from grafana.check import resolve_variables, run_panel, variable_options, with_variables
from grafana.macros import VariableValue

ALL_TP_FACTORS = ["a21002", "a21026", "a34013"]


def test_variables_chain_enterprise_outlet_factor(province: Province) -> None:
    context = province.context
    enterprises = variable_options(province.conn, outlet_detail.ENTERPRISE, context)
    assert sorted(enterprises) == ["E-CH-01", "E-CM-01", "E-TP-01", "E-WW-01"]

    chosen = with_variables(context, {"enterprise": VariableValue.one("E-TP-01")})
    assert variable_options(province.conn, outlet_detail.OUTLET, chosen) == [TP]

    chosen = with_variables(chosen, {"outlet": VariableValue.one(TP)})
    assert variable_options(province.conn, outlet_detail.FACTOR, chosen) == ALL_TP_FACTORS


def test_dashboard_opens_with_first_enterprise_and_all_factors(province: Province) -> None:
    opened = resolve_variables(province.conn, outlet_detail.OUTLET_DETAIL, province.context)

    first = opened["enterprise"].values[0]
    assert opened["outlet"].values[0].startswith(first)
    assert opened["factor"].multi and opened["factor"].values


def test_concentration_is_the_judged_value_with_the_limit_beside_it(province: Province) -> None:
    context = with_variables(province.context, outlet_variables(TP, ["a21026"]))

    result = run_panel(province.conn, outlet_detail.CONCENTRATION, context)

    assert result.columns == ("time", "metric", "value")
    times = [row[0] for row in result.rows]
    assert times == sorted(times)
    series: dict[str, dict[object, float]] = {}
    for at, metric, value in result.rows:
        series.setdefault(metric, {})[at] = value
    concentration = series.pop("a21026 浓度 (concentration, mg/m³)")
    limit = series.pop("a21026 限值 (limit)")
    assert series == {}
    assert set(concentration) == {hour(i) for i in range(20)}  # valid hours only
    assert concentration[hour(5)] == pytest.approx(40.0)  # O2-corrected, above the limit
    assert concentration[hour(0)] == pytest.approx(20.0)  # not the measured 15
    assert concentration[hour(9)] == pytest.approx(22.0)  # the device's own corrected value
    assert set(limit.values()) == {35.0} and set(limit) == set(concentration)


def test_water_concentration_is_the_measured_mean_in_mg_per_litre(province: Province) -> None:
    context = with_variables(province.context, outlet_variables(CH, ["w20115"]))

    result = run_panel(province.conn, outlet_detail.CONCENTRATION, context)

    values = {(at, metric): v for at, metric, v in result.rows}
    assert values[(hour(3), "w20115 浓度 (concentration, mg/L)")] == pytest.approx(0.2)
    assert values[(hour(3), "w20115 限值 (limit)")] == pytest.approx(0.05)


def test_emission_rate_per_factor_per_hour(province: Province) -> None:
    context = with_variables(province.context, outlet_variables(TP, ALL_TP_FACTORS))

    result = run_panel(province.conn, outlet_detail.EMISSION_RATE, context)

    assert result.columns == ("time", "metric", "value")
    # SO2 has a rate in hours 0–21 (invalid hours too); NOx and PM have none.
    assert result.rows == [(hour(i), "a21026", 40.0) for i in range(22)]


def test_invalid_hours_by_dominant_flag(province: Province) -> None:
    context = with_variables(province.context, outlet_variables(TP, ALL_TP_FACTORS))

    result = run_panel(province.conn, outlet_detail.INVALID_HOURS, context)

    # Hour 20: M 40 min; hour 21: B 30 > M 20; PM hours 0, 1: only 30 unflagged minutes.
    assert result.rows == [("missing", 2), ("B", 1), ("M", 1)]


def test_invalid_hours_follow_the_factor_variable(province: Province) -> None:
    context = with_variables(province.context, outlet_variables(TP, ["a21026"]))

    result = run_panel(province.conn, outlet_detail.INVALID_HOURS, context)

    assert result.rows == [("B", 1), ("M", 1)]


def test_daily_loads_of_the_outlet(province: Province) -> None:
    context = with_variables(province.context, outlet_variables(TP, ALL_TP_FACTORS))

    result = run_panel(province.conn, outlet_detail.DAILY_LOADS, context)

    assert [
        (r["日期 (day, UTC+8)"], r["日排放量 (daily load)"], r["日判定 (daily verdict)"])
        for r in result.records()
    ] == [(date(2026, 3, 9), 960.0, "exceedance"), (date(2026, 3, 10), 320.0, None)]


def test_limits_in_force(province: Province) -> None:
    context = with_variables(province.context, outlet_variables(TP, ALL_TP_FACTORS))

    result = run_panel(province.conn, outlet_detail.LIMITS, context)

    assert [r[:5] for r in result.rows] == [
        ("a21002", 50.0, "ULE-coal-power", 1300.0, 450000.0),
        ("a21026", 35.0, "ULE-coal-power", 900.0, 300000.0),
        ("a34013", 10.0, "ULE-coal-power", None, None),
    ]


def test_quotes_in_variable_values_are_escaped(province: Province) -> None:
    hostile = replace(
        province.context,
        variables=outlet_variables(TP, ["a21026') OR true --"]),
    )

    assert run_panel(province.conn, outlet_detail.LIMITS, hostile).rows == []
