"""Smoke path of the whole pipeline on the real services: HJ 212 frames in RawEnvelopes on the
raw topic → ``greenwatch worker`` (a real process) → rows in PostgreSQL; a garbage frame ends
in the dead-letter topic and table while the good frames are stored, and the gateway's dead
letters (and junk on the dead-letter topic) reach the table too, each once."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from child_process import child_process
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from psycopg import sql
from services import kafka_config

from deploy.migrate import migrate
from ingest.hj212 import CHINA_TZ, encode, redact_password
from runtime.raw_record import encode_raw
from runtime.registry_store import store_registry
from schemas.envelope import DeadLetter, Protocol, RawEnvelope
from schemas.registry import load_registry
from schemas.topics import Topic, topic_name
from streams.worker import ensure_topics

REGISTRY = Path(__file__).parents[2] / "schemas" / "examples" / "demo-province.yaml"
GREENWATCH = Path(sys.executable).parent / "greenwatch"
DEVICES = ("DEMO-TP01-G1", "DEMO-CM01-K1")
START = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_TZ)
MINUTES = 5
FACTORS = {"a21026": 20.0, "a21002": 30.0, "a19001": 8.0}  # SO2, NOx mg/m³; O2 %


GATEWAY_LETTER = DeadLetter(
    source="gateway.hj212",
    reason="auth_bad_password",
    message="wrong PW for MN DEMO-TP01-G1",
    peer="127.0.0.1:40001",
    device_id="DEMO-TP01-G1",
    received_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
    payload=b"##0050QN=1;ST=31;CN=2051;PW=wrong;MN=DEMO-TP01-G1;CP=&&&&ABCD\r\n",
)
"""What the gateway puts on the dead-letter topic: the worker stores it in the table."""


def minute_frame(mn: str, at: datetime) -> bytes:
    values: dict[str, dict[str, float | str]] = {
        f: {"Avg": v, "Min": v - 1, "Max": v + 1, "Flag": "N"} for f, v in FACTORS.items()
    }
    frame = encode(st="31", cn="2051", mn=mn, pw="123456", flag=5, data_time=at, values=values)
    return frame.encode()


def envelope(mn: str, payload: bytes) -> bytes:
    raw = RawEnvelope(
        protocol=Protocol.HJ212,
        device_id=mn,
        peer="127.0.0.1:40000",
        received_at=datetime.now(UTC),
        payload=payload,
    )
    return raw.model_dump_json().encode()


def wait_for(
    what: str,
    check: Callable[[], bool],
    process: subprocess.Popen[bytes],
    deadline_s: float,
    log: Path,
) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and process.poll() is None:
        if check():
            return
        time.sleep(0.3)
    tail = log.read_text("utf-8", errors="replace")[-4000:] if log.exists() else ""
    exited = process.poll()
    state = f"worker exited ({exited})" if exited is not None else f"timed out ({deadline_s}s)"
    pytest.fail(f"{state} waiting for {what}; worker log:\n{tail}")


def worker_process(env: dict[str, str], log: Path) -> Any:
    args = [str(GREENWATCH), "worker", "--batch-within", "0.2", "--tick-interval", "1"]
    return child_process(args, env, log)


def _worker_env(services: Any, dsn: str, topic_prefix: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GREENWATCH_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "GREENWATCH_DATABASE_URL": dsn,
        "GREENWATCH_TOPIC_PREFIX": topic_prefix,
        "GREENWATCH_REGISTRY_FILE": str(REGISTRY),
        "GREENWATCH_STATE_DIR": str(tmp_path / "state"),
    }


def _counter(db_conn: psycopg.Connection[Any]) -> Callable[[str], int]:
    def count(table: str) -> int:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        row = db_conn.execute(query).fetchone()
        return int(row[0]) if row else 0

    return count


@pytest.fixture
def topic_prefix(services: Any) -> Iterator[str]:
    prefix = f"smoke{uuid.uuid4().hex[:10]}"
    yield prefix
    admin = KafkaAdminClient(**services.kafka.client_config())
    with contextlib.suppress(Exception):
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(f"{prefix}.")])
    admin.close()


def test_frames_become_rows_and_garbage_becomes_a_dead_letter(
    services: Any,
    pg_schema: Any,
    db_conn: psycopg.Connection[Any],
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    migrate(db_conn)
    store_registry(db_conn, load_registry(REGISTRY))
    ensure_topics(services.kafka, topic_prefix)
    good = minute_frame("DEMO-TP01-G1", START + timedelta(minutes=MINUTES))
    garbage = good[:-6] + (b"0000" if good[-6:-2] != b"0000" else b"FFFF") + b"\r\n"
    producer = KafkaProducer(**services.kafka.client_config(), acks="all")
    raw_topic = topic_name(topic_prefix, Topic.RAW_HJ212)
    for minute in range(MINUTES):
        for mn in DEVICES:
            frame = minute_frame(mn, START + timedelta(minutes=minute))
            producer.send(raw_topic, key=mn.encode(), value=envelope(mn, frame))
    producer.send(raw_topic, key=b"DEMO-TP01-G1", value=envelope("DEMO-TP01-G1", garbage))
    dead_topic = topic_name(topic_prefix, Topic.DEADLETTER)
    producer.send(dead_topic, value=GATEWAY_LETTER.model_dump_json().encode())
    producer.send(dead_topic, value=b"not a dead letter")
    producer.flush(timeout=30)
    producer.close()

    expected = len(DEVICES) * MINUTES * len(FACTORS)
    env = _worker_env(services, pg_schema.dsn, topic_prefix, tmp_path)
    count = _counter(db_conn)
    log = tmp_path / "worker.log"
    with worker_process(env, log) as process:
        wait_for(
            f"{expected} measurements and 3 dead letters",
            lambda: count("measurements") >= expected and count("dead_letters") >= 3,
            process,
            deadline_s=90,
            log=log,
        )

    stored = db_conn.execute(
        "SELECT device_id, factor, period, min(period_start), max(period_start), count(*),"
        " min(avg), max(avg) FROM measurements GROUP BY 1, 2, 3 ORDER BY 1, 2"
    ).fetchall()
    assert [row[:3] for row in stored] == [
        (mn, factor, "minute") for mn in sorted(DEVICES) for factor in sorted(FACTORS)
    ]
    for row in stored:
        assert (row[3], row[4], row[5]) == (START, START + timedelta(minutes=MINUTES - 1), MINUTES)
        assert row[6] == row[7] == FACTORS[row[1]]
    letters = db_conn.execute(
        "SELECT source, reason, payload, device_id FROM dead_letters ORDER BY reason"
    ).fetchall()
    assert letters == [
        ("gateway.hj212", "auth_bad_password", GATEWAY_LETTER.payload, "DEMO-TP01-G1"),
        ("streams.hj212", "bad_crc", redact_password(garbage), "DEMO-TP01-G1"),
        ("streams.hj212", "invalid_dead_letter", b"not a dead letter", None),
    ]
    assert dead_letter_topic(services.kafka_bootstrap, topic_prefix) == [
        ("bad_crc", redact_password(garbage))
    ]


def dead_letter_topic(bootstrap: str, prefix: str) -> list[tuple[str, bytes]]:
    consumer = KafkaConsumer(
        topic_name(prefix, Topic.DEADLETTER),
        **kafka_config(bootstrap),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    try:
        values = [m.value for m in consumer if m.value.startswith(b"{")]
    finally:
        consumer.close()
    letters = [DeadLetter.model_validate(json.loads(value)) for value in values]
    return [
        (letter.reason, letter.payload) for letter in letters if letter.source != "gateway.hj212"
    ]


def test_both_raw_record_versions_become_the_same_rows(
    services: Any,
    pg_schema: Any,
    db_conn: psycopg.Connection[Any],
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    """A raw topic written first by an older gateway (version 1: JSON envelopes), then by the
    current one (version 2: frame as value, envelope as headers), read by one real worker: every
    frame of both becomes its rows; a version-2 record with a broken header is a dead letter
    with its bytes and the header named."""
    migrate(db_conn)
    ensure_topics(services.kafka, topic_prefix)
    producer = KafkaProducer(**kafka_config(services.kafka_bootstrap), acks="all")
    raw_topic = topic_name(topic_prefix, Topic.RAW_HJ212)
    received = datetime.now(UTC)
    for minute in range(MINUTES):
        for mn in DEVICES:
            frame = minute_frame(mn, START + timedelta(minutes=minute))
            if minute < 2:  # before the upgrade
                producer.send(raw_topic, key=mn.encode(), value=envelope(mn, frame))
                continue
            value, headers = encode_raw(Protocol.HJ212, mn, "127.0.0.1:40000", received, frame)
            producer.send(raw_topic, key=mn.encode(), value=value, headers=list(headers))
    late = minute_frame(DEVICES[0], START + timedelta(minutes=MINUTES))
    _, headers = encode_raw(Protocol.HJ212, DEVICES[0], "127.0.0.1:40000", received, late)
    broken = [(k, v) for k, v in headers if k != "gw.received_at"]
    producer.send(raw_topic, key=DEVICES[0].encode(), value=late, headers=broken)
    producer.flush(timeout=30)
    producer.close()

    expected = len(DEVICES) * MINUTES * len(FACTORS)
    env = _worker_env(services, pg_schema.dsn, topic_prefix, tmp_path)
    count = _counter(db_conn)
    log = tmp_path / "worker.log"
    with worker_process(env, log) as process:
        wait_for(
            f"{expected} measurements and 1 dead letter",
            lambda: count("measurements") >= expected and count("dead_letters") >= 1,
            process,
            deadline_s=90,
            log=log,
        )
    stored = db_conn.execute(
        "SELECT device_id, count(*), count(DISTINCT period_start), min(period_start),"
        " max(period_start), bool_and(received_at IS NOT NULL) FROM measurements GROUP BY 1"
        " ORDER BY 1"
    ).fetchall()
    last = START + timedelta(minutes=MINUTES - 1)
    assert stored == [
        (mn, MINUTES * len(FACTORS), MINUTES, START, last, True) for mn in sorted(DEVICES)
    ]
    letters = db_conn.execute(
        "SELECT source, reason, payload, message FROM dead_letters"
    ).fetchall()
    assert [row[:3] for row in letters] == [
        ("streams.hj212", "bad_envelope", redact_password(late))
    ]
    assert "gw.received_at" in letters[0][3]
