"""What authentication and ACLs cost the pipeline (issue 11: at most 10 %), on one broker.

Setup: one private broker (the local stack's jars and config, data in a temporary directory,
stopped at the end) with two client listeners, and the local stack's PostgreSQL:

- ``A`` (baseline): a PLAINTEXT listener whose anonymous clients are super users — no login
  and no ACL lookup (``deploy.kafka_service.server_properties``'s ``baseline_port``, opened
  by nothing but this benchmark);
- ``B`` (secured): the SASL_PLAINTEXT listener of the local stack — each client logs in with
  SCRAM-SHA-512 as its own principal (producer ``gateway``, worker ``worker``) and every
  request is authorised by KRaft's ``StandardAuthorizer`` against the principals' ACLs
  (``runtime.kafka_acls``, provisioned as ``greenwatch stack up`` does).

Same broker, same JVM, same topic layout (a fresh prefix per round, the catalogue's topics,
the previous round's deleted), same data (``bench.pipeline_fleet``: ``DEVICES`` CEMS ×
``FRAMES_PER_DEVICE`` minute frames × 8 factors), a fresh migrated schema per round, the same
worker command; only the listener and the login differ. Rounds alternate A B B A A B …
(``BENCH_AUTHCOST_ROUNDS``, default 8, after one warm-up round per side that is printed but
not counted: the first round otherwise pays the broker's cold JIT), so a drift of the
machine's load falls on both sides alike; each adjacent pair (A, B) gives a ratio B / A, and
the cost is 1 − the median of those ratios (for CPU figures: the median − 1).

Per round: ``pipeline`` = measurements/s of one ``greenwatch worker`` (faust / aiokafka)
draining the backlog into PostgreSQL, from the first to the last committed row (its
``rows_written`` counter, as in ``bench.bench_pipeline``); ``CPU`` = the worker's and the
broker's CPU seconds (``/proc``) over the same interval per measurement — the figure a loaded
machine disturbs least (the broker's includes its background work, which grows with the
interval); ``producer`` = frames/s of a kafka-python producer (the gateway's client,
acks=all) writing the backlog. ``BENCH_AUTHCOST_STALE_PREFIXES=N`` first grants the ACLs of
N other prefixes, as a long-lived broker accumulates them. The machine is shared, so figures
vary between runs; nothing asserts a time.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final, Literal

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError

from bench import pipeline_fleet
from bench.bench_pipeline import (
    _delete_topics,
    _drain,
    _free_port,
    _schemas,
    _start_worker,
)
from bench.cpu_budget import cpu_seconds
from bench.db import unreachable
from bench.kafka import service_env
from bench.pipeline_fleet import Frame
from deploy import kafka_service
from deploy.kafka_provision import acl_bindings, bootstrap_admin, local_passwords, provision
from runtime.kafka_access import KafkaAccess, Principal, kafka_access
from runtime.settings import Settings, database_dsn
from schemas.registry import dump_registry
from schemas.topics import Topic, topic_name

ROUNDS: Final = int(os.environ.get("BENCH_AUTHCOST_ROUNDS", "8"))
STALE_PREFIXES: Final = int(os.environ.get("BENCH_AUTHCOST_STALE_PREFIXES", "0"))
"""ACLs of this many other prefixes made before the rounds (no topics): a long-lived broker
keeps those of every prefix it ever served, and the authorizer searches them all."""
ORDER: Final = "ABBA"
Side = Literal["A", "B"]
SIDE_NAMES: Final[dict[str, str]] = {
    "A": "PLAINTEXT, no login, no ACL (baseline)",
    "B": "SASL/SCRAM-SHA-512 + ACLs",
}


@dataclass(frozen=True, slots=True)
class Round:
    """One round's figures."""

    side: Side
    producer: float
    """frames/s written by the producer (send + flush)."""
    pipeline: float
    """measurements/s committed by the worker."""
    worker_us: float
    """the worker's CPU time (user + system) per measurement while it drained, µs."""
    broker_us: float
    """the broker's CPU time per measurement over the same interval, µs; it includes the
    broker's background work (timers, log cleaning, GC), which grows with the interval."""

    @property
    def cpu_us(self) -> float:
        """The pipeline's Kafka-side CPU per measurement: worker + broker, µs."""
        return self.worker_us + self.broker_us


