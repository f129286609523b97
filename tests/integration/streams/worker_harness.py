"""Run real ``greenwatch worker`` processes against the real Kafka and PostgreSQL.

A ``StreamStack`` is one isolated deployment: its own topic prefix (hence consumer group),
its own migrated schema and registry file. Workers are subprocesses (so they can be killed
with SIGKILL); every wait has a deadline and a failure shows the workers' logs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition
from psycopg.rows import dict_row
from services import as_service_role, kafka_config

from ingest.hj212 import decode
from schemas.envelope import RawEnvelope
from schemas.measurement import AggregateValue
from schemas.registry import Registry, load_registry
from schemas.topics import Topic, topic_name
from schemas.verdict import Verdict
from streams.domain.normalize import normalize_packet

GREENWATCH = Path(sys.executable).parent / "greenwatch"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class WorkerProcess:
    """One ``greenwatch worker`` subprocess, its log file and its metrics port."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    def metric(self, name: str) -> float:
        """Sum of the samples of one Prometheus metric the worker serves (-1: not serving)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return -1.0
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and (line[len(name)] in " {")
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def tail(self, chars: int = 3000) -> str:
        text = self.log.read_text("utf-8", errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log}) ---\n{text[-chars:]}"


@dataclass
class StreamStack:
    """One isolated deployment on the shared services (topic prefix, schema, registry)."""

    bootstrap: str
    dsn: str
    prefix: str
    registry: Path
    workdir: Path
    direct_dsn: str
    """The schema without any proxy in between (what the test reads with)."""
    workers: list[WorkerProcess] = field(default_factory=list)
    follow_registry_topic: bool = False
    """Start workers without a registry file: they follow ``<prefix>.registry``."""
    local_stack_state: Path | None = None
    """Start workers without GREENWATCH_DATABASE_URL, as on the local stack whose state dir
    this is: they connect as their own role (passwords there); the schema via PGOPTIONS."""

    @property
    def raw_topic(self) -> str:
        return topic_name(self.prefix, Topic.RAW_HJ212)

    @property
    def group(self) -> str:
        return f"{self.prefix}-streams"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "GREENWATCH_REGISTRY_FILE"}
        if not self.follow_registry_topic:
            env["GREENWATCH_REGISTRY_FILE"] = str(self.registry)
        env |= {
            "GREENWATCH_KAFKA_BOOTSTRAP": self.bootstrap,
            "GREENWATCH_DATABASE_URL": self.dsn,
            "GREENWATCH_TOPIC_PREFIX": self.prefix,
            "GREENWATCH_STATE_DIR": str(self.workdir / "state"),
        }
        if self.local_stack_state is not None:
            return as_service_role(env, self.local_stack_state, self.dsn)
        return env

    def load_registry(self, path: Path) -> str:
        """``greenwatch db load-registry PATH`` on this deployment (store, then publish to
        ``<prefix>.registry``) as a regulator runs it; its output. Fails the test if it fails."""
        done = subprocess.run([str(GREENWATCH), "db", "load-registry", str(path)],
                              env=self.env() | {"GREENWATCH_DATABASE_URL": self.direct_dsn},
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start_worker(self, *args: str) -> WorkerProcess:
        name = f"worker-{len(self.workers) + 1}"
        log = self.workdir / f"{name}.log"
        port = free_port()
        defaults = ["--batch-within", "0.2", "--commit-interval", "0.5", "--loglevel", "warning",
                    "--session-timeout", "6", "--metrics-port", str(port)]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(GREENWATCH), "worker", *defaults, *args],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(name, process, log, port)
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    def logs(self) -> str:
        return "\n".join(worker.tail() for worker in self.workers)

    def produce(self, messages: Iterable[tuple[bytes, bytes, int | None]]) -> int:
        """Send (key, value, partition or None for the key's) to the raw topic; wait for acks."""
        producer = KafkaProducer(**kafka_config(self.bootstrap), acks="all", linger_ms=5)
        sent = 0
        for key, value, partition in messages:
            producer.send(self.raw_topic, key=key, value=value, partition=partition)
            sent += 1
        producer.flush(timeout=60)
        producer.close()
        return sent

    def wait_for(self, what: str, check: Callable[[], bool], deadline_s: float) -> None:
        """Poll ``check`` until true; fail (with logs) at the deadline or if a worker died."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if check():
                return
            dead = [w.name for w in self.workers if not w.alive() and w.process.returncode != -9]
            if dead:
                pytest.fail(f"{dead} exited while waiting for {what}\n{self.logs()}")
            time.sleep(0.25)
        pytest.fail(f"timed out after {deadline_s}s waiting for {what}\n{self.logs()}")

    def committed_offsets(self) -> int:
        """Sum over the raw topic's partitions of the consumer group's committed offsets."""
        consumer = KafkaConsumer(**kafka_config(self.bootstrap), group_id=self.group,
                                 enable_auto_commit=False)  # fmt: skip
        try:
            partitions = consumer.partitions_for_topic(self.raw_topic) or set()
            total = 0
            for partition in partitions:
                offset = consumer.committed(TopicPartition(self.raw_topic, partition))
                total += offset or 0
            return total
        finally:
            consumer.close()

    def read_topic(self, topic: Topic, timeout_ms: int = 4000) -> list[Any]:
        """Every message of one of this stack's topics (value parsed as JSON)."""
        consumer = KafkaConsumer(
            topic_name(self.prefix, topic),
            **kafka_config(self.bootstrap),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=timeout_ms,
        )
        try:
            return [json.loads(message.value) for message in consumer]
        finally:
            consumer.close()

    def delete_topics(self) -> None:
        admin = KafkaAdminClient(**kafka_config(self.bootstrap))
        with contextlib.suppress(Exception):
            mine = [t for t in admin.list_topics() if t.startswith(f"{self.prefix}.")]
            if mine:
                admin.delete_topics(mine)
        admin.close()


def count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(psycopg.sql.SQL("SELECT count(*) FROM {}").format(
        psycopg.sql.Identifier(table))).fetchone()  # fmt: skip
    return int(row[0]) if row else 0


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, dict):
        return {k: _utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utc(v) for v in value]
    return value


