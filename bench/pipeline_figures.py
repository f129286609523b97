"""The pipeline benchmark's summary: the figures of issue 15's table, with ratios and targets.

Every throughput is also given as a share of the raw binary ``COPY`` of the same rows measured
in the same run (the machine is shared, absolute figures move; the ratio moves less). The
figures of main before issue 15, measured on the same machine, are in docs/perf.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Figures:
    """One run's figures (rates in measurements or rows per second)."""

    one_worker: float
    raw_copy: float
    sink: float
    p99_ms: float
    rss_mib: float
    devices: int
    two_workers: float = 0.0
    """Two workers that own their partitions when the backlog comes (``bench.pipeline_two``,
    joined), steady clock: the aim's figure."""
    replay: float = 0.0
    two_workers_backlog_first: float = 0.0
    """Two workers started on the backlog (one drains alone, then a rebalance), steady clock."""
    two_workers_backlog_first_row: float = 0.0
    """The same drain on the clock before issue 15's fifth slice (from the first committed row:
    one worker alone and the rebalance included)."""


TARGETS = {
    "one_worker": "≥ 40 000/s and ≥ 20 % of raw COPY",
    "two_workers": "≥ 60 000/s",
    "sink": "≥ 70 % of raw COPY",
    "p99_ms": "≤ 300 ms",
    "rss_mib": "≤ 300 MiB at 10 000 devices",
    "replay": "≥ 100 000/s",
}


def summary(figures: Figures) -> list[str]:
    """The table as report lines: figure, measured, share of raw COPY, target."""
    raw = figures.raw_copy or float("nan")
    one = figures.one_worker or float("nan")
    rows = [
        ("raw COPY of the same rows (baseline)", f"{figures.raw_copy:,.0f}/s", "100 %", ""),
        ("raw topic → committed rows, one worker", f"{figures.one_worker:,.0f}/s",
         f"{figures.one_worker / raw:.0%}", TARGETS["one_worker"]),
        ("raw topic → committed rows, two workers joined (steady)",
         f"{figures.two_workers:,.0f}/s", f"{figures.two_workers / raw:.0%}",
         f"{TARGETS['two_workers']} ({figures.two_workers / one:.2f} × one worker)"),
        *([("  two workers, backlog first (a rebalance moves devices)",
            f"{figures.two_workers_backlog_first:,.0f}/s",
            f"{figures.two_workers_backlog_first / raw:.0%}", ""),
           ("  … from the first row (the clock before the fifth slice)",
            f"{figures.two_workers_backlog_first_row:,.0f}/s",
            f"{figures.two_workers_backlog_first_row / raw:.0%}", "")]
          if figures.two_workers_backlog_first else []),
        ("sink alone (PgSink.flush)", f"{figures.sink:,.0f}/s",
         f"{figures.sink / raw:.0%}", TARGETS["sink"]),
        ("p99 event → verdict at 5 000/s", f"{figures.p99_ms:,.0f} ms", "", TARGETS["p99_ms"]),
        (f"worker RSS, {figures.devices:,} devices", f"{figures.rss_mib:,.0f} MiB", "",
         TARGETS["rss_mib"]),
        ("greenwatch replay from a file", f"{figures.replay:,.0f}/s",
         f"{figures.replay / raw:.0%}", TARGETS["replay"]),
    ]  # fmt: skip
    width = max(len(row[0]) for row in rows)
    lines = [f"{'figure':<{width}}  {'measured':>12}  {'/ raw COPY':>10}  target"]
    lines += [f"{a:<{width}}  {b:>12}  {c:>10}  {d}".rstrip() for a, b, c, d in rows]
    return lines
