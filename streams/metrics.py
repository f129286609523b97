"""Prometheus metrics of the stream worker (prometheus-client).

One ``StreamMetrics`` is built by the entry point on a ``CollectorRegistry`` and passed to the
agents and the sink; tests build their own on a fresh registry so counts never leak between
them. ``greenwatch worker --metrics-port N`` serves the default registry over HTTP.

Names (all prefixed ``greenwatch_streams_``):

- ``raw_messages_total``             raw Kafka messages taken from ``raw.hj212``
- ``measurements_total``             measurements normalised from them
- ``rows_written_total{table}``      rows upserted per table, counted after the commit
- ``dead_letters_total{reason}``     inputs sent to the dead-letter topic and table
- ``outputs_published_total{topic}`` aggregates, verdicts, quality signals published
- ``flush_seconds``                  sink flush latency (one transaction per batch)
- ``flush_retries_total``            flush attempts that failed on a lost database
- ``replacing_flushes_total``        flushes whose measurements had stored keys (re-sent or
                                     replayed data: the slower upsert path)
- ``batch_size``                     raw messages per processed batch
- ``stage_seconds{stage}``           where a batch's latency goes: ``take_wait`` (its first
                                     message waiting in the take buffer), ``prepare`` (decode
                                     and engine), ``commit_wait`` (behind the batch before),
                                     ``flush_<step>`` (measurements; aggregates and
                                     verdicts: their staging COPY; upserts: the revision
                                     inserts, upserts and rollup refresh, pipelined;
                                     dead_letters), ``publish`` (sent and
                                     acknowledged by Kafka)
- ``consumer_lag{partition}``        high watermark − last processed offset per raw partition
- ``assigned_partitions``            raw-topic partitions this worker owns (after a rebalance)
- ``registry_info{version}``         1, labelled with the registry version the engine judges
                                     with (every verdict records it)
- ``windows_held{kind}``             hour buffers and day states the engine holds in memory
- ``registry_swaps_total``           registry versions swapped in from the registry topic
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

_PREFIX = "greenwatch_streams"
_STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)


@dataclass(frozen=True, slots=True)
class StreamMetrics:
    """The worker's metrics; build with ``StreamMetrics.create(registry)``."""

    raw_messages: Counter
    measurements: Counter
    rows_written: Counter
    dead_letters: Counter
    outputs_published: Counter
    flush_seconds: Histogram
    flush_retries: Counter
    replacing_flushes: Counter
    batch_size: Histogram
    stage_seconds: Histogram
    consumer_lag: Gauge
    assigned_partitions: Gauge
    registry_info: Gauge
    registry_swaps: Counter
    windows_held: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry = REGISTRY) -> StreamMetrics:
        """Register the worker's metrics on ``registry`` (call once per registry)."""
        return cls(
            raw_messages=Counter(
                f"{_PREFIX}_raw_messages", "Raw messages taken from Kafka.", registry=registry
            ),
            measurements=Counter(
                f"{_PREFIX}_measurements", "Measurements normalised.", registry=registry
            ),
            rows_written=Counter(
                f"{_PREFIX}_rows_written",
                "Rows upserted, counted after the database commit.",
                ["table"],
                registry=registry,
            ),
            dead_letters=Counter(
                f"{_PREFIX}_dead_letters",
                "Inputs sent to the dead-letter topic and table.",
                ["reason"],
                registry=registry,
            ),
            outputs_published=Counter(
                f"{_PREFIX}_outputs_published",
                "Aggregates, verdicts and quality signals published.",
                ["topic"],
                registry=registry,
            ),
            flush_seconds=Histogram(
                f"{_PREFIX}_flush_seconds",
                "Sink flush latency, one transaction per batch (seconds).",
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
                registry=registry,
            ),
            flush_retries=Counter(
                f"{_PREFIX}_flush_retries",
                "Flush attempts that failed because the database was unreachable.",
                registry=registry,
            ),
            replacing_flushes=Counter(
                f"{_PREFIX}_replacing_flushes",
                "Flushes whose measurements had keys already stored (re-sent or replayed).",
                registry=registry,
            ),
            batch_size=Histogram(
                f"{_PREFIX}_batch_size",
                "Raw messages per processed batch.",
                buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
                registry=registry,
            ),
            stage_seconds=Histogram(
                f"{_PREFIX}_stage_seconds",
                "Seconds a batch spent in each stage (take_wait, prepare, commit_wait,"
                " flush_<statement>, publish).",
                ["stage"],
                buckets=_STAGE_BUCKETS,
                registry=registry,
            ),
            consumer_lag=Gauge(
                f"{_PREFIX}_consumer_lag",
                "Raw topic messages after the last processed one, per partition.",
                ["partition"],
                registry=registry,
            ),
            assigned_partitions=Gauge(
                f"{_PREFIX}_assigned_partitions",
                "Raw topic partitions owned by this worker.",
                registry=registry,
            ),
            registry_info=Gauge(
                f"{_PREFIX}_registry_info",
                "Registry version in use (value 1).",
                ["version"],
                registry=registry,
            ),
            registry_swaps=Counter(
                f"{_PREFIX}_registry_swaps",
                "Registry versions swapped in from the registry topic since start.",
                registry=registry,
            ),
            windows_held=Gauge(
                f"{_PREFIX}_windows_held",
                "Windows the engine holds in memory: open hour buffers and day states.",
                ["kind"],
                registry=registry,
            ),
        )

    def show_windows(self, hours: int, days: int) -> None:
        """``windows_held`` says the engine holds ``hours`` hour buffers and ``days`` days."""
        self.windows_held.labels("hour").set(hours)
        self.windows_held.labels("day").set(days)

    def show_registry(self, version: str, previous: str | None = None) -> None:
        """``registry_info`` says ``version`` (no longer ``previous``)."""
        if previous is not None and previous != version:
            self.registry_info.remove(previous)
        self.registry_info.labels(version).set(1)