@dataclass(frozen=True)
class Snapshot:
    """The rows a deployment's sink wrote, without write timestamps, in key order."""

    measurements: list[tuple[Any, ...]]
    aggregates: list[dict[str, Any]]
    verdicts: list[dict[str, Any]]
    dead_letters: list[tuple[Any, ...]]


def snapshot(dsn: str) -> Snapshot:
    with psycopg.connect(dsn) as conn:
        measurements = conn.execute(
            "SELECT device_id, factor, period, period_start, outlet_id, factor_as_sent, rtd,"
            " avg, min, max, cou, zs_rtd, zs_avg, flag, received_at, qn FROM measurements"
            " ORDER BY device_id, factor, period, period_start"
        ).fetchall()
        with conn.cursor(row_factory=dict_row) as cur:
            aggregates = cur.execute(
                "SELECT * FROM aggregates ORDER BY outlet_id, factor, period, period_start"
            ).fetchall()
            verdicts = cur.execute(
                "SELECT * FROM verdicts ORDER BY outlet_id, factor, rule, period_start"
            ).fetchall()
        dead_letters = conn.execute(
            "SELECT source, reason, payload, source_topic, source_partition, source_offset"
            " FROM dead_letters ORDER BY source_partition, source_offset"
        ).fetchall()
    for row in aggregates:
        row.pop("computed_at")
    for row in verdicts:
        row.pop("issued_at")
    return Snapshot(
        sorted(tuple(_utc(v) for v in row) for row in measurements),
        [_utc(row) for row in aggregates],
        [_utc(row) for row in verdicts],
        [(row[0], row[1], row[2], row[4], row[5]) for row in dead_letters],
    )


def expected_measurements(values: Iterable[bytes], registry: Registry) -> list[tuple[Any, ...]]:
    """The measurement rows the raw messages ``values`` must leave (last write of a key wins),
    in ``Snapshot.measurements`` form; messages that do not decode or normalize leave none."""
    rows: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for value in values:
        try:
            envelope = RawEnvelope.model_validate_json(value)
            if b"\x00" in envelope.payload:
                continue
            packet = decode(envelope.payload)
            measurements = normalize_packet(packet, envelope.received_at, registry)
        except Exception:  # poison: the worker dead-letters it
            continue
        for m in measurements:
            row = (m.device_id, m.factor, m.period.value, m.period_start, m.outlet_id,
                   m.factor_as_sent, m.rtd, m.avg, m.min, m.max, m.cou, m.zs_rtd, m.zs_avg,
                   m.flag, m.received_at, m.qn)  # fmt: skip
            rows[row[:4]] = tuple(_utc(v) for v in row)
    return [rows[key] for key in sorted(rows)]


