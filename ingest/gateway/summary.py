"""The gateway's periodic one-line summary (never one line per frame).

``SummaryWindow`` turns two readings of ``GatewayStats`` into rates; ``summary_line`` formats
one. Pure apart from reading the stats objects it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.gateway.stats import ACCEPTED, GatewayStats


@dataclass(frozen=True, slots=True)
class Reading:
    """Counters at one instant (``at`` in monotonic seconds)."""

    at: float
    frames: int
    accepted: int


class SummaryWindow:
    """Rates between successive ``line`` calls."""

    def __init__(self, stats: GatewayStats, now: float) -> None:
        self._stats = stats
        self._last = self._read(now)

    def line(self, now: float, connections: int, devices: int) -> str:
        """The summary since the previous call: frames/s, totals, connections, devices,
        rejects by reason, p99 receive→Kafka-ack latency."""
        current = self._read(now)
        elapsed = max(current.at - self._last.at, 1e-9)
        rate = (current.frames - self._last.frames) / elapsed
        accepted_rate = (current.accepted - self._last.accepted) / elapsed
        self._last = current
        return summary_line(self._stats, rate, accepted_rate, connections, devices)

    def _read(self, now: float) -> Reading:
        return Reading(now, self._stats.frames_total, self._stats.frames[ACCEPTED])


def summary_line(
    stats: GatewayStats, rate: float, accepted_rate: float, connections: int, devices: int
) -> str:
    """One line, e.g. ``frames/s 10234 (accepted 10200) | total 1.2M | connections 300 |
    devices 280 | skewed 3 | p99 ack 12.1 ms | rejects: bad_crc 12, auth_unknown_mn 3``."""
    p99 = stats.latency.percentile(0.99)
    rejects = stats.rejects()
    shown = ", ".join(f"{reason} {count}" for reason, count in list(rejects.items())[:6])
    parts = [
        f"frames/s {rate:,.0f} (accepted {accepted_rate:,.0f})",
        f"total {stats.frames_total:,}",
        f"connections {connections:,}",
        f"devices {devices:,}",
        f"skewed {stats.clock_skewed:,}",
        "p99 ack " + ("-" if p99 is None else f"{p99 * 1000:.1f} ms"),
        "rejects: " + (shown or "none"),
    ]
    return " | ".join(parts)
