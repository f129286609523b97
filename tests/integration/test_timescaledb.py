"""The TimescaleDB flavor on a real TimescaleDB: what running it showed, and its policies.

Needs a server that runs TimescaleDB (the local stack after ``make install``); the tests of
a server that has the extension but does not preload it use a second, plain cluster.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from deploy import postgres_service, timescaledb
from deploy.migrate import Flavor, MigrationError, migrate
from deploy.timescaledb import Policies, drop_schema

try:
    from services import Services, free_port
except ImportError:  # pragma: no cover
    from tests.services import Services, free_port

SchemaFactory = Callable[[], str]


@pytest.fixture
def ts_server(services: Services, timescale_usable: bool) -> str:
    if not timescale_usable:
        pytest.skip("this PostgreSQL cannot run TimescaleDB (see `make install`)")
    return services.database_url


@pytest.fixture
def new_schema(ts_server: str) -> Iterator[SchemaFactory]:
    """``make() -> dsn`` of a fresh schema (search_path = schema, public); dropped after."""
    made: list[str] = []

    def make() -> str:
        name = f"test_ts_{uuid.uuid4().hex[:10]}"
        made.append(name)
        with psycopg.connect(ts_server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return make_conninfo(ts_server, options=f"-c search_path={name},public")

    yield make
    with psycopg.connect(ts_server, autocommit=True) as conn:
        for name in made:
            drop_schema(conn, name)


def _schema_name(dsn: str) -> str:
    return dsn.split("search_path=")[1].split(",")[0]


@pytest.fixture
def fresh_database(ts_server: str) -> Iterator[str]:
    """A new, empty database (no extension yet); dropped after the test."""
    name = f"test_db_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ts_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(ts_server, dbname=name)
    with psycopg.connect(ts_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_extension_is_created_once_in_public_and_survives_a_dropped_schema(
    fresh_database: str,
) -> None:
    def schema(name: str) -> str:
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return make_conninfo(fresh_database, options=f"-c search_path={name},public")

    with psycopg.connect(schema("first"), autocommit=True) as conn:
        assert migrate(conn).flavor is Flavor.TIMESCALEDB
        assert timescaledb.probe(conn).created_in == "public"
        drop_schema(conn, "first")
    for name in ("second", "third"):  # failed: by_range(unknown, interval) does not exist
        with psycopg.connect(schema(name), autocommit=True) as conn:
            assert migrate(conn).flavor is Flavor.TIMESCALEDB
            assert timescaledb.probe(conn).created_in == "public"
            hypertables = conn.execute(
                "SELECT hypertable_name FROM timescaledb_information.hypertables"
                " WHERE hypertable_schema = current_schema() ORDER BY 1"
            ).fetchall()
            assert hypertables == [
                ("aggregates",),
                ("energy_consumption",),
                ("energy_intensities",),
                ("energy_process_co2",),
                ("energy_readings",),
                ("measurements",),
                ("verdicts",),
            ]
            drop_schema(conn, name)


def test_not_preloaded_server_is_plain_and_refuses_timescaledb_before_any_step(
    plain_cluster: tuple[Any, str], timescale_usable: bool
) -> None:
    if not timescale_usable:
        pytest.skip("needs the extension installed")
    _, dsn = plain_cluster
    name = f"test_np_{uuid.uuid4().hex[:8]}"
    scoped = make_conninfo(dsn, options=f"-c search_path={name},public")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    with psycopg.connect(scoped, autocommit=True) as conn:
        found = timescaledb.probe(conn)
        assert found.available is not None and not found.preloaded
        with pytest.raises(MigrationError, match="not preloaded"):
            migrate(conn, Flavor.TIMESCALEDB)
        exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        assert exists == (None,)  # nothing recorded: no half-migrated schema
        report = migrate(conn)  # detection: plain, since TimescaleDB cannot run here
        assert report.flavor is Flavor.PLAIN
        flavors = conn.execute("SELECT DISTINCT flavor FROM schema_migrations").fetchall()
        assert flavors == [("plain",)]
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def test_a_plain_cluster_is_upgraded_in_place_with_a_message(
    services: Services, timescale_usable: bool
) -> None:
    if services.origin != "local" or not timescale_usable:
        pytest.skip("needs the local stack's server with TimescaleDB installed")
    home = services.settings.state_dir / f"upgrade-cluster-{free_port()}"
    plain = postgres_service.PostgresLayout(home.resolve() / "postgres", free_port(), False)
    told: list[str] = []
    try:
        postgres_service.start(plain, told.append, {postgres_service.APP_ROLE: "private"})
        with psycopg.connect(postgres_service.owner_dsn(plain, "private"), autocommit=True) as conn:
            assert migrate(conn).flavor is Flavor.PLAIN  # public, migrated plain
        postgres_service.stop(plain, told.append)
        upgraded = postgres_service.PostgresLayout(plain.home, plain.port, True)
        told.clear()
        postgres_service.start(upgraded, told.append, {postgres_service.APP_ROLE: "private"})
        assert any("upgrading the existing plain cluster in place" in line for line in told)
        assert (
            postgres_service.timescaledb_version(postgres_service.owner_dsn(upgraded, "private"))
            is not None
        )
        with psycopg.connect(
            postgres_service.owner_dsn(upgraded, "private"), autocommit=True
        ) as conn:
            assert migrate(conn).flavor is Flavor.PLAIN  # the schema keeps its flavor
            conn.execute("CREATE SCHEMA fresh")
            fresh = make_conninfo(
                postgres_service.owner_dsn(upgraded, "private"),
                options="-c search_path=fresh,public",
            )
        with psycopg.connect(fresh, autocommit=True) as conn:
            assert migrate(conn).flavor is Flavor.TIMESCALEDB
            drop_schema(conn, "fresh")
    finally:
        postgres_service.stop(plain, told.append)
        shutil.rmtree(home, ignore_errors=True)


def _job_ids(conn: psycopg.Connection[Any], schema: str) -> list[int]:
    """Jobs of the schema's hypertables and continuous aggregates (the view's name for those)."""
    rows = conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs WHERE hypertable_schema = %s", (schema,)
    ).fetchall()
    return [int(row[0]) for row in rows]


def test_drop_schema_while_its_refresh_job_runs(new_schema: SchemaFactory, ts_server: str) -> None:
    """Teardown and demo pruning dropped schemas while the continuous-aggregate refresh ran:
    `tuple concurrently updated`. drop_schema removes the jobs first."""
    dsn = new_schema()
    name = _schema_name(dsn)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn)
        conn.execute(
            "INSERT INTO measurements (device_id, factor, period, period_start, factor_as_sent,"
            " avg, flag, received_at)"
            " SELECT 'D' || (i %% 50), 'a21026', 'minute', %s + i * interval '1 minute', '02',"
            " i, 'N', now() FROM generate_series(0, 60 * 24 * 30) AS i",
            (start,),
        )
        jobs = _job_ids(conn, name)
        assert jobs, "the schema has a refresh job"
        for job in jobs:  # make them run now and again and again
            conn.execute(
                "SELECT alter_job(%s, schedule_interval => interval '1 second',"
                " next_start => now())",
                (job,),
            )
    stop = threading.Event()

    def keep_invalidating() -> None:
        with psycopg.connect(dsn, autocommit=True) as writer:
            i = 0
            while not stop.is_set():
                writer.execute(
                    "UPDATE measurements SET avg = avg + 1 WHERE device_id = 'D1'"
                    " AND period_start = %s",
                    (start + timedelta(minutes=50 * (i % 800) + 1),),
                )
                i += 1

    writer = threading.Thread(target=keep_invalidating, daemon=True)
    writer.start()
    try:
        with psycopg.connect(ts_server, autocommit=True) as conn:
            conn.execute("SELECT pg_sleep(1.5)")
            stop.set()
            writer.join(10)
            drop_schema(conn, name)
            gone = conn.execute("SELECT to_regnamespace(%s)", (name,)).fetchone()
            assert gone == (None,)
            assert _job_ids(conn, name) == []
    finally:
        stop.set()


def test_compression_segments_by_series_and_policies_follow_the_settings(
    new_schema: SchemaFactory,
) -> None:
    dsn = new_schema()
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn, policies=Policies(compress_after=timedelta(days=7)))
        settings = conn.execute(
            "SELECT segmentby, orderby FROM timescaledb_information.hypertable_compression_settings"
            " WHERE hypertable = 'measurements'::regclass"
        ).fetchone()
        assert settings == ("device_id,factor,period", "period_start DESC")

        def policy(proc: str) -> list[Any]:
            return conn.execute(
                "SELECT config FROM timescaledb_information.jobs WHERE proc_name = %s"
                " AND hypertable_schema = current_schema() AND hypertable_name = 'measurements'",
                (proc,),
            ).fetchall()

        assert [row[0]["compress_after"] for row in policy("policy_compression")] == ["7 days"]
        assert policy("policy_retention") == []  # off by default: auditors need history
        migrate(conn, policies=Policies(timedelta(days=30), raw_retention=timedelta(days=400)))
        assert [row[0]["compress_after"] for row in policy("policy_compression")] == ["30 days"]
        assert [row[0]["drop_after"] for row in policy("policy_retention")] == ["400 days"]

        conn.execute(
            "INSERT INTO measurements (device_id, factor, period, period_start, factor_as_sent,"
            " avg, flag, received_at) SELECT 'D', 'a21026', 'minute',"
            " timestamptz '2026-01-01' + i * interval '1 minute', '02', i, 'N', now()"
            " FROM generate_series(0, 1000) AS i"
        )
        notices: list[str] = []
        conn.add_notice_handler(lambda diag: notices.append(str(diag.message_primary)))
        compressed = conn.execute(
            "SELECT count(compress_chunk(c)) FROM show_chunks('measurements') AS c"
        ).fetchone()
        assert compressed == (1,)
        assert not [n for n in notices if "segmenting or ordering" in n]
        total = conn.execute("SELECT count(*), sum(avg) FROM measurements").fetchone()
        assert total == (1001, sum(range(1001)))


def test_hourly_continuous_aggregate_takes_late_data_of_any_age(
    new_schema: SchemaFactory, run_refresh_policy: Callable[[psycopg.Connection[Any]], None]
) -> None:
    """A minute re-sent (补发) weeks late lands in measurement_hourly at the policy's next run:
    the refresh window starts at the beginning of time (it used to stop 3 days back)."""
    with psycopg.connect(new_schema(), autocommit=True) as conn:
        migrate(conn)
        insert = (
            "INSERT INTO measurements (device_id, factor, period, period_start, factor_as_sent,"
            " avg, flag, received_at) VALUES ('D', 'a21026', 'minute', %s, '02', %s, 'N', now())"
        )
        old_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=40)
        conn.execute(insert, (old_hour, 10.0))
        run_refresh_policy(conn)
        conn.execute(insert, (old_hour + timedelta(minutes=1), 30.0))  # late, 40 days old
        run_refresh_policy(conn)
        hourly = conn.execute(
            "SELECT samples, avg_value, max_value FROM measurement_hourly WHERE bucket = %s",
            (old_hour,),
        ).fetchall()
        assert hourly == [(2, 20.0, 30.0)]
