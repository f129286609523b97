"""The audit package's pure pieces: principals and their scope checks, token parsing, keyset
cursors, verdict ids, time parsing, the registry view without secrets, the query builder's
refusals (before any SQL runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.errors import BadQuery, Refused, Unauthenticated
from audit.principal import Principal, Role, region_prefixes
from audit.queries import build_query, decode_cursor, encode_cursor, page_size
from audit.registry_view import scoped_document
from audit.resources import BY_PATH
from audit.times import CHINA, china, parse_instant
from audit.tokens import split_token
from audit.verdict_id import parse_verdict_id, verdict_id

ENTERPRISE = Principal(Role.ENTERPRISE, "E-1")
REGULATOR = Principal(Role.REGULATOR, regions=("5201",))


def test_principals_need_their_scope() -> None:
    with pytest.raises(BadQuery):
        Principal(Role.ENTERPRISE)
    with pytest.raises(BadQuery):
        Principal(Role.AUDITOR)
    with pytest.raises(BadQuery):
        region_prefixes("52,Guizhou")
    assert region_prefixes(" 52, 5301 ") == ("52", "5301")
    assert REGULATOR.settings == {"greenwatch.enterprise": "", "greenwatch.regions": "5201"}
    assert ENTERPRISE.settings["greenwatch.enterprise"] == "E-1"


def test_scope_checks() -> None:
    with pytest.raises(Refused):
        ENTERPRISE.check_enterprise("E-2")
    ENTERPRISE.check_enterprise("E-1")
    with pytest.raises(Refused):
        REGULATOR.check_region("5203")
    REGULATOR.check_region("520102")
    with pytest.raises(Refused):
        ENTERPRISE.check_region("52")


def test_queries_refuse_before_sql() -> None:
    dead = BY_PATH["dead-letters"]
    with pytest.raises(Refused):
        build_query(dead, ENTERPRISE, {})
    build_query(dead, REGULATOR, {})
    with pytest.raises(BadQuery, match="unknown parameter colour"):
        build_query(BY_PATH["alerts"], REGULATOR, {"colour": "red"})
    with pytest.raises(BadQuery, match="at most 31 days"):
        build_query(BY_PATH["measurements"], REGULATOR, {"from": "2026-01-01", "to": "2026-03-01"})
    with pytest.raises(BadQuery):
        page_size("0")
    assert page_size(None) == 100


def test_tokens_parse() -> None:
    assert split_token("gwa_abc_def") == ("abc", "def")
    for bad in ("", "gwa_abc", "xyz_abc_def", "gwa__def", "gwa_a_b_c"):
        with pytest.raises(Unauthenticated):
            split_token(bad)


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.text(min_size=1, max_size=20),
    st.integers(min_value=-(2**62), max_value=2**62),
)
def test_cursors_round_trip(moment: datetime, text: str, number: int) -> None:
    measurements = BY_PATH["measurements"]
    row = {"period_start": moment, "device_id": text, "factor": "a21026", "period": "minute"}
    assert decode_cursor(measurements, encode_cursor(measurements, row)) == (
        moment,
        text,
        "a21026",
        "minute",
    )
    events = BY_PATH["alert-events"]
    assert decode_cursor(events, encode_cursor(events, {"event_id": number})) == (number,)


def test_foreign_cursors_are_refused() -> None:
    with pytest.raises(BadQuery):
        decode_cursor(BY_PATH["alert-events"], "bm90IGpzb24")
    with pytest.raises(BadQuery):
        decode_cursor(
            BY_PATH["alert-events"], encode_cursor(BY_PATH["enterprises"], {"enterprise_id": "x"})
        )


def test_verdict_ids_round_trip() -> None:
    start = datetime(2026, 7, 4, 2, tzinfo=UTC)
    text = verdict_id("E-1-G1", "a21026", "hourly_concentration", start)
    assert text == "E-1-G1~a21026~hourly_concentration~20260704T100000+0800"
    assert parse_verdict_id(text) == ("E-1-G1", "a21026", "hourly_concentration", start)
    with pytest.raises(BadQuery):
        parse_verdict_id("E-1~a21026~x~yesterday")


def test_times() -> None:
    assert parse_instant("2026-07-04T10:00", "from") == datetime(2026, 7, 4, 10, tzinfo=CHINA)
    assert parse_instant("2026-07-04T10:00:00 08:00", "from").utcoffset() == timedelta(hours=8)
    assert china(datetime(2026, 7, 4, 2, tzinfo=UTC)) == "2026-07-04T10:00:00+08:00"
    with pytest.raises(BadQuery, match="from="):
        parse_instant("soon", "from")


def test_registry_view_narrows_and_redacts() -> None:
    document = {
        "version": "v1",
        "enterprises": [
            {"id": "A", "region_code": "520100", "outlets": [
                {"devices": [{"mn": "M", "password_hmac": "ab", "interval_s": 60}]}],
             "energy": {"api_key_hmac": "cd", "meters": []}},
            {"id": "B", "region_code": "530100"},
        ],
    }  # fmt: skip
    seen = scoped_document(document, REGULATOR)
    assert [e["id"] for e in seen["enterprises"]] == ["A"]
    assert seen["enterprises"][0]["outlets"][0]["devices"] == [{"mn": "M", "interval_s": 60}]
    assert seen["enterprises"][0]["energy"] == {"meters": []}
