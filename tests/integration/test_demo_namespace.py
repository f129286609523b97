"""Demo runs in namespaces of their own (greenwatch/demo_namespace.py), on the real services."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from deploy.timescaledb import drop_schema
from greenwatch import demo_namespace
from ingest.hj212 import CHINA_TZ
from runtime.settings import Settings, database_dsn


def _settings(services: Any, prefix: str) -> Settings:
    return Settings(
        kafka_bootstrap=services.kafka_bootstrap,
        database_url=services.database_url,
        topic_prefix=prefix,
        state_dir=services.settings.state_dir,
    )


def _demo_schemas(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname ~ '^demo_'")
        return {row[0] for row in rows.fetchall()}


def test_a_run_writes_to_its_own_schema_and_prefix(services: Any) -> None:
    configured = _settings(services, f"test{uuid.uuid4().hex[:8]}")
    at = datetime(2031, 1, 2, 3, 4, 5, tzinfo=CHINA_TZ)
    namespace = demo_namespace.create(configured, at)
    try:
        assert namespace.schema == "demo_20310102030405"
        assert namespace.settings.topic_prefix == f"{configured.topic_prefix}.demo20310102030405"
        with psycopg.connect(database_dsn(namespace.settings), autocommit=True) as conn:
            conn.execute("CREATE TABLE probe (x int)")
            found = conn.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'probe'"
            ).fetchall()
        assert found == [("demo_20310102030405",)]  # not public: the run's own schema
        told = namespace.environment()
        assert f"GREENWATCH_TOPIC_PREFIX={namespace.prefix}" in told
        assert "GREENWATCH_DATABASE_SCHEMA=demo_20310102030405" in told
        assert "postgresql" not in told and "password" not in told  # no DSN, no secret
    finally:
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            drop_schema(conn, "demo_20310102030405")


def test_prune_keeps_the_newest_runs_and_drops_the_rest_with_their_topics(services: Any) -> None:
    configured = _settings(services, f"test{uuid.uuid4().hex[:8]}")
    base = datetime(2032, 5, 6, 7, 8, 9, tzinfo=CHINA_TZ)
    runs = [demo_namespace.create(configured, base + timedelta(minutes=i)) for i in range(3)]
    other = _settings(services, f"other{uuid.uuid4().hex[:8]}")  # another prefix's run
    foreign = demo_namespace.create(other, base - timedelta(days=1))
    admin = KafkaAdminClient(**services.kafka.client_config())
    try:
        admin.create_topics([NewTopic(f"{run.prefix}.verdicts", 1, 1) for run in runs])
        told: list[str] = []
        dropped = demo_namespace.prune(configured, 1, told.append)

        assert dropped == [runs[0].run_id, runs[1].run_id]
        schemas = _demo_schemas(services.database_url)
        assert runs[2].schema in schemas
        assert not {runs[0].schema, runs[1].schema} & schemas
        assert foreign.schema in schemas  # never another prefix's runs
        left = {t for t in admin.list_topics() if t.startswith(configured.topic_prefix)}
        assert left == {f"{runs[2].prefix}.verdicts"}
        assert told and "2 earlier demo run(s)" in told[0]
    finally:
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            for run in [*runs, foreign]:
                drop_schema(conn, run.schema)
        admin.delete_topics(
            [t for t in admin.list_topics() if t.startswith(configured.topic_prefix)]
        )
        admin.close()
