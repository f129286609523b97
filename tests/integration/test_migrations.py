"""`greenwatch db migrate` and `db load-registry` against the real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from deploy.migrate import Flavor, MigrationError, discover_steps, migrate
from greenwatch.cli import app
from runtime.registry_store import store_registry
from runtime.settings import Settings
from schemas.registry import load_registry

EXAMPLE = Path(__file__).parents[2] / "schemas" / "examples" / "demo-province.yaml"
CST = timezone(timedelta(hours=8))


def _insert_measurement(conn: psycopg.Connection[Any], at: datetime) -> None:
    conn.execute(
        "INSERT INTO measurements (device_id, factor, period, period_start, factor_as_sent,"
        " avg, flag, received_at) VALUES ('MN1', 'a21026', 'minute', %s, '02', 1.0, 'N', now())"
        " ON CONFLICT (device_id, factor, period, period_start) DO UPDATE SET avg = 2.0",
        (at,),
    )


def test_migrate_twice_applies_once(db_conn: psycopg.Connection[Any]) -> None:
    first = migrate(db_conn)
    second = migrate(db_conn)
    assert first.flavor is Flavor.PLAIN  # Debian's PostgreSQL has no TimescaleDB
    assert "002_timeseries" in first.applied
    assert second.applied == ()
    assert set(second.already) == set(first.applied)
    tables = {
        row[0]
        for row in db_conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    }
    assert {"measurements", "aggregates", "verdicts", "registry_versions"} <= tables


def test_rows_from_any_year_are_kept_and_upserts_do_not_duplicate(
    db_conn: psycopg.Connection[Any],
) -> None:
    migrate(db_conn)
    clock_off = datetime(2000, 2, 2, tzinfo=CST)  # real devices report years off
    now = datetime.now(CST).replace(second=0, microsecond=0)
    for at in (clock_off, now, now):
        _insert_measurement(db_conn, at)
    rows = db_conn.execute(
        "SELECT tableoid::regclass::text, avg FROM measurements ORDER BY period_start"
    ).fetchall()
    assert len(rows) == 2
    assert rows[0][0].endswith("measurements_default")
    assert rows[1] == (rows[1][0], 2.0) and "measurements_20" in rows[1][0]


def test_new_month_partition_takes_its_rows_from_default(
    db_conn: psycopg.Connection[Any],
) -> None:
    migrate(db_conn)
    far = datetime(2040, 5, 3, tzinfo=CST)
    _insert_measurement(db_conn, far)
    created = db_conn.execute(
        "SELECT gw_ensure_measurement_partitions('2040-05-01', '2040-06-01')"
    ).fetchone()
    assert created == (1,)
    where = db_conn.execute("SELECT tableoid::regclass::text FROM measurements").fetchone()
    assert where is not None and where[0].endswith("measurements_204005")


def test_schema_of_one_flavor_refuses_the_other(db_conn: psycopg.Connection[Any]) -> None:
    migrate(db_conn, Flavor.PLAIN)
    with pytest.raises(MigrationError, match="applied as plain"):
        migrate(db_conn, Flavor.TIMESCALEDB)


def test_registry_is_stored_idempotently(db_conn: psycopg.Connection[Any]) -> None:
    migrate(db_conn)
    registry = load_registry(EXAMPLE)
    store_registry(db_conn, registry)
    store_registry(db_conn, registry)
    limits = db_conn.execute(
        "SELECT limit_value, limit_source, daily_quota_kg FROM outlet_limits"
        " WHERE outlet_id = 'E-TP-01-G1' AND factor = 'a21026'"
    ).fetchall()
    assert limits == [(35.0, "ULE-coal-power", 900.0)]
    count = db_conn.execute("SELECT count(*) FROM devices").fetchone()
    assert count == (4,)


def test_cli_migrate_and_load_registry(pg_schema: Any, services: Any) -> None:
    settings = Settings(
        database_url=pg_schema.dsn,
        kafka_bootstrap=services.kafka_bootstrap,
        state_dir=services.settings.state_dir,
        topic_prefix=f"test.migrations.{uuid.uuid4().hex[:8]}",  # publishes to its own topic
    )
    runner = CliRunner()
    result = runner.invoke(app, ["db", "migrate"], obj=settings, env={})
    assert result.exit_code == 0, result.output
    steps = len(discover_steps(Flavor.PLAIN))
    assert f"schema {pg_schema.name} (plain): applied {steps}" in result.output
    again = runner.invoke(app, ["db", "migrate"], obj=settings)
    assert "applied 0" in again.output
    loaded = runner.invoke(app, ["db", "load-registry", str(EXAMPLE)], obj=settings)
    assert loaded.exit_code == 0, loaded.output
    assert "4 enterprises" in loaded.output
    bad = runner.invoke(app, ["db", "load-registry", "/nonexistent.yaml"], obj=settings)
    assert bad.exit_code == 2
    assert "invalid registry" in bad.output