@dataclass(slots=True)
class TwoListeners:
    """The private broker: the secured side's settings (its state dir holds the passwords)
    and the baseline listener's bootstrap."""

    secured: Settings
    baseline: str
    log_file: Path
    pid: int

    def refusals(self) -> int:
        """Requests the authorizer refused so far (its audit log's "Denied" lines): a client
        retrying something its ACLs do not allow would cost the secured side alone."""
        with self.log_file.open(encoding="utf-8", errors="replace") as log:
            return sum(" is Denied " in line for line in log)

    def producer(self, side: Side) -> KafkaAccess:
        if side == "A":
            return KafkaAccess(self.baseline)
        return kafka_access(self.secured, Principal.GATEWAY)

    def worker_env(self, side: Side) -> dict[str, str]:
        if side == "A":
            return {
                "GREENWATCH_KAFKA_BOOTSTRAP": self.baseline,
                "GREENWATCH_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
            }
        return service_env(self.secured, Principal.WORKER)


def run() -> list[str]:
    settings = Settings()
    dsn = database_dsn(settings)
    if missing := unreachable(dsn):
        return missing
    lines = [
        f"fleet: {pipeline_fleet.DEVICES} devices × {pipeline_fleet.FRAMES_PER_DEVICE} minute "
        f"frames × 8 factors per round; one broker, two listeners; {ROUNDS} rounds "
        f"({''.join(side_of(i) for i in range(ROUNDS))})",
        f"ACLs of {STALE_PREFIXES} other prefixes on the broker (BENCH_AUTHCOST_STALE_PREFIXES)",
        *(f"{side}: {name}" for side, name in SIDE_NAMES.items()),
    ]
    rounds: list[Round] = []
    with (
        tempfile.TemporaryDirectory(prefix="gw-authcost-") as tmp,
        _schemas(dsn) as schema,
        two_listeners(settings, Path(tmp) / "broker") as broker,
    ):
        stale_acls(broker, STALE_PREFIXES)
        registry_file = Path(tmp) / "registry.yaml"
        registry_file.write_text(dump_registry(pipeline_fleet.registry()), "utf-8")
        backlog = [
            pipeline_fleet.frame(mn, at, at + timedelta(seconds=3))
            for mn, at in pipeline_fleet.backlog_times()
        ]
        for side in ("A", "B"):  # the broker's JIT and caches warm on both paths first
            warm = _round(broker, side, schema, registry_file, backlog, Path(tmp) / f"w{side}")
            lines.append(describe(f"warm-up {side} (not counted)", warm))
        for index in range(ROUNDS):
            side = side_of(index)
            work = Path(tmp) / f"round{index}"
            result = _round(broker, side, schema, registry_file, backlog, work)
            rounds.append(result)
            lines.append(describe(f"round {index + 1} {side}", result))
        lines.append(f"authorizer refusals during the rounds: {broker.refusals()}")
    return [*lines, *summary(rounds)]


def describe(name: str, result: Round) -> str:
    return (
        f"{name}: pipeline {result.pipeline:,.0f} measurements/s; CPU µs/measurement "
        f"{result.cpu_us:.1f} (worker {result.worker_us:.1f}, broker {result.broker_us:.1f}); "
        f"producer {result.producer:,.0f} frames/s"
    )


def side_of(index: int) -> Side:
    """The side of round ``index``: A B B A A B B A …"""
    return "A" if ORDER[index % len(ORDER)] == "A" else "B"


def summary(rounds: list[Round]) -> list[str]:
    """Per adjacent pair the ratio secured / baseline, and the medians (the cost line)."""
    lines = []
    # (name, figure, unit, higher is better)
    figures: list[tuple[str, Callable[[Round], float], str, bool]] = [
        ("pipeline", lambda r: r.pipeline, "measurements/s", True),
        ("CPU", lambda r: r.cpu_us, "µs/measurement", False),
        ("worker CPU", lambda r: r.worker_us, "µs/measurement", False),
        ("broker CPU", lambda r: r.broker_us, "µs/measurement", False),
        ("producer", lambda r: r.producer, "frames/s", True),
    ]
    for name, figure, unit, higher in figures:
        ratios = pair_ratios(rounds, figure)
        if not ratios:
            continue
        median = statistics.median(ratios)
        cost = 1 - median if higher else median - 1
        baseline = statistics.median(figure(r) for r in rounds if r.side == "A")
        secured = statistics.median(figure(r) for r in rounds if r.side == "B")
        lines.append(
            f"{name}: B / A per pair {', '.join(f'{r:.2f}' for r in ratios)}; median ratio "
            f"{median:.3f} → authentication costs {cost:+.1%}; medians A {baseline:,.1f}, "
            f"B {secured:,.1f} {unit}"
        )
    return lines


def pair_ratios(rounds: list[Round], figure: Callable[[Round], float]) -> list[float]:
    """B / A of ``figure`` for each adjacent pair of rounds (1-2, 3-4, …; a lone last round
    is left out)."""
    ratios = []
    for first, second in zip(rounds[::2], rounds[1::2], strict=False):
        a, b = (first, second) if first.side == "A" else (second, first)
        if figure(a) > 0:
            ratios.append(figure(b) / figure(a))
    return ratios


