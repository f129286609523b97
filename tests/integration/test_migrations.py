"""`greenwatch db migrate` and `db load-registry` against the real PostgreSQL, per flavor.

Flavor-specific tests take the ``flavor`` fixture (tests/integration/conftest.py): each runs
once in a plain schema and once in a TimescaleDB schema of the same database.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from deploy.migrate import Flavor, MigrationError, detect_flavor, discover_steps, migrate
from deploy.registry_store import store_registry
from greenwatch.cli import app
from greenwatch.settings import Settings
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


def test_detection_picks_timescaledb_where_the_server_runs_it(
    db_conn: psycopg.Connection[Any], timescale_usable: bool
) -> None:
    expected = Flavor.TIMESCALEDB if timescale_usable else Flavor.PLAIN
    assert detect_flavor(db_conn) is expected
    assert migrate(db_conn).flavor is expected


def test_migrate_twice_applies_once(db_conn: psycopg.Connection[Any], flavor: Flavor) -> None:
    first = migrate(db_conn, flavor)
    second = migrate(db_conn)  # no flavor: the schema's recorded one
    assert first.flavor is flavor and second.flavor is flavor
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
    db_conn: psycopg.Connection[Any], flavor: Flavor
) -> None:
    migrate(db_conn, flavor)
    clock_off = datetime(2000, 2, 2, tzinfo=CST)  # real devices report years off
    now = datetime.now(CST).replace(second=0, microsecond=0)
    for at in (clock_off, now, now):
        _insert_measurement(db_conn, at)
    rows = db_conn.execute(
        "SELECT tableoid::regclass::text, avg FROM measurements ORDER BY period_start"
    ).fetchall()
    assert len(rows) == 2
    assert rows[1][1] == 2.0
    if flavor is Flavor.PLAIN:
        assert rows[0][0].endswith("measurements_default")
        assert "measurements_20" in rows[1][0]
    else:  # one chunk per 7 days, wherever the clock is
        assert all(where.startswith("_timescaledb_internal._hyper_") for where, _ in rows)
        assert rows[0][0] != rows[1][0]


def test_new_month_partition_takes_its_rows_from_default(
    db_conn: psycopg.Connection[Any],
) -> None:
    migrate(db_conn, Flavor.PLAIN)
    far = datetime(2040, 5, 3, tzinfo=CST)
    _insert_measurement(db_conn, far)
    created = db_conn.execute(
        "SELECT gw_ensure_measurement_partitions('2040-05-01', '2040-06-01')"
    ).fetchone()
    assert created == (1,)
    where = db_conn.execute("SELECT tableoid::regclass::text FROM measurements").fetchone()
    assert where is not None and where[0].endswith("measurements_204005")


def test_schema_of_one_flavor_refuses_the_other(
    db_conn: psycopg.Connection[Any], flavor: Flavor
) -> None:
    other = Flavor.TIMESCALEDB if flavor is Flavor.PLAIN else Flavor.PLAIN
    migrate(db_conn, flavor)
    with pytest.raises(MigrationError, match=f"schema migrated as {flavor}"):
        migrate(db_conn, other)
    flavors = db_conn.execute("SELECT DISTINCT flavor FROM schema_migrations").fetchall()
    assert flavors == [(flavor.value,)]


def test_registry_is_stored_idempotently(db_conn: psycopg.Connection[Any], flavor: Flavor) -> None:
    migrate(db_conn, flavor)
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


def test_cli_migrate_and_load_registry(
    pg_schema: Any, services: Any, timescale_usable: bool
) -> None:
    settings = Settings(
        database_url=pg_schema.dsn,
        kafka_bootstrap=services.kafka_bootstrap,
        state_dir=services.settings.state_dir,
        topic_prefix=f"test.migrations.{uuid.uuid4().hex[:8]}",  # publishes to its own topic
    )
    runner = CliRunner()
    result = runner.invoke(app, ["db", "migrate"], obj=settings, env={})
    assert result.exit_code == 0, result.output
    flavor = Flavor.TIMESCALEDB if timescale_usable else Flavor.PLAIN
    steps = len(discover_steps(flavor))
    assert f"schema {pg_schema.name} ({flavor}): applied {steps}" in result.output
    again = runner.invoke(app, ["db", "migrate"], obj=settings)
    assert "applied 0" in again.output
    loaded = runner.invoke(app, ["db", "load-registry", str(EXAMPLE)], obj=settings)
    assert loaded.exit_code == 0, loaded.output
    assert "4 enterprises" in loaded.output
    bad = runner.invoke(app, ["db", "load-registry", "/nonexistent.yaml"], obj=settings)
    assert bad.exit_code == 2
    assert "invalid registry" in bad.output
