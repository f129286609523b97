"""Where a batch's latency goes, read from a worker's ``stage_seconds`` histogram.

``greenwatch_streams_stage_seconds{stage}`` (``streams.metrics``) is scraped before and after
the paced run; the difference gives, per stage, the batches that went through it, their mean
and an upper bound of their 99th percentile (the histogram bucket it falls in). Stages, in a
closing frame's path: ``take_wait`` → ``prepare`` → ``commit_wait`` → ``flush_measurements``,
``flush_aggregates``, ``flush_verdicts``, ``flush_dead_letters``, ``flush_rollups`` (the
rest of the flush: ``BEGIN``/``COMMIT``) → ``publish``. A worker without the histogram (main
before the p99 slice) has no stages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

ORDER = (
    "take_wait", "prepare", "commit_wait", "flush_measurements", "flush_aggregates",
    "flush_verdicts", "flush_dead_letters", "flush_rollups", "publish",
)  # fmt: skip
_LINE = re.compile(
    r"^greenwatch_streams_stage_seconds_(?P<kind>bucket|sum|count)\{(?P<labels>[^}]*)\}"
    r" (?P<value>\S+)$"
)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class Stage:
    """One stage's cumulative figures: batches, seconds, and count per bucket bound."""

    count: float = 0.0
    seconds: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)

    def minus(self, before: Stage) -> Stage:
        return Stage(
            self.count - before.count,
            self.seconds - before.seconds,
            {le: n - before.buckets.get(le, 0.0) for le, n in self.buckets.items()},
        )

    def p99_bound(self) -> float:
        """The upper bound (s) of the bucket holding the 99th percentile; inf above all."""
        wanted = 0.99 * self.count
        for le in sorted(self.buckets):
            if self.buckets[le] >= wanted:
                return le
        return float("inf")


def parse(text: str) -> dict[str, Stage]:
    """The stages of a Prometheus text exposition (``/metrics``)."""
    stages: dict[str, Stage] = {}
    for line in text.splitlines():
        found = _LINE.match(line)
        if found is None:
            continue
        labels = dict(_LABEL.findall(found["labels"]))
        stage = stages.setdefault(labels.get("stage", "?"), Stage())
        value = float(found["value"])
        if found["kind"] == "count":
            stage.count = value
        elif found["kind"] == "sum":
            stage.seconds = value
        else:
            stage.buckets[float(labels["le"])] = value
    return stages


def between(before: Mapping[str, Stage], after: Mapping[str, Stage]) -> dict[str, Stage]:
    """Each stage's figures from ``before`` to ``after``."""
    return {name: stage.minus(before.get(name, Stage())) for name, stage in after.items()}


def describe(stages: Mapping[str, Stage]) -> list[str]:
    """One line per stage seen, in a closing frame's order: batches, mean, p99 bound."""
    if not stages:
        return ["stages: none reported (a worker without stage_seconds)"]
    lines = []
    for name in [*ORDER, *sorted(set(stages) - set(ORDER))]:
        stage = stages.get(name)
        if stage is None or stage.count <= 0:
            continue
        mean = stage.seconds / stage.count * 1000
        bound = stage.p99_bound() * 1000
        lines.append(
            f"  {name:<19} {stage.count:>6.0f} batches  mean {mean:7.1f} ms  p99 ≤ {bound:,.0f} ms"
        )
    return lines
