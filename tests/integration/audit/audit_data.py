"""A small record of two enterprises in different regions, in every table the audit API reads.

``E-TP-01`` (region 520100, outlet E-TP-01-G1, device DEMO-TP01-G1) is "ours" in the tests;
``E-CM-01`` (region 520300, outlet E-CM-01-K1, device DEMO-CM01-K1) is "theirs". Each gets one
row (or a few) in measurements, hourly and daily values, verdicts, alerts and their events,
regulator orders, notices and deliveries, dead letters and energy tables, all on
2026-07-04 (China time), and one superseded version of a minute, the hourly and daily value
and the verdict (now at revision 2) in the revision tables; then 2026Q3 is locked and each
hourly value changes once after.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from audit.principal import Principal
from audit.tokens import create_token
from runtime.registry_store import store_registry
from schemas.registry import load_registry

ROOT = Path(__file__).resolve().parents[3]
CHINA = timezone(timedelta(hours=8))
DAY = datetime(2026, 7, 4, tzinfo=CHINA)
OURS = {"enterprise": "E-TP-01", "outlet": "E-TP-01-G1", "device": "DEMO-TP01-G1"}
THEIRS = {"enterprise": "E-CM-01", "outlet": "E-CM-01-K1", "device": "DEMO-CM01-K1"}
RANGE = {"from": "2026-07-04T00:00:00+08:00", "to": "2026-07-05T00:00:00+08:00"}


def issue(conn: psycopg.Connection[Any], principal: Principal, days: int = 1) -> str:
    """A token for ``principal`` valid ``days`` days (the whole token)."""
    expires = datetime.now(UTC) + timedelta(days=days)
    return create_token(conn, principal, expires, "tests").token


def load_demo_registry(conn: psycopg.Connection[Any]) -> None:
    store_registry(conn, load_registry(ROOT / "schemas" / "examples" / "demo-province.yaml"))


def seed(conn: psycopg.Connection[Any]) -> None:
    """Rows of both enterprises in every table the API serves (after ``load_demo_registry``)."""
    for who in (OURS, THEIRS):
        _seed_one(conn, who)
    # 2026Q3 locked, then a late value re-aggregates an hour of each: two after-lock changes
    conn.execute(
        "INSERT INTO period_locks (period, starts_at, ends_at, locked_by) VALUES"
        " ('2026Q3', '2026-07-01T00:00:00+08:00', '2026-10-01T00:00:00+08:00', 'tests')"
    )
    conn.execute("UPDATE aggregates SET mean = 31.5, valid_count = 46 WHERE period = 'hour'")


def _seed_one(conn: psycopg.Connection[Any], who: dict[str, str]) -> None:
    e, o, d = who["enterprise"], who["outlet"], who["device"]
    hour = DAY + timedelta(hours=10)
    for minute in range(3):
        conn.execute(
            "INSERT INTO measurements (device_id, factor, period, period_start, outlet_id,"
            " factor_as_sent, avg, flag, received_at) VALUES (%s, 'a21026', 'minute', %s, %s,"
            " 'a21026', %s, 'N', %s)",
            (d, hour + timedelta(minutes=minute), o, 30.0 + minute, hour),
        )
    for period, start in (("hour", hour), ("day", DAY)):
        conn.execute(
            "INSERT INTO aggregates (outlet_id, factor, period, period_start, device_id, valid,"
            " valid_count, invalid_count, mean, registry_version) VALUES"
            " (%s, 'a21026', %s, %s, %s, true, 45, 0, 31.0, 'demo-province-2026.1')",
            (o, period, start, d),
        )
    conn.execute(
        "INSERT INTO verdicts (outlet_id, factor, rule, period_start, enterprise_id, period,"
        " value, limit_value, ratio, status, evidence, registry_version, revision) VALUES"
        " (%s, 'a21026', 'hourly_concentration', %s, %s, 'hour', 31.0, 35.0, 0.886, 'warning',"
        " %s, 'demo-province-2026.1', 2)",
        (o, hour, e, Jsonb({"valid_count": 45})),
    )
    _seed_revisions(conn, who, hour)
    alert = f"{o}/a21026/hourly_concentration"
    conn.execute(
        "INSERT INTO alerts (alert_id, subject, factor, rule, enterprise_id, outlet_id, state,"
        " level, episode, basis, updated_at, registry_version) VALUES"
        " (%s, %s, 'a21026', 'hourly_concentration', %s, %s, 'firing', 1, 1, 'warning', %s,"
        " 'demo-province-2026.1')",
        (alert, o, e, o, hour),
    )
    conn.execute(
        "INSERT INTO alert_events (alert_id, episode, at, kind, actor, level, state, rule,"
        " registry_version) VALUES (%s, 1, %s, 'fired', 'system', 1, 'firing',"
        " 'hourly_concentration', 'demo-province-2026.1')",
        (alert, hour),
    )
    conn.execute(
        "INSERT INTO regulator_orders (enterprise_id, outlet_id, action, effective_from,"
        " issued_at, issued_by) VALUES (%s, %s, 'restrict', %s, %s, 'regulator')",
        (e, o, hour, hour),
    )
    (subscription,) = conn.execute(
        "INSERT INTO alert_subscriptions (enterprise_id, audience, channel, created_by)"
        " VALUES (%s, 'enterprise', 'json://localhost', 'test') RETURNING subscription_id",
        (e,),
    ).fetchone() or (None,)
    (outbox,) = conn.execute(
        "INSERT INTO notification_outbox (alert_id, episode, subscription_id, enterprise_id,"
        " channel, kind, level, title, body, status, not_before, next_attempt_at, enqueued_at)"
        " VALUES (%s, 1, %s, %s, 'json://localhost', 'fired', 1, 't', 'b', 'sent', %s, %s, %s)"
        " RETURNING outbox_id",
        (alert, subscription, e, hour, hour, hour),
    ).fetchone() or (None,)
    conn.execute(
        "INSERT INTO notification_deliveries (outbox_id, attempt, at, ok, channel, duration_ms)"
        " VALUES (%s, 1, %s, true, 'json://localhost', 3.0)",
        (outbox, hour),
    )
    conn.execute(
        "INSERT INTO dead_letters (source, reason, message, device_id, received_at, payload)"
        " VALUES ('gateway.hj212', 'bad_crc', 'CRC mismatch', %s, %s, %s)",
        (d, hour, b"##0000"),
    )
    conn.execute(
        "INSERT INTO energy_consumption (meter_id, period, period_start, enterprise_id, carrier,"
        " feedstock, quantity, kgce_calorific, kgce_equivalent, registry_version) VALUES"
        " (%s, 'day', %s, %s, 'electricity', false, 100.0, 12.3, 30.0, 'demo-province-2026.1')",
        (f"M-{e}", DAY, e),
    )
    conn.execute(
        "INSERT INTO energy_intensities (enterprise_id, subject, indicator, window_name,"
        " period_start, numerator, denominator, value, registry_version) VALUES"
        " (%s, 'product', 'kWh/t', '24h', %s, 10.0, 2.0, 5.0, 'demo-province-2026.1')",
        (e, DAY),
    )


def _seed_revisions(conn: psycopg.Connection[Any], who: dict[str, str], hour: datetime) -> None:
    """The versions a re-sent first minute superseded (as ``streams.revisions`` records them)."""
    e, o, d = who["enterprise"], who["outlet"], who["device"]
    conn.execute(
        "INSERT INTO measurement_revisions (device_id, factor, period, period_start, outlet_id,"
        " factor_as_sent, avg, flag, received_at, superseded_by_received_at, reason,"
        " source_topic, source_partition, source_offset) VALUES (%s, 'a21026', 'minute', %s,"
        " %s, 'a21026', 99.0, 'N', %s, %s, 'resent', 'gw.raw.hj212', 0, 7)",
        (d, hour, o, hour - timedelta(minutes=30), hour),
    )
    for period, start in (("hour", hour), ("day", DAY)):
        conn.execute(
            "INSERT INTO aggregate_revisions (outlet_id, factor, period, period_start,"
            " device_id, valid, valid_count, invalid_count, flag_counts, mean, o2_disagrees,"
            " registry_version, computed_at, reason) VALUES (%s, 'a21026', %s, %s, %s, true,"
            " 45, 0, %s, 52.0, false, 'demo-province-2026.1', %s, 'late_or_resent_data')",
            (o, period, start, d, Jsonb({"N": 45}), hour),
        )
    conn.execute(
        "INSERT INTO verdict_revisions (outlet_id, factor, rule, period_start, enterprise_id,"
        " period, value, limit_value, ratio, status, evidence, registry_version, revision,"
        " issued_at, superseded_by, reason) VALUES (%s, 'a21026', 'hourly_concentration', %s,"
        " %s, 'hour', 52.0, 35.0, 1.486, 'exceedance', %s, 'demo-province-2026.1', 1, %s, 2,"
        " 'resent')",
        (o, hour, e, Jsonb({"valid_count": 45}), hour),
    )
