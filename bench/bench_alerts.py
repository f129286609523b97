"""Alert engine: verdicts/s through the pure core, verdicts/s through the real service
(Kafka → ``greenwatch alerts run`` → PostgreSQL), and the latency verdict → notice enqueued.

Workload: a synthetic province of ``ENTERPRISES`` enterprises, one flue-gas outlet each, three
factors (SO2, NOx, PM) judged hourly; each outlet-factor has one exceedance episode of 1–4 hours
and a few warning hours among compliant ones (about 10% of verdicts are not compliant, so
alerts open, escalate and resolve). Every enterprise has one webhook subscription.

1. Core: the same verdicts through ``alerts.engine.Batch`` (rules, machine, routing, Chinese
   messages) in batches of 500 with the records carried over, one core, no I/O.
2. Service: the verdicts pre-produced on a fresh topic (4 partitions), then the real service
   process (``--no-notify``: the figure is the engine's, not SMTP's) drains them into a fresh
   schema; rate = offsets committed after the first commit / time from the first commit to the
   last (Kafka poll + decode + one transaction per batch + commit, end to end).
3. Latency: with the service idle, ``LATENCY_RATE`` verdicts/s for ``LATENCY_S`` s on fresh
   outlets, one in three an exceedance opening a new episode; for each, time from the producer's
   send to the outbox row's
   ``enqueued_at`` (its insert, just before the commit). p50/p99/max.

Needs the local stack (``greenwatch stack up``). The machine is shared: figures vary.
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import yaml
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError
from psycopg import sql
from psycopg.conninfo import make_conninfo

from alerts.engine import Batch, World
from alerts.model import AlertRecord
from alerts.routing import Audience, Subscription
from bench.db import service_db_env
from bench.kafka import bench_kafka, service_env
from deploy.migrate import migrate
from deploy.timescaledb import drop_schema
from runtime.kafka_access import Principal, kafka_access
from runtime.registry_store import store_registry
from runtime.settings import Settings, database_dsn
from schemas.alert import AlertLevel
from schemas.measurement import PeriodKind
from schemas.registry import Registry, hash_password, parse_registry
from schemas.topics import Topic, topic_name
from schemas.verdict import Rule, Verdict, VerdictStatus

ENTERPRISES = int(os.environ.get("BENCH_ALERTS_ENTERPRISES", "300"))
HOURS = int(os.environ.get("BENCH_ALERTS_HOURS", "24"))
LATENCY_RATE = int(os.environ.get("BENCH_ALERTS_LATENCY_RATE", "500"))
LATENCY_S = float(os.environ.get("BENCH_ALERTS_LATENCY_S", "6"))
FACTORS = {"a21026": 35.0, "a21002": 50.0, "a34013": 10.0}
T0 = datetime(2026, 3, 2, tzinfo=UTC)
GREENWATCH = Path(sys.executable).parent / "greenwatch"


def bench_registry(enterprises: int) -> dict[str, Any]:
    return {
        "version": "bench-alerts-1",
        "region": {"code": "520000", "name": "bench"},
        "enterprises": [
            {
                "id": f"E{i:05d}",
                "name": f"基准企业{i}",
                "region_code": "520100",
                "industry_code": "4411",
                "outlets": [
                    {
                        "id": f"E{i:05d}-G1",
                        "name": "1号烟囱",
                        "medium": "gas",
                        "standard": "ULE-coal-power",
                        "devices": [
                            {
                                "mn": f"MN{i:05d}",
                                "password_sha256": hash_password(f"MN{i:05d}", "x"),
                            }
                        ],
                    }
                ],
            }
            for i in range(enterprises)
        ],
    }


def workload(enterprises: range, hours: int, seed: int = 7) -> list[Verdict]:
    """Hour by hour, every outlet-factor: one 1–4 h exceedance episode, ~5% warnings."""
    rng = random.Random(seed)
    plan = {}
    for i in enterprises:
        for factor in FACTORS:
            start = rng.randrange(hours)
            plan[(i, factor)] = range(start, start + rng.randint(1, 4))
    verdicts = []
    for hour in range(hours):
        for (i, factor), episode in plan.items():
            status = VerdictStatus.EXCEEDANCE if hour in episode else VerdictStatus.COMPLIANT
            if status is VerdictStatus.COMPLIANT and rng.random() < 0.05:
                status = VerdictStatus.WARNING
            verdicts.append(_verdict(i, factor, hour, status, {}))
    return verdicts


def _verdict(
    i: int, factor: str, hour: int, status: VerdictStatus, evidence: dict[str, Any]
) -> Verdict:
    limit = FACTORS[factor]
    ratio = {VerdictStatus.EXCEEDANCE: 1.4, VerdictStatus.WARNING: 0.9}.get(status, 0.4)
    return Verdict(
        enterprise_id=f"E{i:05d}", outlet_id=f"E{i:05d}-G1", factor=factor,
        rule=Rule.HOURLY_CONCENTRATION, period=PeriodKind.HOUR,
        period_start=T0 + timedelta(hours=hour), value=ratio * limit, limit=limit, ratio=ratio,
        status=status, standard="ULE-coal-power",
        evidence={"valid_minutes": 60, **evidence}, registry_version="bench-alerts-1",
    )  # fmt: skip


def core_rate(registry: Registry, verdicts: list[Verdict]) -> tuple[float, int, int]:
    subs = tuple(
        Subscription(n, e.id, Audience.ENTERPRISE, f"json://127.0.0.1:9/{e.id}", AlertLevel.WARNING)
        for n, e in enumerate(registry.enterprises)
    )
    world = World(registry, subscriptions=subs)
    records: dict[str, AlertRecord] = {}
    events = notices = 0
    started = time.perf_counter()
    for index in range(0, len(verdicts), 500):
        batch = Batch(world, records, T0 + timedelta(days=2, seconds=index))
        for item in verdicts[index : index + 500]:
            batch.verdict(item)
        records = batch.records
        events += len(batch.events)
        notices += len(batch.outbox)
    return len(verdicts) / (time.perf_counter() - started), events, notices


@contextlib.contextmanager
def fresh_schema(dsn: str) -> Iterator[str]:
    name = f"bench_alerts_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(dsn, options=f"-c search_path={name},public")
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            drop_schema(conn, name)


def _produce(producer: KafkaProducer, topic: str, verdicts: list[Verdict]) -> None:
    for item in verdicts:
        producer.send(topic, key=item.outlet_id.encode(), value=item.model_dump_json().encode())
    producer.flush(timeout=60)


def _committed(admin: KafkaAdminClient, group: str) -> int:
    """Offsets the group has committed, summed over partitions (0 before its first commit)."""
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    except KafkaError:
        return 0
    return sum(max(meta.offset, 0) for meta in offsets.values())


def _drain(admin: KafkaAdminClient, group: str, total: int, timeout_s: float) -> float:
    """Wait until ``total`` offsets are committed; the rate (offsets/s) between the first
    commit and the last (the first batch, which includes joining the group, is left out)."""
    first_at, first_done, seen = 0.0, 0, 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = _committed(admin, group)
        now = time.monotonic()
        if done > seen and not first_at:
            first_at, first_done = now, done
        seen = done
        if done >= total:
            return (total - first_done) / max(now - first_at, 1e-3) if total > first_done else 0.0
        time.sleep(0.02)
    raise TimeoutError(f"service committed {seen} of {total} offsets in {timeout_s:.0f} s")


def _start_service(settings: dict[str, str], group: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings}
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(GREENWATCH), "alerts", "run", "--group", group, "--no-notify",
             "--tick-seconds", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip


def _latency_plan(first: int, pool: int, count: int) -> list[tuple[int, int, VerdictStatus]]:
    """Rounds over ``pool`` fresh outlets: an exceedance (a new episode), then two compliant
    hours (it resolves), so every exceedance opens an alert and enqueues its notice."""
    plan: list[tuple[int, int, VerdictStatus]] = []
    hour = HOURS + 10
    while len(plan) < count:
        for status in (VerdictStatus.EXCEEDANCE, VerdictStatus.COMPLIANT, VerdictStatus.COMPLIANT):
            plan += [(first + j, hour, status) for j in range(pool)]
            hour += 1
    return plan[:count]


def _latency(producer: KafkaProducer, topic: str, dsn: str, first_enterprise: int) -> list[float]:
    plan = _latency_plan(first_enterprise, ENTERPRISES, int(LATENCY_RATE * LATENCY_S))
    started = time.perf_counter()
    for n, (i, hour, status) in enumerate(plan):
        item = _verdict(i, "a21026", hour, status, {"bench_sent_at": time.time()})
        producer.send(topic, key=item.outlet_id.encode(), value=item.model_dump_json().encode())
        time.sleep(max(0.0, started + (n + 1) / LATENCY_RATE - time.perf_counter()))
    producer.flush(timeout=60)
    wanted = sum(status is VerdictStatus.EXCEEDANCE for _, _, status in plan)
    deadline = time.monotonic() + 60
    query = (
        "SELECT extract(epoch FROM o.enqueued_at)"
        " - (e.evidence->'verdict_evidence'->>'bench_sent_at')::float"
        " FROM alert_events e JOIN notification_outbox o ON o.alert_id = e.alert_id"
        " AND o.episode = e.episode AND o.kind = 'opened'"
        " WHERE e.kind = 'fired' AND e.evidence->'verdict_evidence' ? 'bench_sent_at'"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute(query).fetchall()
            if len(rows) >= wanted:
                return sorted(float(r[0]) for r in rows)
            time.sleep(0.2)
    raise TimeoutError(f"only {len(rows)} of {wanted} exceedances reached the outbox")


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def run() -> list[str]:
    settings = Settings()
    dsn = database_dsn(settings)
    document = bench_registry(ENTERPRISES * 2)
    registry = parse_registry(document)
    verdicts = workload(range(ENTERPRISES), HOURS)
    rate, events, notices = core_rate(registry, verdicts)
    lines = [
        f"core: {rate:,.0f} verdicts/s ({len(verdicts):,} verdicts, {events:,} events,"
        f" {notices:,} notices; rules + machine + routing + messages, 1 thread, no I/O)"
    ]
    try:
        lines += _service_figures(settings, dsn, document, registry, verdicts)
    except (OSError, psycopg.OperationalError, TimeoutError) as error:
        lines.append(f"service: not measured ({error}); run `greenwatch stack up` first")
    return lines


def _prepare(schema_dsn: str, tmp: Path, document: dict[str, Any], registry: Registry) -> Path:
    """Migrate the schema, store the registry, subscribe every enterprise; the registry file."""
    registry_file = tmp / "registry.yaml"
    registry_file.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    with psycopg.connect(schema_dsn, autocommit=True) as conn:
        migrate(conn)
        store_registry(conn, registry)
        for e in registry.enterprises:
            conn.execute(
                "INSERT INTO alert_subscriptions (enterprise_id, audience, channel,"
                " min_level, created_by) VALUES (%s, 'enterprise', %s, 1, 'bench')",
                (e.id, f"json://127.0.0.1:9/{e.id}"),
            )
    return registry_file


def _service_figures(
    settings: Settings,
    dsn: str,
    document: dict[str, Any],
    registry: Registry,
    verdicts: list[Verdict],
) -> list[str]:
    prefix = f"bench.{uuid.uuid4().hex[:8]}"
    group = f"{prefix}-alerts"  # a group name the alerts principal may use (runtime.kafka_acls)
    kafka = kafka_access(settings, Principal.ADMIN)
    topics = [
        topic_name(prefix, t)
        for t in (Topic.VERDICTS, Topic.QUALITY, Topic.DEADLETTER, Topic.ALERT_EVENTS)
    ]
    admin = KafkaAdminClient(**kafka.client_config(), client_id="bench-alerts")
    producer = KafkaProducer(**kafka.client_config(), acks="all", linger_ms=5)
    admin.create_topics([NewTopic(name, 4, 1) for name in topics])
    bench_kafka(settings, prefix)  # the other topics, and the ACLs
    service: subprocess.Popen[bytes] | None = None
    try:
        with fresh_schema(dsn) as schema_dsn, tempfile.TemporaryDirectory() as tmp:
            registry_file = _prepare(schema_dsn, Path(tmp), document, registry)
            _produce(producer, topics[0], verdicts)
            service = _start_service(
                {
                    **service_env(settings, Principal.ALERTS),
                    **service_db_env(settings, schema_dsn),  # its own role, gw_alerts
                    "GREENWATCH_TOPIC_PREFIX": prefix,
                    "GREENWATCH_REGISTRY_FILE": str(registry_file),
                },
                group,
                Path(tmp) / "alerts.log",
            )
            try:
                rate = _drain(admin, group, len(verdicts), timeout_s=300)
            except TimeoutError:
                log_tail = (Path(tmp) / "alerts.log").read_text("utf-8", "replace")[-2000:]
                raise TimeoutError(f"service did not drain; its log ends:\n{log_tail}") from None
            latencies = _latency(producer, topics[0], schema_dsn, ENTERPRISES)
            with psycopg.connect(schema_dsn, autocommit=True) as conn:
                stored = conn.execute("SELECT count(*) FROM alert_events").fetchone()
    finally:
        if service is not None:
            service.terminate()
            service.wait(20)
        producer.close(timeout=5)
        with contextlib.suppress(Exception):
            admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix + ".")])
        admin.close()
    ms = [1000 * v for v in latencies]
    return [
        f"service: {rate:,.0f} verdicts/s drained by one `alerts run` process"
        f" ({len(verdicts):,} verdicts, 4 partitions,"
        f" {stored[0] if stored else 0:,} events stored)",
        f"verdict → notice enqueued at {LATENCY_RATE}/s: p50 {statistics.median(ms):.0f} ms,"
        f" p99 {_quantile(ms, 0.99):.0f} ms, max {ms[-1]:.0f} ms ({len(ms)} exceedances)",
    ]
