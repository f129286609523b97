"""The benchmark's reading of the worker's ``stage_seconds`` histogram (bench.pipeline_stages):
the figures of the paced run are the difference of two scrapes, per stage."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from bench import pipeline_stages
from streams.metrics import StreamMetrics


def test_stages_between_two_scrapes() -> None:
    registry = CollectorRegistry()
    metrics = StreamMetrics.create(registry)
    metrics.stage_seconds.labels("prepare").observe(5.0)  # before the paced run
    before = pipeline_stages.parse(generate_latest(registry).decode())
    for seconds in [0.004] * 99 + [0.12]:
        metrics.stage_seconds.labels("prepare").observe(seconds)
    metrics.stage_seconds.labels("publish").observe(0.02)
    stages = pipeline_stages.between(
        before, pipeline_stages.parse(generate_latest(registry).decode())
    )
    prepare = stages["prepare"]
    assert prepare.count == 100
    assert abs(prepare.seconds - (0.396 + 0.12)) < 1e-9
    assert prepare.p99_bound() == 0.005
    lines = pipeline_stages.describe(stages)
    assert [line.split()[0] for line in lines] == ["prepare", "publish"]
    assert pipeline_stages.describe({}) == [
        "stages: none reported (a worker without stage_seconds)"
    ]
