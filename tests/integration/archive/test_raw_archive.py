"""Issue 13, item 1, against the local stack's real broker: the raw topics' retention is the
setting, and ``greenwatch archive raw`` copies the raw record (bytes, headers, partition,
offset, timestamp) to day files as the ``archiver`` principal, resumes where it stopped, and
``archive verify`` names a file that was changed."""

from __future__ import annotations

import dataclasses
import gzip
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from typer.testing import CliRunner

from deploy.archive_manifest import load_manifest, read_file, save_manifest
from deploy.kafka_provision import provision
from greenwatch.cli import app
from runtime.kafka_access import Principal, kafka_access
from runtime.raw_retention import DAY_MS, raw_retention
from runtime.settings import Settings
from schemas.topics import Topic, topic_name

pytestmark = pytest.mark.timeout(300)

# 2026-03-01 15:30 UTC is 23:30 China time: the records span two China days
T0 = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def local(services: Any) -> Settings:
    if services.origin != "local":
        pytest.skip("the archiver principal's password is the local stack's")
    settings: Settings = services.settings
    return settings.model_copy(
        update={"kafka_username": None, "kafka_password": None, "raw_topic_retention_days": 400}
    )


@pytest.fixture(scope="module")
def prefix(local: Settings, services: Any) -> Iterator[str]:
    name = f"arc{uuid.uuid4().hex[:10]}"
    provision(local, name)  # as `stack up` does: users, topics (with the retention), ACLs
    yield name
    admin = KafkaAdminClient(**services.kafka.client_config())
    try:
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(f"{name}.")])
    finally:
        admin.close()


def _frames(services: Any, topic: str, first: int, count: int) -> list[bytes]:
    producer = KafkaProducer(**services.kafka.client_config(), acks="all")
    frames = []
    try:
        for index in range(first, first + count):
            frame = f"##0101QN={index:04d};ST=22;CN=2051;MN=ARC{index % 3}&&abcd\r\n".encode()
            at = T0 + timedelta(minutes=20 * index)
            headers = [("gw.schema_version", b"2"), ("gw.device_id", f"ARC{index % 3}".encode())]
            producer.send(
                topic,
                key=f"ARC{index % 3}".encode(),
                value=frame,
                headers=headers,
                timestamp_ms=int(at.timestamp() * 1000),
            ).get(timeout=15)
            frames.append(frame)
        producer.flush()
    finally:
        producer.close(timeout=5)
    return frames


def _archive(local: Settings, prefix: str, out: Path) -> Any:
    args = ["archive", "raw", "--out", str(out), "--prefix", prefix, "--topic", "hj212"]
    return CliRunner().invoke(app, args, obj=local)


def test_the_raw_topics_retention_is_the_setting(local: Settings, prefix: str) -> None:
    held = raw_retention(kafka_access(local, Principal.ADMIN), prefix)
    assert held == {
        topic_name(prefix, Topic.RAW_HJ212): 400 * DAY_MS,
        topic_name(prefix, Topic.RAW_ENERGY): 400 * DAY_MS,
    }
    shorter = local.model_copy(update={"raw_topic_retention_days": 30})
    result = CliRunner().invoke(app, ["archive", "retention", "--prefix", prefix], obj=shorter)
    assert result.exit_code == 0, result.output
    assert "differs from the setting" in result.output  # the broker still has 400 days
    result = CliRunner().invoke(
        app, ["archive", "retention", "--apply", "--prefix", prefix], obj=shorter
    )
    assert result.exit_code == 0, result.output
    assert "retention.ms=2592000000 (30 days)" in result.output
    assert "differs" not in result.output


