"""Issue 11, item 3, against the real PostgreSQL: every table of a migrated schema is in
deploy/grants.yaml, and each service role can do only what its service does — the worker
cannot touch alert_events, no service role can disable a trigger, truncate or drop, the
reader cannot write — while each does its own job (the loader stores a registry, the worker's
sink flushes, the alert service appends an event)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.conninfo import make_conninfo

from deploy.db_roles import load_grants, schema_tables
from deploy.migrate import Flavor, migrate
from deploy.timescaledb import drop_schema
from runtime.registry_store import store_registry
from runtime.settings import Settings, database_dsn
from schemas.registry import load_registry

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "demo-province.yaml"
SERVICE_ROLES = sorted(load_grants().roles)


@pytest.fixture(scope="module")
def local(services: Any) -> Settings:
    if services.origin != "local":
        pytest.skip("the service roles and their passwords are the local stack's")
    settings: Settings = services.settings
    return settings


@pytest.fixture(scope="module", params=[Flavor.PLAIN, Flavor.TIMESCALEDB], ids=str)
def schema(local: Settings, request: pytest.FixtureRequest) -> Iterator[str]:
    """A schema migrated (as the owner) under each flavor the server can run."""
    name = f"roles_{uuid.uuid4().hex[:10]}"
    owner = database_dsn(local)
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        scoped = make_conninfo(owner, options=f"-c search_path={name},public")
        with psycopg.connect(scoped, autocommit=True) as conn:
            try:
                migrate(conn, request.param)
            except Exception as error:  # TimescaleDB not usable here: that flavor is skipped
                if request.param is Flavor.TIMESCALEDB:
                    pytest.skip(f"TimescaleDB flavor not usable: {error}")
                raise
            store_registry(conn, load_registry(EXAMPLE))
        yield name
    finally:
        with psycopg.connect(owner, autocommit=True) as conn:
            drop_schema(conn, name)


def _as(local: Settings, key: str, schema: str) -> psycopg.Connection[Any]:
    login = load_grants().role(key).login
    dsn = make_conninfo(database_dsn(local, login), options=f"-c search_path={schema},public")
    return psycopg.connect(dsn, autocommit=True)


def _refused(local: Settings, key: str, schema: str, statement: str) -> None:
    with _as(local, key, schema) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement)


def test_every_table_of_the_migrated_schema_says_who_may_use_it(
    local: Settings, schema: str
) -> None:
    owner = make_conninfo(database_dsn(local), options=f"-c search_path={schema},public")
    with psycopg.connect(owner, autocommit=True) as conn:
        tables = schema_tables(conn)
    assert tables, "nothing migrated?"
    assert [t for t in tables if t not in load_grants().tables] == [], (
        "add these tables to deploy/grants.yaml (who may read and write each)"
    )


@pytest.mark.parametrize("key", SERVICE_ROLES)
@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE alert_events DISABLE TRIGGER ALL",
        "TRUNCATE alert_events",
        "DROP TABLE verdicts",
        "DELETE FROM alert_events",
        "UPDATE alert_events SET alert_id = alert_id",
        "CREATE TABLE intruder (x int)",
        "ALTER TABLE verdicts ADD COLUMN intruder int",
    ],
)
def test_no_service_role_can_rewrite_the_record_or_the_schema(
    local: Settings, schema: str, key: str, statement: str
) -> None:
    _refused(local, key, schema, statement)


@pytest.mark.parametrize(
    ("key", "statement"),
    [
        ("worker", "SELECT count(*) FROM alert_events"),
        ("worker", "INSERT INTO alert_events SELECT * FROM alert_events LIMIT 0"),
        ("worker", "SELECT count(*) FROM alerts"),
        ("worker", "INSERT INTO enterprises SELECT * FROM enterprises LIMIT 0"),
        ("energy_worker", "SELECT count(*) FROM measurements"),
        ("alerts", "INSERT INTO verdicts SELECT * FROM verdicts LIMIT 0"),
        ("alerts", "INSERT INTO measurements SELECT * FROM measurements LIMIT 0"),
        ("registry", "SELECT count(*) FROM verdicts"),
        ("reader", "INSERT INTO verdicts SELECT * FROM verdicts LIMIT 0"),
        ("reader", "UPDATE enterprises SET name = name"),
        ("reader", "SELECT count(*) FROM alert_subscriptions"),
        ("reader", "INSERT INTO plan_progress SELECT * FROM plan_progress LIMIT 0"),
        # plan progress / credit-list / report quarterly: only the plan tables are theirs
        ("plan", "INSERT INTO alert_events SELECT * FROM alert_events LIMIT 0"),
        ("plan", "UPDATE alerts SET state = state"),
        ("plan", "INSERT INTO verdicts SELECT * FROM verdicts LIMIT 0"),
        ("plan", "UPDATE registry_versions SET document = document"),
        ("plan", "SELECT count(*) FROM api_tokens"),
        ("plan", "SELECT count(*) FROM alert_subscriptions"),
        # the audit API's login: it reads the tokens and nothing else until it SETs ROLE
        ("api", "SELECT count(*) FROM enterprises"),
        ("api", "SELECT count(*) FROM measurements_scoped"),
        ("api", "INSERT INTO api_tokens SELECT * FROM api_tokens LIMIT 0"),
        ("api", "UPDATE api_tokens SET label = label"),
        ("api", "SET ROLE greenwatch"),
        ("api", "SET ROLE gw_worker"),
        # db rekey-passwords runs as the registry loader: the registry, nothing else
        ("registry", "UPDATE verdicts SET status = status"),
    ],
)
def test_a_role_cannot_touch_another_services_tables(
    local: Settings, schema: str, key: str, statement: str
) -> None:
    _refused(local, key, schema, statement)


@pytest.mark.parametrize(
    ("key", "statement"),
    [
        ("worker", "INSERT INTO verdicts SELECT * FROM verdicts LIMIT 0"),
        ("worker", "SELECT count(*) FROM devices"),
        ("alerts", "INSERT INTO alert_events SELECT * FROM alert_events LIMIT 0"),
        ("energy_worker", "INSERT INTO energy_readings SELECT * FROM energy_readings LIMIT 0"),
        ("reader", "SELECT count(*) FROM verdicts"),
        ("reader", "SELECT count(*) FROM alert_events"),
        # the history views run with the reader's rights (migration 016): each role that
        # reads them also reads the tables under them
        ("reader", "SELECT count(*) FROM measurement_versions"),
        ("reader", "SELECT count(*) FROM aggregate_versions"),
        ("reader", "SELECT count(*) FROM verdict_versions"),
        ("worker", "SELECT count(*) FROM measurement_versions"),
        ("worker", "SELECT count(*) FROM verdict_versions"),
        ("energy_worker", "SELECT count(*) FROM verdict_versions"),
        ("plan", "INSERT INTO plan_progress SELECT * FROM plan_progress LIMIT 0"),
        ("plan", "UPDATE plan_consequences SET year = year"),
        ("plan", "SELECT count(*) FROM energy_consumption JOIN enterprises USING (enterprise_id)"),
        ("plan", "SELECT count(*) FROM alert_events JOIN alerts USING (alert_id)"),
        ("api", "SELECT count(*) FROM api_tokens"),
        ("registry", "SELECT version FROM registry_versions FOR UPDATE"),  # rekey-passwords
    ],
)
def test_a_role_can_do_its_own_job(local: Settings, schema: str, key: str, statement: str) -> None:
    with _as(local, key, schema) as conn:
        conn.execute(statement)


@pytest.mark.parametrize(
    "api_role", ["greenwatch_api_enterprise", "greenwatch_api_regulator", "greenwatch_api_auditor"]
)
def test_the_api_login_reads_only_as_a_scoped_api_role(
    local: Settings, schema: str, api_role: str
) -> None:
    """gw_api may SET ROLE to each API role (then row-level security applies: nothing in
    scope, nothing seen) and can write nothing, before or after."""
    with _as(local, "api", schema) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(api_role)))
        seen = conn.execute("SELECT count(*) FROM enterprises").fetchone()
        assert seen == (0,)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("UPDATE enterprises SET name = name")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("INSERT INTO api_tokens SELECT * FROM api_tokens LIMIT 0")


def test_the_registry_loader_stores_a_registry_as_its_role(local: Settings, schema: str) -> None:
    registry = load_registry(EXAMPLE).model_copy(update={"version": "roles-test-2"})
    with _as(local, "registry", schema) as conn:
        store_registry(conn, registry)
        found = conn.execute("SELECT count(*) FROM registry_versions").fetchone()
    assert found == (2,)


REFRESH_ROLLUP = (
    "SELECT gw_refresh_measurement_hourly_keys(ARRAY['DEMO-TP01-G1']::text[],"
    " ARRAY[now()]::timestamptz[])"
)


def test_the_worker_refreshes_the_hourly_rollup_as_its_role(local: Settings, schema: str) -> None:
    """The sink's rollup refresh (DELETE + INSERT on measurement_hourly in the plain flavor)
    runs as the owner (SECURITY DEFINER, migration 013): the worker needs no DELETE grant."""
    with _as(local, "worker", schema) as conn:
        conn.execute(REFRESH_ROLLUP)
        may_delete = conn.execute(
            "SELECT has_table_privilege('measurement_hourly', 'DELETE')"
        ).fetchone()
    assert may_delete == (False,)


@pytest.mark.parametrize("key", ["energy_worker", "alerts", "registry", "reader"])
def test_only_the_worker_may_refresh_the_hourly_rollup(
    local: Settings, schema: str, key: str
) -> None:
    _refused(local, key, schema, REFRESH_ROLLUP)
