"""`greenwatch db load-registry` publishes the registry to its compacted topic, against the real
Kafka and PostgreSQL (a fresh schema and topic prefix per test)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from services import admin_access
from typer.testing import CliRunner

from deploy.migrate import migrate
from greenwatch.cli import app
from ingest.simulator.province import build_province
from runtime.registry_topic import (
    NoRegistryPublished,
    publish_registry,
    read_latest_registry,
    registry_topic,
)
from runtime.settings import Settings, device_key, registry_key
from schemas.registry import dump_registry, load_registry

EXAMPLE = Path(__file__).parents[2] / "schemas" / "examples" / "demo-province.yaml"

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def prefix(topic_prefix: str) -> str:
    return topic_prefix


@pytest.fixture
def settings(services: Any, pg_schema: Any, prefix: str) -> Settings:
    with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
        migrate(conn)
    return Settings(
        database_url=pg_schema.dsn,
        kafka_bootstrap=services.kafka_bootstrap,
        topic_prefix=prefix,
        state_dir=services.settings.state_dir,
    )


def _stored_versions(settings: Settings) -> list[str]:
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url.get_secret_value()) as conn:
        rows = conn.execute("SELECT version FROM registry_versions ORDER BY version").fetchall()
    return [row[0] for row in rows]


def _edition(tmp_path: Path, version: str) -> Path:
    edited = load_registry(EXAMPLE).model_copy(update={"version": version})
    path = tmp_path / f"{version}.yaml"
    path.write_text(dump_registry(edited), "utf-8")
    return path


def test_load_registry_stores_then_publishes_the_version_in_force(
    settings: Settings, tmp_path: Path
) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["db", "load-registry", str(EXAMPLE)], obj=settings)
    assert first.exit_code == 0, first.output
    topic = registry_topic(settings.topic_prefix)
    assert f"published to {topic.name} (offset 0)" in first.output
    latest = read_latest_registry(
        admin_access(settings.kafka_bootstrap or ""), topic, wait_s=10, key=registry_key(settings)
    )
    assert _stored_versions(settings) == [latest.snapshot.version] == ["demo-province-2026.1"]
    # stored and published with keyed device digests only (issue 11: no unkeyed digest)
    assert latest.registry == load_registry(EXAMPLE).with_keyed_passwords(device_key(settings))
    assert not latest.registry.has_legacy_digests

    second = runner.invoke(
        app, ["db", "load-registry", str(_edition(tmp_path, "demo-province-2026.2"))], obj=settings
    )
    assert second.exit_code == 0, second.output
    latest = read_latest_registry(
        admin_access(settings.kafka_bootstrap or ""), topic, wait_s=10, key=registry_key(settings)
    )
    assert (latest.offset, latest.snapshot.version) == (1, "demo-province-2026.2")
    assert _stored_versions(settings) == ["demo-province-2026.1", "demo-province-2026.2"]


def test_no_publish_stores_and_publishes_nothing(settings: Settings) -> None:
    result = CliRunner().invoke(
        app, ["db", "load-registry", "--no-publish", str(EXAMPLE)], obj=settings
    )
    assert result.exit_code == 0, result.output
    assert "published" not in result.output
    assert _stored_versions(settings) == ["demo-province-2026.1"]
    topic = registry_topic(settings.topic_prefix)
    with pytest.raises(NoRegistryPublished):
        read_latest_registry(
            admin_access(settings.kafka_bootstrap or ""),
            topic,
            wait_s=1,
            key=registry_key(settings),
        )


def test_unreachable_kafka_fails_after_the_database_has_the_version(settings: Settings) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    offline = settings.model_copy(update={"kafka_bootstrap": dead})
    result = CliRunner().invoke(
        app,
        ["db", "load-registry", "--publish-timeout", "2", str(EXAMPLE)],
        obj=offline,
    )
    assert result.exit_code == 1
    assert "stored in the database but NOT published" in result.output
    assert "run this command again" in result.output
    assert _stored_versions(settings) == ["demo-province-2026.1"]


def test_a_registry_larger_than_a_default_kafka_record_round_trips(
    services: Any, prefix: str
) -> None:
    """3 000 enterprises: 2.6 MB of JSON, over the producer's default 1 MB request limit."""
    big = build_province(3000, 1, 0.3, 0.2).registry
    assert len(big.model_dump_json()) > 2_000_000
    topic = registry_topic(prefix)
    key = registry_key(services.settings)
    published = publish_registry(services.kafka, topic, big, datetime.now(UTC), key=key)
    latest = read_latest_registry(services.kafka, topic, wait_s=10, key=key)
    assert latest.offset == published.offset
    assert latest.registry == big
