"""Where a batch's latency goes, read from a worker's ``stage_seconds`` histogram.

``greenwatch_streams_stage_seconds{stage}`` (``streams.metrics``) is scraped before and after
the paced run; the difference gives, per stage, the batches that went through it, their mean
and an upper bound of their 99th percentile (the histogram bucket it falls in). Stages, in a
closing frame's path: ``take_wait`` → ``prepare`` → ``commit_wait`` → ``flush_measurements``,
``flush_aggregates``, ``flush_verdicts`` (their staging ``COPY``s), ``flush_upserts`` (the
pipelined revision inserts, upserts and rollup refresh; ``flush_rollups`` on a worker from
before the batch slice), ``flush_dead_letters`` (the rest of the flush: ``BEGIN``/
``COMMIT``) → ``publish``. A worker without the histogram (main before the p99 slice) has no stages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

ORDER = (
    "take_wait", "prepare", "commit_wait", "flush_measurements", "flush_aggregates",
    "flush_verdicts", "flush_upserts", "flush_rollups", "flush_dead_letters", "publish",
)  # fmt: skip
_NAME = "greenwatch_streams_stage_seconds"


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
    """The stages of a Prometheus text exposition (``/metrics``), read with prometheus_client's
    own parser."""
    stages: dict[str, Stage] = {}
    for family in text_string_to_metric_families(text):
        if family.name != _NAME:
            continue
        for sample in family.samples:
            stage = stages.setdefault(sample.labels.get("stage", "?"), Stage())
            if sample.name.endswith("_count"):
                stage.count = sample.value
            elif sample.name.endswith("_sum"):
                stage.seconds = sample.value
            elif sample.name.endswith("_bucket"):
                stage.buckets[float(sample.labels["le"])] = sample.value
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
