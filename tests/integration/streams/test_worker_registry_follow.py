"""`greenwatch worker` without a registry file follows the registry topic: a version that a
regulator loads while the worker runs (`greenwatch db load-registry`, a lower SO2 limit) judges
the hours that close after it, while the hour judged before keeps its verdict and version; an
empty topic is a clear error. Real worker process, real Kafka and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from conftest import StackFactory
from psycopg.rows import dict_row
from stream_dataset import DAY0, GAS, Input, frame_input
from worker_harness import StreamStack, running

pytestmark = pytest.mark.timeout(240)

DEVICE = GAS[0]  # DEMO-TP01-G1 at outlet E-TP-01-G1: ULE-coal-power, SO2 limit 35 mg/m³
OUTLET = "E-TP-01-G1"
SO2 = "a21026"
V1, V2 = "streams-test-1", "streams-test-2"


def _minutes(hour: int, minutes: range) -> list[Input]:
    """Minute frames of DEVICE: SO2 about 20 mg/m³ at 7.5–8 % O2 (about 23 O2-corrected to
    6 %): compliant under 35, an exceedance under a 15 mg/m³ permit limit."""
    inputs = []
    for minute in minutes:
        values = {
            SO2: 20.0 + minute * 0.1,
            "a19001": 7.5 + (minute % 2) * 0.5,
            "a00000": 120.0,
            "a01012": 90.0,
        }
        at = DAY0 + timedelta(hours=hour, minutes=minute)
        inputs.append(
            frame_input(DEVICE, at, {f: {"Avg": v, "Flag": "N"} for f, v in values.items()})
        )
    return inputs


def _send(stack: StreamStack, inputs: list[Input]) -> None:
    stack.produce((i.key, i.value, None) for i in inputs)


def _so2_verdicts(stack: StreamStack) -> dict[int, dict[str, Any]]:
    """Stored hourly SO2 verdicts of the outlet by hour of DAY0."""
    with psycopg.connect(stack.direct_dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT period_start, status, limit_value, standard, registry_version, revision"
            " FROM verdicts WHERE outlet_id = %s AND factor = %s AND rule = 'hourly_concentration'",
            (OUTLET, SO2),
        ).fetchall()
    return {int((row["period_start"] - DAY0).total_seconds() // 3600): row for row in rows}


def _lower_limit(stack: StreamStack, path: Path) -> Path:
    """The deployment's registry as version V2, with a permit limit of 15 mg/m³ SO2."""
    document: dict[str, Any] = yaml.safe_load(stack.registry.read_text("utf-8"))
    document["version"] = V2
    for enterprise in document["enterprises"]:
        for outlet in enterprise["outlets"]:
            if outlet["id"] == OUTLET:
                outlet["limits"] = {SO2: 15.0}
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def test_a_registry_loaded_while_the_worker_runs_judges_the_next_hours(
    stream_stack_factory: StackFactory, tmp_path: Path
) -> None:
    stack = stream_stack_factory()
    stack.follow_registry_topic = True
    assert f"registry {V1} published" in stack.load_registry(stack.registry)
    with running(stack):
        worker = stack.start_worker("--loglevel", "info")  # the registry lines are info
        in_use = 'greenwatch_streams_registry_info{{version="{}"}}'
        stack.wait_for("the worker to use V1", lambda: worker.metric(in_use.format(V1)) == 1, 60)
        _send(stack, _minutes(0, range(5)) + _minutes(1, range(2)))  # 01:02 closes hour 0
        stack.wait_for("hour 0's verdict", lambda: 0 in _so2_verdicts(stack), 60)

        assert f"registry {V2} published" in stack.load_registry(
            _lower_limit(stack, tmp_path / "v2.yaml")
        )
        stack.wait_for("the swap to V2", lambda: worker.metric(in_use.format(V2)) == 1, 60)
        assert worker.metric(in_use.format(V1)) == 0
        assert worker.metric("greenwatch_streams_registry_swaps_total") == 1

        _send(stack, _minutes(1, range(2, 5)) + _minutes(2, range(2)))  # closes hour 1
        stack.wait_for("hour 1's verdict", lambda: 1 in _so2_verdicts(stack), 60)
        verdicts = _so2_verdicts(stack)
        assert worker.stop() == 0, worker.tail()  # the registry follower stops with it
    log = worker.log.read_text("utf-8")
    assert f"registry {V1} (following {stack.prefix}.registry from offset 0, hot reload)" in log
    assert f"registry {V1} → {V2}: 4 devices, state of 0 removed ones dropped" in log

    before, after = verdicts[0], verdicts[1]
    assert (before["status"], before["limit_value"], before["registry_version"]) == (
        "compliant",
        35.0,
        V1,
    )
    assert before["revision"] == 1  # not re-judged by the swap
    assert (after["status"], after["limit_value"], after["registry_version"]) == (
        "exceedance",
        15.0,
        V2,
    )
    assert after["standard"] == f"permit:{OUTLET}"


def test_an_empty_registry_topic_stops_the_worker_with_the_load_registry_hint(
    stream_stack_factory: StackFactory,
) -> None:
    stack = stream_stack_factory()
    stack.follow_registry_topic = True
    worker = stack.start_worker("--registry-wait", "2")
    assert worker.process.wait(timeout=90) == 2, worker.tail()
    log = worker.log.read_text("utf-8")
    assert (
        f"worker: no registry published on {stack.prefix}.registry: run "
        "`greenwatch db load-registry FILE`"
    ) in log