def test_archive_verify_resume_and_tamper(
    local: Settings, prefix: str, services: Any, tmp_path: Path
) -> None:
    topic = topic_name(prefix, Topic.RAW_HJ212)
    sent = _frames(services, topic, 0, 6)
    out = tmp_path / "archive"
    result = _archive(local, prefix, out)
    assert result.exit_code == 0, result.output
    assert "archived 6 records" in result.output
    manifest = load_manifest(out)
    days = {f.day for f in manifest.files}
    assert days == {"2026-03-01", "2026-03-02"}  # China days of the record time stamps
    archived = [r for f in manifest.files for r in read_file(out / f.path)]
    assert sorted(r.value for r in archived if r.value) == sorted(sent)
    one = next(r for r in archived if r.value == sent[0])
    assert one.key == b"ARC0" and ("gw.device_id", b"ARC0") in one.headers
    assert one.timestamp_ms == int(T0.timestamp() * 1000)

    more = _frames(services, topic, 6, 4)  # a second run archives only what is new
    result = _archive(local, prefix, out)
    assert result.exit_code == 0, result.output
    assert "archived 4 records" in result.output
    manifest = load_manifest(out)
    offsets = [(r.partition, r.offset) for f in manifest.files for r in read_file(out / f.path)]
    assert len(offsets) == len(set(offsets)) == 10
    values = {r.value for f in manifest.files for r in read_file(out / f.path)}
    assert values == set(sent + more)

    verified = CliRunner().invoke(app, ["archive", "verify", str(out)], obj=local)
    assert verified.exit_code == 0, verified.output
    assert "ok: " in verified.output and "10 records" in verified.output

    victim = manifest.files[0]
    path = out / victim.path
    records = read_file(path)  # one frame rewritten: 5.0 where the device sent its value
    forged = [dataclasses.replace(records[0], value=b"##0101QN=0000;ST=22;CN=2051;a21026-Avg=5.0")]
    text = "".join(r.as_line() + "\n" for r in forged + records[1:]).encode()
    path.write_bytes(gzip.compress(text, mtime=0))
    tampered = CliRunner().invoke(app, ["archive", "verify", str(out)], obj=local)
    assert tampered.exit_code == 2
    assert victim.path in tampered.output and "sha256" in tampered.output
    assert "Traceback" not in tampered.output


def test_verify_of_a_directory_without_manifest_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["archive", "verify", str(tmp_path)], obj=Settings())
    assert result.exit_code == 2
    assert "no manifest" in result.output


def test_records_deleted_before_they_were_archived_are_reported_as_a_gap(
    local: Settings, prefix: str, services: Any, tmp_path: Path
) -> None:
    topic = topic_name(prefix, Topic.RAW_ENERGY)  # its own topic: offsets of this test only
    producer = KafkaProducer(**services.kafka.client_config(), acks="all")
    try:
        for index in range(6):
            producer.send(topic, value=f"item {index}".encode(), partition=0).get(timeout=15)
    finally:
        producer.close(timeout=5)
    out = tmp_path / "archive"
    args = ["archive", "raw", "--out", str(out), "--prefix", prefix, "--topic", "energy"]
    manifest_path = out / "manifest.json"
    first = CliRunner().invoke(app, args, obj=local)
    assert first.exit_code == 0 and "archived 6 records" in first.output, first.output
    manifest = load_manifest(out)
    manifest.next_offsets[topic]["0"] = 2  # as if the last run had stopped after offset 1
    manifest.files = [f for f in manifest.files if f.partition != 0]
    save_manifest(out, manifest)
    for path in out.rglob("p0-*.jsonl.gz"):
        path.unlink()
    admin = KafkaAdminClient(**services.kafka.client_config())
    try:  # retention (here: by hand) deletes offsets 0–3 before the next run
        admin.delete_records({TopicPartition(topic, 0): 4})
    finally:
        admin.close()
    second = CliRunner().invoke(app, args, obj=local)
    assert second.exit_code == 0, second.output
    assert f"{topic}[0] offsets 2..3 were deleted by retention" in second.output
    assert "archived 2 records" in second.output  # offsets 4 and 5
    assert load_manifest(out).gaps == [{"topic": topic, "partition": 0, "from": 2, "to": 3}]
    verified = CliRunner().invoke(app, ["archive", "verify", str(out)], obj=local)
    assert verified.exit_code == 0 and f"gap: {topic}[0] offsets 2..3" in verified.output
    assert manifest_path.exists()
