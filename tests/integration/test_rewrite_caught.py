"""The rewrite trick caught on the running platform (issue 13): HJ 212 minute frames on the raw
topic → ``greenwatch worker`` → verdicts (with their ``revision`` header) → ``greenwatch alerts
run`` → PostgreSQL. An enterprise re-sends its 10:00 minutes at 5.0 after they were judged an
exceedance at 100.0: the worker re-judges the hour and flags the re-sent values, and the alert
service raises a downward-revision alert whose first notice goes to the enterprise and the
regulator at once, with both values in its evidence."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from child_process import child_process
from kafka import KafkaProducer
from typer.testing import CliRunner

from deploy.migrate import migrate
from greenwatch.cli import app
from ingest.hj212 import CHINA_TZ, encode
from runtime.registry_store import store_registry
from runtime.settings import Settings
from schemas.envelope import Protocol, RawEnvelope
from schemas.registry import load_registry
from schemas.topics import Topic, topic_name
from streams.worker import ensure_topics

EXAMPLE = Path(__file__).parents[2] / "schemas" / "examples" / "demo-province.yaml"
GREENWATCH = Path(sys.executable).parent / "greenwatch"
DEVICE, OUTLET, ENTERPRISE = "DEMO-TP01-G1", "E-TP-01-G1", "E-TP-01"
HOUR = datetime(2026, 3, 2, 10, 0, tzinfo=CHINA_TZ)
REVISED = f"{OUTLET}/a21026/quality.revised_down"


def frames(start: datetime, so2: float, minutes: int = 5) -> list[bytes]:
    out = []
    for minute in range(minutes):
        at = start + timedelta(minutes=minute)
        values: dict[str, dict[str, float | str]] = {
            "a21026": {"Avg": so2, "Flag": "N"},
            "a19001": {"Avg": 6.0, "Flag": "N"},
        }
        frame = encode(st="31", cn="2051", mn=DEVICE, pw="123456", flag=5, data_time=at,
                       values=values)  # fmt: skip
        raw = RawEnvelope(
            protocol=Protocol.HJ212,
            device_id=DEVICE,
            peer="127.0.0.1:40000",
            received_at=at + timedelta(minutes=1),
            payload=frame.encode(),
        )
        out.append(raw.model_dump_json().encode())
    return out


def poll(what: str, check: Callable[[], Any], deadline_s: float = 60.0) -> Any:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    pytest.fail(f"timed out after {deadline_s}s waiting for {what}")


def test_minutes_resent_lower_after_an_exceedance_reach_enterprise_and_regulator(
    services: Any, pg_schema: Any, topic_prefix: str, tmp_path: Path
) -> None:
    document = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    document["policy"] = {
        **document.get("policy", {}),
        "valid_minutes_per_hour": 4,
        "grace_minutes": 2,
        "quality_pending_minutes": 0,
    }
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
        migrate(conn)
        store_registry(conn, load_registry(registry))
    prefix = topic_prefix
    ensure_topics(services.kafka, prefix, only=Topic)  # the alert service's, too
    settings = Settings(
        kafka_bootstrap=services.kafka_bootstrap,
        database_url=pg_schema.dsn,
        topic_prefix=prefix,
        registry_file=registry,
        state_dir=tmp_path / "state",
    )
    for args in (
        ["subscribe", ENTERPRISE, "--channel", "json://127.0.0.1:9/enterprise"],
        ["subscribe", "*", "--audience", "regulator", "--level", "data_quality",
         "--channel", "json://127.0.0.1:9/regulator"],
    ):  # fmt: skip
        result = CliRunner().invoke(app, ["alerts", *args], obj=settings)
        assert result.exit_code == 0, result.output
    env = {
        **os.environ,
        "GREENWATCH_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "GREENWATCH_DATABASE_URL": pg_schema.dsn,
        "GREENWATCH_TOPIC_PREFIX": prefix,
        "GREENWATCH_REGISTRY_FILE": str(registry),
        "GREENWATCH_STATE_DIR": str(tmp_path / "state"),
    }
    producer = KafkaProducer(**services.kafka.client_config(), acks="all")
    raw = topic_name(prefix, Topic.RAW_HJ212)

    def send(values: list[bytes]) -> None:
        for value in values:
            producer.send(raw, key=DEVICE.encode(), value=value)
        producer.flush(timeout=30)

    def query(sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    worker = [str(GREENWATCH), "worker", "--batch-within", "0.2", "--tick-interval", "1"]
    alerts = [str(GREENWATCH), "alerts", "run", "--tick-seconds", "0.3", "--no-notify"]
    with (
        child_process(worker, env, tmp_path / "worker.log"),
        child_process(alerts, env, tmp_path / "alerts.log"),
    ):
        send(frames(HOUR, 100.0) + frames(HOUR + timedelta(hours=1), 20.0))
        poll(
            "the exceedance alert",
            lambda: query(
                "SELECT 1 FROM alerts WHERE alert_id = %s AND level >= 2",
                f"{OUTLET}/a21026/hourly_concentration",
            ),
        )
        send(frames(HOUR, 5.0))  # the enterprise re-sends 10:00 lower
        [(evidence,)] = poll(
            "the downward-revision alert",
            lambda: query(
                "SELECT evidence FROM alert_events WHERE alert_id = %s AND kind = 'fired'",
                REVISED,
            ),
        )
    detail = evidence["detail"]
    assert (detail["previous"]["status"], detail["previous"]["value"]) == ("exceedance", 100.0)
    assert (detail["revised"]["status"], detail["revised"]["value"]) == ("compliant", 5.0)
    assert detail["cause"] == "resent" and detail["resent_values"] == 5
    told = query(
        "SELECT s.audience FROM notification_outbox o JOIN alert_subscriptions s"
        " USING (subscription_id) WHERE o.alert_id = %s AND o.kind = 'opened'",
        REVISED,
    )
    assert sorted(a for (a,) in told) == ["enterprise", "regulator"]