OutputKey = tuple[str, str, str, str, datetime]


def _keyed(kind: str, model: AggregateValue | Verdict) -> tuple[OutputKey, dict[str, Any]]:
    detail = model.rule.value if isinstance(model, Verdict) else model.period.value
    key = (kind, model.outlet_id, model.factor, detail, model.period_start.astimezone(UTC))
    return key, _utc(model.model_dump())


def stored_outputs(dsn: str) -> dict[OutputKey, dict[str, Any]]:
    """Aggregates and verdicts the sink stored, keyed like the replay's lines."""
    found = snapshot(dsn)
    rows: dict[OutputKey, dict[str, Any]] = {}
    for row in found.aggregates:
        model = AggregateValue.model_validate(row)
        key, value = _keyed("hourly" if model.period == "hour" else "daily", model)
        rows[key] = value
    for row in found.verdicts:
        fields = {k: v for k, v in row.items() if k not in {"revision", "limit_value"}}
        key, value = _keyed(
            "verdict", Verdict.model_validate({**fields, "limit": row["limit_value"]})
        )
        rows[key] = value
    return rows


def replay_outputs(lines: Iterable[dict[str, Any]]) -> dict[OutputKey, dict[str, Any]]:
    """The replay's JSON lines (aggregates and verdicts; quality lines are left out), keyed
    like ``stored_outputs``."""
    rows: dict[OutputKey, dict[str, Any]] = {}
    for line in lines:
        fields = dict(line)
        kind = fields.pop("kind")
        if kind == "quality":
            continue
        model: AggregateValue | Verdict = (
            Verdict.model_validate(fields)
            if kind == "verdict"
            else AggregateValue.model_validate(fields)
        )
        key, value = _keyed(kind, model)
        rows[key] = value
    return rows


def differences(expected: dict[Any, Any], actual: dict[Any, Any], limit: int = 5) -> str:
    """A short human description of how two keyed results differ ('' when equal)."""
    missing = sorted(set(expected) - set(actual), key=repr)
    extra = sorted(set(actual) - set(expected), key=repr)
    changed = sorted((k for k in set(expected) & set(actual) if expected[k] != actual[k]), key=repr)
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing, e.g. {missing[:limit]}")
    if extra:
        parts.append(f"{len(extra)} unexpected, e.g. {extra[:limit]}")
    for key in changed[:limit]:
        diff = {f: (expected[key][f], actual[key].get(f)) for f in expected[key]
                if expected[key][f] != actual[key].get(f)}  # fmt: skip
        parts.append(f"{key}: expected/actual {diff}")
    if len(changed) > limit:
        parts.append(f"... {len(changed)} rows differ")
    return "\n".join(parts)


@contextlib.contextmanager
def running(stack: StreamStack) -> Iterator[StreamStack]:
    try:
        yield stack
    finally:
        stack.stop_all()


def replay_lines(registry: Path, input_bytes: bytes, *options: str) -> list[dict[str, Any]]:
    """What ``greenwatch replay [options]`` prints for ``input_bytes`` (HJ 212 lines), parsed."""
    done = subprocess.run(
        [str(GREENWATCH), "replay", "--registry", str(registry), "--input", "-", *options],
        input=input_bytes,
        capture_output=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def assert_stored_as_replayed(
    stack: StreamStack,
    values: Iterable[bytes],
    expected: dict[OutputKey, dict[str, Any]],
    frames: int,
    poison: list[str],
) -> None:
    """Wait until every measurement and dead letter is stored, then assert the stored outputs
    equal the replay's (``expected``), the measurements equal an independent decode of
    ``values`` and the dead letters are exactly ``poison`` (sorted reasons)."""
    with psycopg.connect(stack.direct_dsn, autocommit=True) as conn:
        stack.wait_for(
            "every measurement and dead letter",
            lambda: (
                count(conn, "measurements") == frames and count(conn, "dead_letters") == len(poison)
            ),
            deadline_s=90,
        )
    stack.wait_for("the stored outputs to equal the replay's",
                   lambda: stored_outputs(stack.direct_dsn) == expected, deadline_s=60)  # fmt: skip
    assert differences(expected, stored_outputs(stack.direct_dsn)) == ""
    stored = snapshot(stack.direct_dsn)
    assert stored.measurements == expected_measurements(values, load_registry(stack.registry))
    assert sorted(letter[1] for letter in stored.dead_letters) == poison
