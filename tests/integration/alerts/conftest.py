"""Fixtures of the alert service integration tests (real Kafka, PostgreSQL, SMTP, HTTP)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from alerts_harness import Feed, Receivers, ServiceProcess
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from services import admin_access
from typer.testing import CliRunner

from deploy.migrate import migrate
from greenwatch.cli import app
from runtime.registry_store import store_registry
from runtime.registry_topic import RegistryRecord, publish_registry, registry_topic
from runtime.settings import Settings, registry_key
from schemas.registry import load_registry, parse_registry
from schemas.topics import Topic, topic_name

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "demo-province.yaml"
TEST_POLICY = {
    "sustained_exceedance_hours": 3,
    "resolve_after_compliant_hours": 2,
    "repeat_interval_minutes": 600,
    "quality_pending_minutes": 0,
    "quality_resolve_minutes": 0,
    "held_recheck_minutes": 1,
}


@dataclass
class AlertsEnv:
    """One isolated world: schema, topics, registry, receivers, service, producer, CLI."""

    settings: Settings
    dsn: str
    receivers: Receivers
    service: ServiceProcess
    feed: Feed
    prefix: str

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(app, ["alerts", *args], obj=self.settings)
        assert result.exit_code == 0, f"alerts {' '.join(args)}: {result.output}"
        return result.output

    def cli_fails(self, *args: str) -> str:
        result = CliRunner().invoke(app, ["alerts", *args], obj=self.settings)
        assert result.exit_code != 0, result.output
        return result.output

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def alert(self, alert_id: str) -> tuple[str, int, int] | None:
        """(state, level, episode) of an alert, or None."""
        rows = self.query("SELECT state, level, episode FROM alerts WHERE alert_id = %s", alert_id)
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def publish(self, document: dict[str, Any]) -> RegistryRecord:
        """Publish a registry document on the test's registry topic, as load-registry does."""
        registry = parse_registry(document, "test")
        bootstrap = str(self.settings.kafka_bootstrap)
        topic, key = registry_topic(self.prefix), registry_key(self.settings)
        return publish_registry(
            admin_access(bootstrap), topic, registry, datetime.now(UTC), key=key
        )


def registry_document(version: str = "alerts-it-1", **policy: Any) -> dict[str, Any]:
    """The demo province as the tests' registry: ``version``, TEST_POLICY, then ``policy``."""
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    document["version"] = version
    document["policy"] = {**document.get("policy", {}), **TEST_POLICY, **policy}
    return document


@pytest.fixture
def alerts_env(services: Any, pg_schema: Any, tmp_path: Path) -> Iterator[AlertsEnv]:
    """The service reads the test's registry file (also stored in the database)."""
    with _alerts_env(services, pg_schema, tmp_path, follow=False) as env:
        yield env


@pytest.fixture
def following_env(services: Any, pg_schema: Any, tmp_path: Path) -> Iterator[AlertsEnv]:
    """No registry file: the service follows the test's registry topic (empty at first; the
    database holds version alerts-it-1)."""
    with _alerts_env(services, pg_schema, tmp_path, follow=True) as env:
        yield env


@contextlib.contextmanager
def _alerts_env(services: Any, pg_schema: Any, tmp_path: Path, follow: bool) -> Iterator[AlertsEnv]:
    registry_file = tmp_path / "registry.yaml"
    registry_file.write_text(yaml.safe_dump(registry_document(), allow_unicode=True), "utf-8")
    with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
        migrate(conn)
        store_registry(conn, load_registry(registry_file))
    prefix = f"test.alerts.{uuid.uuid4().hex[:8]}"
    topics = [
        topic_name(prefix, t)
        for t in (Topic.VERDICTS, Topic.QUALITY, Topic.DEADLETTER, Topic.ALERT_EVENTS)
    ]
    admin = KafkaAdminClient(**services.kafka.client_config(), client_id="alerts-tests")
    admin.create_topics([NewTopic(name, 2, 1) for name in topics])
    settings = Settings(
        kafka_bootstrap=services.kafka_bootstrap,
        database_url=pg_schema.dsn,
        topic_prefix=prefix,
        registry_file=None if follow else registry_file,
        state_dir=services.settings.state_dir,
    )
    receivers = Receivers()
    receivers.start()
    service = ServiceProcess(settings, tmp_path / "alerts.log", f"alerts-it-{uuid.uuid4().hex[:8]}")
    feed = Feed(services.kafka, prefix)
    env = AlertsEnv(settings, pg_schema.dsn, receivers, service, feed, prefix)
    try:
        yield env
    finally:
        service.stop()
        feed.close()
        receivers.stop()
        with contextlib.suppress(Exception):
            admin.delete_topics(topics)
        if follow:
            with contextlib.suppress(Exception):
                admin.delete_topics([registry_topic(prefix).name])
        admin.close()
