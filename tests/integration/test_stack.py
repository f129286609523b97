"""The local stack as a user meets it: `greenwatch stack ...` and the services it provides."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from deploy import kafka_service, postgres_service, stack
from deploy.stack_cli import stack_app
from runtime.kafka_access import KafkaAccess
from runtime.settings import Settings

try:
    from services import free_port, kafka_config
except ImportError:  # pragma: no cover
    from tests.services import free_port, kafka_config

if TYPE_CHECKING:
    from services import PgSchema, Services

runner = CliRunner()


def test_status_json_reports_both_services_up(services: Services) -> None:
    settings = services.settings
    result = runner.invoke(stack_app, ["status", "--json"], obj=settings)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"kafka", "postgres"}
    assert report["kafka"] == {"bootstrap": services.kafka_bootstrap, "up": True}
    assert report["postgres"]["up"] is True
    installed = postgres_service.timescaledb_installed(postgres_service.bin_dir())
    if services.origin == "local" and installed is not None:  # the stack preloads it
        assert report["postgres"]["timescaledb"] is True
        assert report["postgres"]["timescaledb_version"] == installed
    else:
        assert report["postgres"]["timescaledb"] is (
            report["postgres"]["timescaledb_version"] is not None
        )


def test_greenwatch_command_reports_status(services: Services) -> None:
    executable = Path(sys.executable).with_name("greenwatch")
    env = {
        **os.environ,
        "GREENWATCH_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "GREENWATCH_DATABASE_URL": services.database_url,
    }
    done = subprocess.run(
        [str(executable), "stack", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["kafka"]["up"] and report["postgres"]["up"]
    assert "greenwatch:greenwatch@" not in report["postgres"]["dsn"]  # external: redacted


def test_kafka_round_trip(services: Services, kafka_topic_factory: Callable[..., str]) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic = kafka_topic_factory("roundtrip")
    bootstrap = services.kafka_bootstrap
    payload = uuid.uuid4().hex.encode()
    producer = KafkaProducer(**kafka_config(bootstrap), acks="all")
    producer.send(topic, key=b"device-1", value=payload).get(timeout=15)
    producer.close()

    consumer = KafkaConsumer(**kafka_config(bootstrap), enable_auto_commit=False)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    received: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + 15
    while not received and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            received += [(r.key, r.value) for r in records]
    consumer.close()

    assert received == [(b"device-1", payload)]


def test_postgres_answers_in_the_test_schema(
    pg_schema: PgSchema, db_conn: psycopg.Connection[tuple[object, ...]]
) -> None:
    db_conn.execute("CREATE TABLE reading (device text PRIMARY KEY, value double precision)")
    db_conn.execute("INSERT INTO reading VALUES ('d1', 1.5)")

    assert db_conn.execute("SELECT 1").fetchone() == (1,)
    assert db_conn.execute("SELECT current_schema()").fetchone() == (pg_schema.name,)
    assert db_conn.execute("SELECT value FROM reading").fetchall() == [(1.5,)]


def test_second_up_reuses_running_services(services: Services) -> None:
    if services.origin != "local":
        pytest.skip("only the local stack is started by `stack up`")
    settings = services.settings
    before = stack.status(settings)

    result = runner.invoke(stack_app, ["up"], obj=settings)

    assert result.exit_code == 0, result.output
    assert "already running" in result.output
    after = stack.status(settings)
    assert (after.kafka.pid, after.postgres.pid) == (before.kafka.pid, before.postgres.pid)
    assert after.all_up


def test_status_of_unreachable_services_is_down_and_redacted() -> None:
    settings = Settings(
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        database_url=f"postgresql://someone:secret@127.0.0.1:{free_port()}/db",
    )
    result = runner.invoke(stack_app, ["status", "--json"], obj=settings)

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["kafka"]["up"] is False and report["postgres"]["up"] is False
    assert "secret" not in result.stdout


def test_up_without_kafka_jars_says_run_make_install(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_port=free_port())
    result = runner.invoke(stack_app, ["up"], obj=settings)

    assert result.exit_code == 1
    assert "make install" in result.output


def test_up_refuses_a_port_held_by_someone_else(tmp_path: Path, foreign_listener: int) -> None:
    settings = Settings(
        state_dir=tmp_path, kafka_bootstrap="127.0.0.1:9", postgres_port=foreign_listener
    )
    result = runner.invoke(stack_app, ["up"], obj=settings)

    assert result.exit_code == 1
    assert f"port 127.0.0.1:{foreign_listener} is already in use" in result.output
    assert "GREENWATCH_POSTGRES_PORT" in result.output


def test_new_cluster_ids_never_start_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xF8 encodes as '-' in base64url: the first draw must be refused, as Kafka's Uuid does
    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x01" * 16)])
    monkeypatch.setattr(kafka_service.uuid, "uuid4", lambda: next(draws))

    assert kafka_service.new_cluster_id() == "AQEBAQEBAQEBAQEBAQEBAQ"
    monkeypatch.undo()
    assert all(not kafka_service.new_cluster_id().startswith("-") for _ in range(2000))


def test_broker_starts_with_a_kept_cluster_id_that_starts_with_a_dash(tmp_path: Path) -> None:
    jars = kafka_service.layout(Settings().state_dir, 0, 0).libs
    if not any(jars.glob("kafka_*.jar")):
        pytest.skip("no Kafka jars: run `make install`")
    kafka = kafka_service.layout(tmp_path, free_port(), free_port())
    kafka.home.mkdir(parents=True)
    kafka.libs.symlink_to(jars)
    kafka.cluster_id_file.write_text("-AAAAAAAAAAAAAAAAAAAAQ\n")  # as an older state dir may hold

    pid = kafka_service.start(kafka, notify=lambda _: None, admin_password="private")
    admin = KafkaAccess(kafka.bootstrap, "SASL_PLAINTEXT", "PLAIN", "admin", SecretStr("private"))
    try:
        assert "cluster.id=-AAAAAAAAAAAAAAAAAAAAQ" in (kafka.data / "meta.properties").read_text()
        deadline = time.monotonic() + 60
        while not kafka_service.is_healthy(admin) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert kafka_service.is_healthy(admin)
        assert kafka_service.running_pid(kafka) == pid
    finally:
        kafka_service.stop(kafka, notify=lambda _: None)


@pytest.fixture
def foreign_listener() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_stack_up_and_status_never_print_the_owners_password(services: Services) -> None:
    """Issue 11: a shell that exported the owner's DSN made every service the owner. `up`
    says where the per-role passwords are and prints the read-only role's DSN; `status`
    (text and JSON) redacts the DSN."""
    if services.origin != "local":
        pytest.skip("the local stack's output")
    settings = services.settings
    owner = (settings.state_dir / "secrets" / "postgres-greenwatch.password").read_text().strip()
    up = runner.invoke(stack_app, ["up"], obj=settings)
    assert up.exit_code == 0, up.output
    assert owner not in up.output
    assert "GREENWATCH_DATABASE_URL=" not in up.stdout
    assert f"{(settings.state_dir / 'secrets').resolve()}/postgres-<role>.password" in up.stdout
    assert "read-only (Grafana, psql): postgresql://gw_reader:" in up.stdout
    for args in (["status"], ["status", "--json"]):
        status = runner.invoke(stack_app, args, obj=settings)
        assert status.exit_code == 0, status.output
        assert owner not in status.output
    report = json.loads(runner.invoke(stack_app, ["status", "--json"], obj=settings).stdout)
    assert report["postgres"]["dsn"].startswith("postgresql://greenwatch:***@")