def _round(
    broker: TwoListeners,
    side: Side,
    schema: Callable[[], str],
    registry_file: Path,
    backlog: list[Frame],
    work: Path,
) -> Round:
    prefix = f"auth{uuid.uuid4().hex[:8]}"
    provision(broker.secured, prefix)  # SCRAM users (idempotent), the topics and their ACLs
    admin = bootstrap_admin(broker.secured)
    try:
        producer = produce(broker.producer(side), prefix, backlog)
        worker_dsn = schema()
        port = _free_port()
        worker = _start_worker(broker.worker_env(side), worker_dsn, prefix, registry_file,
                               port, work)  # fmt: skip
        start: list[float] = []
        try:
            pipeline, rows, _ = _drain(
                [port], [worker], len(backlog) * 8,
                lambda: start.extend((cpu_seconds(worker.pid), cpu_seconds(broker.pid))),
            )  # fmt: skip
            worker_us = (cpu_seconds(worker.pid) - start[0]) / rows * 1e6
            broker_us = (cpu_seconds(broker.pid) - start[1]) / rows * 1e6
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    finally:
        _delete_topics(admin, prefix)
    return Round(side, producer, pipeline, worker_us, broker_us)


def stale_acls(broker: TwoListeners, prefixes: int) -> None:
    """The ACLs of ``prefixes`` other topic prefixes, as ``provision`` grants them."""
    admin = KafkaAdminClient(**bootstrap_admin(broker.secured).client_config())
    try:
        for _ in range(prefixes):
            admin.create_acls(acl_bindings(f"old{uuid.uuid4().hex[:8]}"))
    finally:
        admin.close()


def produce(access: KafkaAccess, prefix: str, frames: list[Frame]) -> float:
    """Write ``frames`` to the raw topic as ``access``; frames/s from the first send to the
    end of the flush. Waits (up to 30 s) until the topic's ACL reaches the authorizer first:
    the broker applies new ACLs from the metadata log a moment after ``create_acls``
    returns, and a record refused then would be lost. Raises ``RuntimeError`` when any
    record is refused, so a round never waits for rows that were never written."""
    producer = KafkaProducer(**access.client_config(), acks="all", linger_ms=20,
                             batch_size=256 * 1024)  # fmt: skip
    topic = topic_name(prefix, Topic.RAW_HJ212)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                producer.partitions_for(topic)
                break
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        started = time.perf_counter()
        sent = [
            producer.send(topic, key=f.mn.encode(), value=f.value, headers=list(f.headers))
            for f in frames
        ]
        producer.flush(timeout=120)
        seconds = time.perf_counter() - started
    finally:
        producer.close()
    refused = [future.exception for future in sent if future.failed()]
    if refused:
        raise RuntimeError(f"{len(refused)} of {len(frames)} records refused: {refused[0]!r}")
    return len(frames) / seconds


@contextlib.contextmanager
def two_listeners(settings: Settings, home: Path) -> Iterator[TwoListeners]:
    """A private broker with the secured listener and the baseline one, its SCRAM users
    made (passwords under ``home/secrets``); stopped on exit. Blocks until it answers
    (up to 90 s); raises ``TimeoutError`` when it does not, ``KafkaError`` from provisioning."""
    ports = (_free_port(), _free_port(), _free_port())
    secured = settings.model_copy(
        update={
            "state_dir": home,
            "kafka_bootstrap": None,
            "kafka_port": ports[0],
            "kafka_controller_port": ports[1],
            "kafka_username": None,
            "kafka_security_protocol": None,
        }
    )
    layout = kafka_service.layout(home, ports[0], ports[1])
    layout.home.mkdir(parents=True)
    libs = kafka_service.layout(settings.state_dir, 0, 0).libs
    layout.libs.symlink_to(libs.resolve())
    password = local_passwords(secured)[Principal.ADMIN]
    kafka_service.start(layout, lambda _: None, password, baseline_port=ports[2])
    try:
        deadline = time.monotonic() + 90
        while not kafka_service.is_healthy(bootstrap_admin(secured), timeout_s=2.0):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the private broker did not answer: {layout.log_file}")
            time.sleep(0.5)
        pid = kafka_service.running_pid(layout)
        if pid is None:
            raise RuntimeError(f"the private broker stopped: {layout.log_file}")
        yield TwoListeners(secured, f"127.0.0.1:{ports[2]}", layout.log_file, pid)
    finally:
        kafka_service.stop(layout, lambda _: None)
