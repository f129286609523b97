"""Stream worker end to end: raw topic → ``greenwatch worker`` → committed rows in PostgreSQL.

Setup: the local stack's Kafka and PostgreSQL (``greenwatch stack up`` first; never started or
stopped here), fresh topics under a unique prefix and fresh migrated schemas, dropped at the
end. One worker process (the real command, default batching) and a synthetic registry of
``DEVICES`` flue-gas CEMS (ultra-low-emission coal power, SO2/NOx quotas), each sending CN 2051
minute frames with 8 factors (SO2, NOx, PM, O2, flow, temperature, pressure, moisture).

1. Throughput and memory: ``FRAMES_PER_DEVICE`` frames per device are produced first (a
   backlog; device d reports minutes d mod 60 … +5, so about 1/15 of the devices close an
   hour, near the real ratio of one hourly value per 60 minutes), then the worker drains it.
   Figure: measurements/s on the steady clock (``bench.pipeline_drain``: from the first
   scrape at which the worker owns partitions, or the last without a committed row when that
   is later, to the last committed row; the worker's ``rows_written`` counter, counted after
   COMMIT; cross-checked with count(*)), the first-row clock beside it, the worker's start
   (spawned → partitions assigned), the CPU budget of the drain (``bench.cpu_budget``: the
   worker's main thread and other threads, PostgreSQL, the broker, the benchmark, the box's
   idle share), and the worker's resident memory with every device in its engine.
2. Baselines on the same rows, in the same run, into fresh schemas, batch by batch in turn:
   a raw binary ``COPY`` into ``measurements`` (one COPY + COMMIT per 2 000 frames, the
   worker's batch), and the sink alone (``PgSink.flush``, one transaction per batch), both
   under the worker's garbage-collector tuning (``streams.worker.tune_garbage_collector``). Both
   start from the same ``Measurement`` objects; decoding them is not timed. Ratios: sink /
   raw COPY and end to end / raw COPY.
3. Latency at ``PACED_RATE`` measurements/s: ``PACED_DEVICES`` devices of the fleet go on
   sending their next minutes, paced in wall time (event time runs faster than wall time,
   so devices cross an hour boundary during the run, about 1 frame in 60 closes an hour as
   in real traffic). For each hourly verdict, latency = the verdict message's timestamp on
   the ``verdicts`` topic (published after the database commit) − the send time of the
   frame that closed its hour. The CPU budget of the paced run is printed per measurement
   sent.
4. Two workers, twice (``bench.pipeline_two``), each with a fresh topic prefix and schema, the
   same backlog, two ``greenwatch worker`` processes in one consumer group (the raw topic's
   partitions split between them); figure: their measurements/s together on the steady
   clock, from the first scrape at which *both* own partitions, with the first-row clock
   and the CPU budget beside it. *Joined* (the aim's figure): both own their partitions,
   then the backlog is produced while they are paused, so neither a rebalance nor the
   benchmark's producer is in the drain; its ratios to one worker and to raw COPY are
   printed. *Backlog first*: the backlog is there when they start; one drains alone until
   the other joins and a rebalance moves half the devices, whose new owner reads them from
   the store again (the rows committed before are reported apart): what scaling out on a
   backlog costs. ``python -m bench drains`` runs either beside a base tree, alternating.
5. ``greenwatch replay`` from a file (``bench.replay_fraction``): a fraction of a
   province-day, measurements/s.
5b. What the sink's history keeping costs (``bench.sink_costs``): the trail and lock
   triggers of migration 009 on and off, and a re-sent batch (revision tables of migration
   007) against new keys.

6. What authentication costs is ``bench.bench_authcost`` (one broker, two listeners,
   alternating rounds); every step here runs on the local stack's broker (SASL/SCRAM-SHA-512
   and ACLs, the worker logged in as its own principal).

The records are what the gateway writes (``runtime.raw_record`` version 2). The summary at the
end prints issue 15's table (``bench.pipeline_figures``): each figure, its share of the raw
COPY of the same run, and its target; main's figures before issue 15 are in docs/perf.md.
The silence timer is off (``--tick-interval 3600``): the data are historical, every device
would look silent. The machine is shared, so figures vary between runs; nothing asserts a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, KafkaProducer
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench import (
    cpu_budget,
    pipeline_fleet,
    pipeline_stages,
    pipeline_two,
    replay_fraction,
    sink_costs,
    spy,
)
from bench.db import unreachable
from bench.kafka import bench_kafka, service_env
from bench.pipeline_drain import Drain, Scrape, drain
from bench.pipeline_figures import Figures, summary
from bench.pipeline_fleet import DAY0, DEVICES, FRAMES_PER_DEVICE, GRACE_MINUTES, Frame
from bench.sends import CheckedSends
from deploy.migrate import migrate
from deploy.timescaledb import drop_schema
from ingest.hj212 import CHINA_TZ, decode
from runtime.kafka_access import KafkaAccess, Principal
from runtime.raw_record import decode_raw
from runtime.settings import Settings, database_dsn
from schemas.measurement import Measurement
from schemas.registry import Registry, dump_registry
from schemas.topics import Topic, topic_name
from streams.domain.normalize import normalize_packet
from streams.process_memory import resident_mib
from streams.sink import PgSink, SinkBatch, create_pool
from streams.worker import ensure_topics, tune_garbage_collector

PACED_RATE = float(os.environ.get("BENCH_PIPELINE_PACED_RATE", "5000"))
PACED_S = float(os.environ.get("BENCH_PIPELINE_PACED_S", "20"))
PACED_DEVICES = int(os.environ.get("BENCH_PIPELINE_PACED_DEVICES", "1000"))
BATCH_FRAMES = 2000


def run() -> list[str]:
    settings = Settings()
    dsn = database_dsn(settings)
    if missing := unreachable(dsn):
        return missing
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp, _schemas(dsn) as schema:
        registry = pipeline_fleet.registry()
        registry_file = Path(tmp) / "registry.yaml"
        registry_file.write_text(dump_registry(registry), "utf-8")
        backlog = [
            pipeline_fleet.frame(mn, at, at + timedelta(seconds=3))
            for mn, at in pipeline_fleet.backlog_times()
        ]
        login = service_env(settings, Principal.WORKER)
        with _topics(settings) as (kafka, prefix):
            lines, one = _measure(
                settings, kafka, login, schema, prefix, registry, backlog, Path(tmp)
            )
        two: dict[pipeline_two.Mode, Drain[cpu_budget.Sample | None]] = {}
        for mode in pipeline_two.Mode:
            with _topics(settings) as (kafka, prefix):
                start = [Path(tmp) / mode.name / f"w{n}" for n in range(2)]
                two[mode], paused = pipeline_two.drain(
                    mode, settings, kafka, prefix, backlog, start, login, schema(), registry_file
                )
            lines += _drain_lines(f"two workers, {mode.value}", two[mode])
            if mode is pipeline_two.Mode.JOINED:
                lines.append(pipeline_two.describe_pause(paused))
        replay = replay_fraction.measure(registry, Path(tmp))
        costs = sink_costs.measure(schema)
    lines.append(replay_fraction.describe(replay))
    joined, first = two[pipeline_two.Mode.JOINED], two[pipeline_two.Mode.BACKLOG_FIRST]
    figures = dataclasses.replace(
        one,
        two_workers=joined.steady.rate,
        two_workers_backlog_first=first.steady.rate,
        two_workers_backlog_first_row=first.first_row.rate,
        replay=replay.rate,
    )
    return [*lines, *costs, *summary(figures)]


@contextlib.contextmanager
def _topics(settings: Settings) -> Iterator[tuple[KafkaAccess, str]]:
    """The admin's access and a fresh topic prefix with the catalogue's topics (and, on the
    local stack, the services' ACLs on them), deleted on exit."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    kafka = bench_kafka(settings, prefix)
    ensure_topics(kafka, prefix)
    try:
        yield kafka, prefix
    finally:
        _delete_topics(kafka, prefix)


def _stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every worker, then wait up to 30 s for each."""
    for worker in workers:
        worker.terminate()
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)


def _drain_lines(what: str, figures: Drain[cpu_budget.Sample | None]) -> list[str]:
    """The drain's figure on the steady clock, the first-row clock beside it, the workers'
    start, and the CPU budget of the steady window (bench.pipeline_drain, bench.cpu_budget)."""
    steady, first = figures.steady, figures.first_row
    starts = ", ".join("never" if s is None else f"{s:.1f} s" for s in figures.starts)
    batches = ", ".join(f"{n:.0f} of {size:.0f}" for n, size in steady.batch_sizes())
    rows = ", ".join(
        f"{b - a:,.0f}" for a, b in zip(steady.start.rows, steady.end.rows, strict=True)
    )
    budget: list[str] = []
    if steady.start.extra is not None and steady.end.extra is not None:
        budget = cpu_budget.describe(steady.start.extra, steady.end.extra, steady.rows)
    return [
        f"{what}: {steady.rate:,.0f} measurements/s steady (every worker with partitions: "
        f"{steady.rows:,.0f} rows in {steady.seconds:.1f} s; {figures.rows_before:,.0f} rows "
        f"committed before)",
        f"  from the first committed row (the figure before issue 15's fifth slice): "
        f"{first.rate:,.0f} measurements/s ({first.rows:,.0f} rows in {first.seconds:.1f} s)",
        f"  worker start, spawned → partitions assigned: {starts}",
        f"  in the steady window, per worker: rows {rows}; batches (count of raw messages on "
        f"average) {batches}",
        *(f"  {line}" for line in budget),
    ]


def _measure(
    settings: Settings,
    kafka: KafkaAccess,
    login: dict[str, str],
    schema: Callable[[], str],
    prefix: str,
    registry: Registry,
    backlog: list[Frame],
    tmp: Path,
) -> tuple[list[str], Figures]:
    registry_file = tmp / "registry.yaml"
    if not registry_file.exists():
        tmp.mkdir(parents=True, exist_ok=True)
        registry_file.write_text(dump_registry(registry), "utf-8")
    _produce(kafka, prefix, backlog)
    worker_dsn = schema()
    port = _free_port()
    spawned = time.monotonic()
    worker = _start_worker(login, worker_dsn, prefix, registry_file, port, tmp)
    probe = cpu_budget.stack_probe(settings, {"worker": worker.pid})
    try:
        spies: list[subprocess.Popen[bytes]] = []
        one = _drain_clocks(
            [port], [worker], len(backlog) * 8, probe, spawned,
            lambda: spies.extend(spy.start(worker.pid)),
        )  # fmt: skip
        spy.stop(spies)
        rate, rows = one.steady.rate, int(sum(one.steady.end.rows))
        rss, peak = _memory(worker.pid)
        stored = _count(worker_dsn)
        raw, sink = _baselines(schema, backlog, registry)
        before, stages_before = _flush_stats(port), pipeline_stages.parse(_scrape(port))
        paced_before = cpu_budget.take(probe)
        latencies = _paced(kafka, prefix)
        paced_budget = cpu_budget.describe(
            paced_before, cpu_budget.take(probe), PACED_RATE * PACED_S
        )
        flushes, flush_s, batches, batch_raw = (
            a - b for a, b in zip(_flush_stats(port), before, strict=True)
        )
        stages = pipeline_stages.between(stages_before, pipeline_stages.parse(_scrape(port)))
        rss_after, peak_after = _memory(worker.pid)
    finally:
        worker.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)
    figures = Figures(rate, raw, sink, _quantile(latencies, 0.99), rss, DEVICES)
    return [
        f"fleet: {DEVICES} devices × {FRAMES_PER_DEVICE} minute frames × 8 factors "
        f"= {len(backlog) * 8} measurements (backlog on the raw topic)",
        f"count(*) = {stored} of {rows} rows written"
        + (" — py-spy attached (BENCH_PIPELINE_SPY): slower than without" if spy.SPY_DIR else ""),
        *_drain_lines("end to end, one worker", one),
        f"raw COPY of the same rows: {raw:,.0f} rows/s; sink alone (PgSink.flush): "
        f"{sink:,.0f} rows/s",
        f"ratios: sink / raw COPY = {sink / raw:.0%}; end to end / raw COPY = {rate / raw:.0%}",
        f"worker memory with {DEVICES} devices: RSS {rss:.0f} MiB (peak {peak:.0f} MiB); "
        f"after the paced run RSS {rss_after:.0f} MiB (peak {peak_after:.0f} MiB)",
        _latency_line(latencies),
        f"paced run: {batches:.0f} batches of {batch_raw / max(batches, 1):.0f} raw messages on "
        f"average; flush {flush_s / max(flushes, 1) * 1000:.0f} ms on average; per stage:",
        *pipeline_stages.describe(stages),
        f"CPU of the paced run ({PACED_RATE * PACED_S:,.0f} measurements sent, µs per "
        f"measurement sent):",
        *(f"  {line}" for line in paced_budget),
    ], figures


def _produce(kafka: KafkaAccess, prefix: str, frames: list[Frame]) -> None:
    producer = KafkaProducer(**kafka.client_config(), acks="all", linger_ms=20,
                             batch_size=256 * 1024, compression_type=None)  # fmt: skip
    topic = topic_name(prefix, Topic.RAW_HJ212)
    sends = CheckedSends(topic)
    for frame in frames:
        sends.track(producer.send(topic, key=frame.mn.encode(), value=frame.value,
                                  headers=list(frame.headers)))  # fmt: skip
    producer.flush(timeout=120)
    producer.close()
    sends.check()  # a refused record fails the benchmark here, not as a drain that never ends


def _start_worker(
    login: dict[str, str],
    dsn: str,
    prefix: str,
    registry_file: Path,
    port: int,
    tmp: Path,
    tree: Path | None = None,
) -> subprocess.Popen[bytes]:
    """A ``greenwatch worker``; with ``tree``, that source tree's code (on ``PYTHONPATH``, and
    as the working directory: the command re-executes itself as ``python -m
    streams.worker_process``, which puts the working directory first on ``sys.path``, so from
    any other directory the worker ran the benchmark's tree whatever ``PYTHONPATH`` said).
    ``BENCH_WORKER_ARGS``: more options for the worker (e.g. ``--lane-depth 1``; every tree
    compared must know them)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GREENWATCH_KAFKA_")},
        **({"PYTHONPATH": str(tree)} if tree is not None else {}),
        **login,
        "GREENWATCH_DATABASE_URL": dsn,
        "GREENWATCH_TOPIC_PREFIX": prefix,
        "GREENWATCH_REGISTRY_FILE": str(registry_file),
        "GREENWATCH_STATE_DIR": str(tmp / "state"),
    }
    args = ["worker", "--tick-interval", "3600", "--metrics-port", str(port), "--loglevel",
            "warning", *os.environ.get("BENCH_WORKER_ARGS", "").split()]  # fmt: skip
    tmp.mkdir(parents=True, exist_ok=True)
    log = (tmp / "worker.log").open("wb")
    return subprocess.Popen([str(Path(sys.executable).parent / "greenwatch"), *args], env=env,
                            cwd=tree, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def _scrape(port: int) -> str:
    """The worker's /metrics text ("" when it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def _metric(port: int, name: str, label: str = "") -> float:
    return _sum_metric(_scrape(port), name, label)


def _sum_metric(text: str, name: str, label: str = "") -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and label in line and not line.startswith("#")
    )


def _drain(
    ports: list[int],
    workers: list[subprocess.Popen[bytes]],
    total: int,
    on_first: Callable[[], object] = lambda: None,
) -> tuple[float, int, float]:
    """(measurements/s, rows, seconds) of ``workers`` together (their metrics on ``ports``),
    from the last scrape that saw no committed measurement row (the clock starts there, so a
    backlog drained between two scrapes still counts) to the last one: the first-row clock of
    ``_drain_clocks`` (used by the other benchmarks that start one worker)."""
    window = _drain_clocks(ports, workers, total, None, time.monotonic(), on_first).first_row
    return window.rate, int(sum(window.end.rows)), window.seconds


def _drain_clocks(
    ports: list[int],
    workers: list[subprocess.Popen[bytes]],
    total: int,
    probe: cpu_budget.Probe | None,
    spawned: float,
    on_first: Callable[[], object] = lambda: None,
) -> Drain[cpu_budget.Sample | None]:
    """Scrape ``workers`` (their metrics on ``ports``) every ~0.1 s until they committed
    ``total`` measurement rows; both clocks of bench.pipeline_drain, with a CPU sample per
    scrape when a ``probe`` is given. ``on_first`` is called at the first scrape that sees a
    committed row; ``spawned`` is when the workers were started (for their start time)."""
    deadline = time.monotonic() + 900
    scrapes: list[Scrape[cpu_budget.Sample | None]] = []
    rows = 0.0
    while (
        rows < total
        and time.monotonic() < deadline
        and all(worker.poll() is None for worker in workers)
    ):
        texts = [_scrape(port) for port in ports]
        each = tuple(_sum_metric(t, _ROWS, 'table="measurements"') for t in texts)
        assigned = tuple(_sum_metric(t, "greenwatch_streams_assigned_partitions") for t in texts)
        sample = cpu_budget.take(probe) if probe is not None else None
        batches = tuple(_sum_metric(t, "greenwatch_streams_batch_size_count") for t in texts)
        batched = tuple(_sum_metric(t, "greenwatch_streams_batch_size_sum") for t in texts)
        scrapes.append(Scrape(time.monotonic(), each, assigned, sample, batches, batched))
        if rows == 0 < sum(each):
            on_first()
        rows = sum(each)
        time.sleep(0.1)
    try:
        return drain(scrapes, spawned)
    except ValueError:
        exits = [worker.poll() for worker in workers]
        raise RuntimeError(f"the workers wrote {rows} of {total} rows (exits {exits})") from None


_ROWS = "greenwatch_streams_rows_written_total"


def _flush_stats(port: int) -> tuple[float, float, float, float]:
    """(flushes, flush seconds, batches, raw messages in batches) so far."""
    return (
        _metric(port, "greenwatch_streams_flush_seconds_count"),
        _metric(port, "greenwatch_streams_flush_seconds_sum"),
        _metric(port, "greenwatch_streams_batch_size_count"),
        _metric(port, "greenwatch_streams_batch_size_sum"),
    )


def _memory(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) of ``pid`` in MiB, from /proc."""
    memory = resident_mib(pid)
    if memory is None:
        raise RuntimeError(f"no /proc/{pid}/status: the worker is gone")
    return memory


def _count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM measurements").fetchone()
    return int(row[0]) if row else 0


def _batches(frames: list[Frame], registry: Registry) -> Iterator[list[Measurement]]:
    for start in range(0, len(frames), BATCH_FRAMES):
        batch: list[Measurement] = []
        for frame in frames[start : start + BATCH_FRAMES]:
            raw = decode_raw(frame.value, frame.headers)
            batch.extend(normalize_packet(decode(raw.payload), raw.received_at, registry))
        yield batch


def _baselines(
    schema: Callable[[], str], frames: list[Frame], registry: Registry
) -> tuple[float, float]:
    """(raw COPY rows/s, sink rows/s) for the same rows, database calls timed only."""
    columns = ("device_id", "factor", "period", "period_start", "outlet_id", "factor_as_sent",
               "rtd", "avg", "min", "max", "cou", "zs_rtd", "zs_avg", "flag", "received_at",
               "qn")  # fmt: skip
    copy = sql.SQL("COPY measurements ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    types = [*["text"] * 3, "timestamptz", "text", "text", *["float8"] * 7, "text",
             "timestamptz", "text"]  # fmt: skip
    raw_seconds, sink_seconds, rows = 0.0, 0.0, 0
    # The worker's garbage collector regime (streams.worker): with the default thresholds
    # and this process's heap (the backlog, the registry), collections triggered by the
    # sink's batch of row tuples took 80 % of its client CPU, a cost the worker does not pay.
    tune_garbage_collector()
    # Interleaved batch by batch (each into its own fresh schema), so that load from
    # elsewhere on the machine falls on both figures alike.
    with psycopg.connect(schema()) as conn, create_pool(schema()) as pool:
        pool.wait(timeout=30)
        sink = PgSink(pool)
        for batch in _batches(frames, registry):
            started = time.perf_counter()
            with conn.cursor() as cur, cur.copy(copy) as writer:
                writer.set_types(types)
                for m in batch:
                    row = (m.device_id, m.factor, m.period.value, m.period_start, m.outlet_id,
                           m.factor_as_sent, m.rtd, m.avg, m.min, m.max, m.cou, m.zs_rtd,
                           m.zs_avg, m.flag, m.received_at, m.qn)  # fmt: skip
                    writer.write_row(row)
            conn.commit()
            raw_seconds += time.perf_counter() - started
            sink_seconds += sink.flush(SinkBatch(measurements=batch)).seconds
            rows += len(batch)
    return rows / raw_seconds, rows / sink_seconds


def _paced(kafka: KafkaAccess, prefix: str) -> list[float]:
    """Event → verdict latencies (s) at ``PACED_RATE`` measurements/s."""
    verdicts = KafkaConsumer(**kafka.client_config(), enable_auto_commit=False,
                             consumer_timeout_ms=5000)  # fmt: skip
    topic = topic_name(prefix, Topic.VERDICTS)
    partitions = [_tp(topic, p) for p in verdicts.partitions_for_topic(topic) or ()]
    verdicts.assign(partitions)
    verdicts.seek_to_end(*partitions)
    for partition in partitions:
        verdicts.position(partition)
    sent = _send_paced(kafka, prefix)
    triggers = _triggers(sent)
    latencies: list[float] = []
    for message in verdicts:  # ends after 5 s without a new verdict
        verdict = json.loads(message.value)
        if verdict["rule"] != "hourly_concentration":
            continue
        start = datetime.fromisoformat(verdict["period_start"]).astimezone(CHINA_TZ)
        trigger = triggers.get((verdict["evidence"]["device_id"], start))
        if trigger is not None:
            latencies.append(message.timestamp / 1000 - trigger)
    verdicts.close()
    return latencies


def _tp(topic: str, partition: int) -> Any:
    from kafka.structs import TopicPartition

    return TopicPartition(topic, partition)


def _send_paced(kafka: KafkaAccess, prefix: str) -> list[tuple[str, datetime, float]]:
    """Send paced frames; returns (mn, data time, wall send time) of each."""
    producer = KafkaProducer(**kafka.client_config(), acks="all", linger_ms=1)
    topic = topic_name(prefix, Topic.RAW_HJ212)
    sends = CheckedSends(topic)
    frames_per_s = PACED_RATE / 8
    total = int(frames_per_s * PACED_S)
    prepared = []
    for i in range(total):
        index = i % PACED_DEVICES  # device d continues its minutes after the backlog's
        at = DAY0 + timedelta(minutes=index % 60 + FRAMES_PER_DEVICE + i // PACED_DEVICES)
        prepared.append(
            pipeline_fleet.frame(pipeline_fleet.mn(index), at, at + timedelta(seconds=3))
        )
    sent: list[tuple[str, datetime, float]] = []
    began = time.monotonic()
    for index, frame in enumerate(prepared):
        due = began + index / frames_per_s
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        sent.append((frame.mn, frame.data_time, time.time()))
        sends.track(producer.send(topic, key=frame.mn.encode(), value=frame.value,
                                  headers=list(frame.headers)))  # fmt: skip
    producer.flush(timeout=60)
    producer.close()
    sends.check()
    return sent


def _triggers(sent: list[tuple[str, datetime, float]]) -> dict[tuple[str, datetime], float]:
    """(device, hour) → send time of the first frame whose watermark closes that hour."""
    closes = timedelta(hours=1, minutes=GRACE_MINUTES)
    triggers: dict[tuple[str, datetime], float] = {}
    first_open: dict[str, datetime] = {}
    for mn, at, wall in sent:
        watermark = at + timedelta(minutes=1)
        hour = first_open.get(mn, DAY0)
        while hour + closes <= watermark:
            triggers[(mn, hour)] = wall
            hour += timedelta(hours=1)
        first_open[mn] = hour
    return triggers


def _quantile(latencies: list[float], q: float) -> float:
    """The ``q`` quantile of ``latencies`` in ms (NaN when there is none)."""
    ordered = sorted(latencies)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _latency_line(latencies: list[float]) -> str:
    if not latencies:
        return "event → verdict: no verdict received"
    return (
        f"event → verdict at {PACED_RATE:,.0f} measurements/s ({len(latencies)} verdicts): "
        f"p50 {_quantile(latencies, 0.5):.0f} ms, p99 {_quantile(latencies, 0.99):.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _schemas(dsn: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh migrated schemas (DSNs); all dropped at the end."""
    made: list[str] = []

    def make() -> str:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        made.append(name)
        scoped = make_conninfo(dsn, options=f"-c search_path={name},public")
        with psycopg.connect(scoped, autocommit=True) as conn:
            migrate(conn)
        return scoped

    try:
        yield make
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for name in made:
                drop_schema(conn, name)


def _delete_topics(kafka: KafkaAccess, prefix: str) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**kafka.client_config())
    with contextlib.suppress(Exception):
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(f"{prefix}.")])
    admin.close()
