"""Prometheus metrics of the gateway, read from ``GatewayStats`` at scrape time.

Metric names (all prefixed ``greenwatch_gateway_``, every sample labelled ``protocol="hj212"``
so that other gateways can share the names):

- ``frames_total{result}``: frames by result: ``accepted`` (durable in the raw topic),
  ``publish_failed``, or the refusal/junk reason (``bad_crc``, ``auth_unknown_mn``,
  ``garbage``…).
- ``devices_online``: distinct MNs authenticated on an open connection.
- ``connections_open``; ``connections_total{outcome}`` (``accepted``, ``refused_limit``,
  ``refused_peer_limit``); ``connections_closed_total{reason}`` (``no_frame``, ``idle``,
  ``auth_failures``, ``garbage``, ``shutdown``).
- ``replies_total{cn}``: 9014 data acks and 9011 request answers written.
- ``clock_skewed_frames_total``; ``split_packets_total{outcome}``.
- ``frame_findings_total{finding}``: admitted frames with a data-quality finding of the
  decoder (``non_numeric_st``, ``bad_data_time``); they are published as received.
- ``energy_factors_total{result}``: energy readings taken from HJ 212 ``i3…`` factors
  (``accepted``, to the raw energy topic) and energy factors refused by reason
  (``unknown_energy_code``…, to the dead-letter topic).
- ``deadletters_suppressed_total{reason}``: dead letters beyond a peer's budget per window,
  kept as counts and one sample in a summary dead letter.
- ``discarded_frames_total{reason}`` / ``discarded_bytes_total{reason}``: what was left
  unprocessed in the buffer of refused connections (``auth_failures``, ``garbage``,
  ``no_frame``).
- ``published_records_total{topic}`` / ``publish_failures_total{topic}`` (``raw``,
  ``deadletter``); ``inflight_records``; ``received_bytes_total``.
- ``registry_info{version}``: 1, labelled with the registry version frames are authenticated
  against; ``registry_swaps_total``: registries swapped in from the topic since start.
- ``publish_latency_seconds``: histogram, frame received → Kafka acknowledged its raw record;
  ``publish_latency_quantile_seconds{quantile}``: its 0.5/0.9/0.99/0.999 quantiles (±5 %).

A custom collector keeps the hot path to plain integer increments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from ingest.gateway.stats import GatewayStats, LatencyRecorder
from runtime.registry_topic import REFUSED_RECORDS

PREFIX: Final = "greenwatch_gateway_"
PROTOCOL: Final = "hj212"
QUANTILES: Final = (0.5, 0.9, 0.99, 0.999)


class GatewayCollector(Collector):
    """Exposes one gateway's stats; ``gauges`` returns (connections open, devices online,
    records in flight) at scrape time. Every sample carries ``protocol="hj212"``."""

    def __init__(self, stats: GatewayStats, gauges: Callable[[], tuple[int, int, int]]) -> None:
        self._stats = stats
        self._gauges = gauges

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        stats = self._stats
        connections, devices, inflight = self._gauges()
        yield _counter("frames", "Frames by result.", "result", stats.frames)
        yield _gauge("devices_online", "MNs authenticated on an open connection.", devices)
        yield _gauge("connections_open", "Open connections.", connections)
        yield _gauge("inflight_records", "Records sent to Kafka, not yet acknowledged.", inflight)
        yield _counter("connections", "Connections by outcome.", "outcome", stats.connections)
        yield _counter("connections_closed", "Closed by the gateway.", "reason", stats.closed)
        yield _counter("replies", "Replies written, by CN.", "cn", stats.acks)
        yield _counter("split_packets", "Split packets.", "outcome", stats.split)
        yield _counter(
            "frame_findings",
            "Admitted frames with a data-quality finding of the decoder.",
            "finding",
            stats.findings,
        )
        yield _counter(
            "energy_factors",
            "Energy readings taken from HJ 212 i3 factors, and refused ones by reason.",
            "result",
            stats.energy_factors,
        )
        yield _counter(
            "deadletters_suppressed",
            "Dead letters beyond a peer's budget (counted, sampled in a summary).",
            "reason",
            stats.deadletters_suppressed,
        )
        yield _counter(
            "discarded_frames",
            "Frames left unprocessed in refused connections' buffers.",
            "reason",
            stats.discarded_frames,
        )
        yield _counter(
            "discarded_bytes",
            "Bytes left unprocessed in refused connections' buffers.",
            "reason",
            stats.discarded_bytes,
        )
        yield _counter("published_records", "Records Kafka acked.", "topic", stats.published)
        yield _counter("publish_failures", "Records Kafka failed.", "topic", stats.publish_failed)
        yield _total(
            "clock_skewed_frames",
            "Admitted frames whose device clock is off by more than the limit.",
            stats.clock_skewed,
        )
        yield _total("received_bytes", "Bytes received.", stats.bytes_received)
        registry = GaugeMetricFamily(
            PREFIX + "registry_info",
            "Registry version in use (value 1).",
            labels=["protocol", "version"],
        )
        registry.add_metric([PROTOCOL, stats.registry_version], 1)
        yield registry
        yield _total("registry_swaps", "Registries swapped in since start.", stats.registry_swaps)
        yield _histogram(stats.latency)
        quantiles = GaugeMetricFamily(
            PREFIX + "publish_latency_quantile_seconds",
            "Receive-to-Kafka-ack latency quantiles since start (±5 %).",
            labels=["protocol", "quantile"],
        )
        for fraction in QUANTILES:
            value = stats.latency.percentile(fraction)
            if value is not None:
                quantiles.add_metric([PROTOCOL, str(fraction)], value)
        yield quantiles


def _counter(
    name: str, documentation: str, label: str, counts: Counter[str]
) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + name, documentation, labels=["protocol", label])
    for value, count in sorted(counts.items()):
        family.add_metric([PROTOCOL, value], count)
    return family


def _total(name: str, documentation: str, value: int) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + name, documentation, labels=["protocol"])
    family.add_metric([PROTOCOL], value)
    return family


def _gauge(name: str, documentation: str, value: int) -> GaugeMetricFamily:
    family = GaugeMetricFamily(PREFIX + name, documentation, labels=["protocol"])
    family.add_metric([PROTOCOL], value)
    return family


def _histogram(latency: LatencyRecorder) -> HistogramMetricFamily:
    buckets = [(f"{bound:.6g}", count) for bound, count in latency.cumulative_by_octave()]
    buckets.append(("+Inf", latency.count))
    family = HistogramMetricFamily(
        PREFIX + "publish_latency_seconds",
        "Frame received to Kafka acknowledgement of its raw record.",
        labels=["protocol"],
    )
    family.add_metric([PROTOCOL], buckets, sum_value=latency.total_s)
    return family


def serve_metrics(
    port: int, stats: GatewayStats, gauges: Callable[[], tuple[int, int, int]], host: str = ""
) -> CollectorRegistry:
    """Start the ``/metrics`` HTTP endpoint on ``port`` (a daemon thread) and return its
    registry. Raises ``OSError`` when the port is taken."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(stats, gauges))
    registry.register(REFUSED_RECORDS)  # registry records refused by the follower (bad MAC)
    start_http_server(port, addr=host or "0.0.0.0", registry=registry)
    return registry
