"""The Grafana expansion the SQL tests rely on: variables first, then PostgreSQL macros.

Expected texts are Grafana's own (pkg/tsdb/grafana-postgresql-datasource/macros.go, the SQL
datasource's variable formatting), so a query that runs here runs in Grafana.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grafana.macros import (
    MacroError,
    QueryContext,
    UnknownVariable,
    VariableValue,
    expand,
    format_interval,
    format_timestamp,
    parse_interval,
)

CST = timezone(timedelta(hours=8))
CONTEXT = QueryContext(
    start=datetime(2026, 3, 9, 10, 0, tzinfo=CST),
    end=datetime(2026, 3, 10, 10, 0, 0, 500000, tzinfo=CST),
    interval=timedelta(minutes=5),
    variables={
        "outlet": VariableValue.one("E-TP-01-G1"),
        "factor": VariableValue.many(["a21026", "a21002"]),
        "name": VariableValue.one("O'Brien"),
    },
)


def test_time_filter_is_between_rfc3339_utc_bounds() -> None:
    assert expand("WHERE $__timeFilter(v.period_start)", CONTEXT) == (
        "WHERE v.period_start BETWEEN '2026-03-09T02:00:00Z' AND '2026-03-10T02:00:00.5Z'"
    )


def test_time_from_and_to_are_quoted_literals() -> None:
    assert expand("$__timeFrom()::timestamptz < $__timeTo()", CONTEXT) == (
        "'2026-03-09T02:00:00Z'::timestamptz < '2026-03-10T02:00:00.5Z'"
    )


def test_time_group_alias_with_the_panel_interval() -> None:
    assert expand("SELECT $__timeGroupAlias(m.period_start, $__interval)", CONTEXT) == (
        'SELECT floor(extract(epoch from m.period_start)/300)*300 AS "time"'
    )


def test_time_group_with_a_quoted_interval_and_fill() -> None:
    assert expand("GROUP BY $__timeGroup(t, '1h', 0)", CONTEXT) == (
        "GROUP BY floor(extract(epoch from t)/3600)*3600"
    )


def test_time_group_is_time_bucket_with_the_timescaledb_option() -> None:
    """Grafana's macros.go with the datasource's TimescaleDB option on."""
    context = replace(CONTEXT, timescaledb=True)
    assert expand("SELECT $__timeGroupAlias(m.period_start, $__interval)", context) == (
        "SELECT time_bucket('300s',m.period_start) AS \"time\""
    )
    assert expand("GROUP BY $__timeGroup(t, '1h', 0)", context) == (
        "GROUP BY time_bucket('3600s',t)"
    )


def test_time_macro_aliases_the_column() -> None:
    assert expand("SELECT $__time(a.period_start)", CONTEXT) == ('SELECT a.period_start AS "time"')


def test_sqlstring_quotes_every_value_of_a_multi_variable() -> None:
    assert expand("factor IN (${factor:sqlstring})", CONTEXT) == "factor IN ('a21026','a21002')"


def test_sqlstring_doubles_single_quotes() -> None:
    assert expand("name IN (${name:sqlstring})", CONTEXT) == "name IN ('O''Brien')"


def test_default_format_quotes_multi_but_not_single_values() -> None:
    assert expand("'$outlet' / $factor / ${name}", CONTEXT) == (
        "'E-TP-01-G1' / 'a21026','a21002' / O''Brien"
    )


def test_csv_format_joins_without_quotes() -> None:
    assert expand("${factor:csv}", CONTEXT) == "a21026,a21002"


def test_interval_ms_builtin() -> None:
    assert expand("$__interval_ms", CONTEXT) == "300000"


def test_unknown_variable_is_an_error() -> None:
    with pytest.raises(UnknownVariable) as caught:
        expand("outlet_id = '$outlett'", CONTEXT)

    assert caught.value.name == "outlett"


def test_unknown_macro_is_an_error_like_in_grafana() -> None:
    with pytest.raises(MacroError, match="unknown macro"):
        expand("$__timeFilterz(t)", CONTEXT)


def test_time_filter_without_column_is_an_error() -> None:
    with pytest.raises(MacroError, match="missing time column"):
        expand("$__timeFilter()", CONTEXT)


def test_naive_time_range_is_refused() -> None:
    with pytest.raises(MacroError):
        QueryContext(start=datetime(2026, 3, 9), end=datetime(2026, 3, 10))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("'5m'", 300), ("1h", 3600), ("1d", 86400), ("100ms", 0.1), ("1w", 604800)],
)
def test_parse_interval(text: str, seconds: float) -> None:
    assert parse_interval(text) == timedelta(seconds=seconds)


def test_parse_interval_refuses_nonsense() -> None:
    with pytest.raises(MacroError):
        parse_interval("5 minutes")


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (timedelta(minutes=5), "5m"),
        (timedelta(minutes=90), "1h"),
        (timedelta(hours=36), "1d"),
        (timedelta(seconds=20), "20s"),
        (timedelta(milliseconds=250), "250ms"),
    ],
)
def test_format_interval_like_grafana(interval: timedelta, text: str) -> None:
    assert format_interval(interval) == text


@given(st.datetimes(timezones=st.just(UTC)))
def test_timestamps_parse_back_to_the_same_instant(moment: datetime) -> None:
    text = format_timestamp(moment)

    assert text.endswith("Z")
    assert datetime.fromisoformat(text.replace("Z", "+00:00")) == moment
