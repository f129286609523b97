"""Signal state after a restart or a rebalance (issue 13 item 4): a worker that restarts in the
middle of a flagged run, a flatline or a firing evasion rule continues as one that never
stopped (rebuilt from the store by ``Engine.prepare``), instead of raising the signal again
and never clearing it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from streams_support import SO2, T0, gas_minutes, make_registry

from schemas.alert import QualitySignal
from schemas.measurement import Measurement
from streams.domain.engine import Engine
from streams.domain.store import MemoryStore

REGISTRY = make_registry()
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def signals(batches: Sequence[list[Measurement]], restart: bool, since: int = 1) -> list[Any]:
    """Signals of the batches from ``since`` on; with ``restart`` the engine is replaced there
    (a new worker: nothing in memory, the same store)."""
    store = MemoryStore()
    engine = Engine(REGISTRY)
    seen: list[Any] = []
    for index, batch in enumerate(batches):
        if restart and index == since:
            engine = Engine(REGISTRY)
        engine.prepare(batch, store)
        store.add(batch)
        outputs = engine.ingest(batch)
        store.record(outputs)
        if index >= since:
            seen.extend(
                (o.kind.value, o.factor, o.active, o.observed_at.isoformat())
                for o in outputs
                if isinstance(o, QualitySignal)
            )
    return seen


def flagged_run() -> list[list[Measurement]]:
    """A maintenance (M) run of SO2 from minute 30 to 49, the worker restarting inside it."""
    return [
        gas_minutes(T0, 20.0, minutes=30)
        + gas_minutes(T0 + 30 * MINUTE, 20.0, minutes=10, flag="M"),
        gas_minutes(T0 + 40 * MINUTE, 20.0, minutes=10, flag="M")
        + gas_minutes(T0 + 50 * MINUTE, 21.0, minutes=30),
    ]


def flatline() -> list[list[Measurement]]:
    """SO2 stuck at 20.0 for 40 minutes (a flatline from minute 30), then it moves."""
    return [
        gas_minutes(T0, 20.0, minutes=40),
        gas_minutes(T0 + 40 * MINUTE, 20.0, minutes=5)
        + gas_minutes(T0 + 45 * MINUTE, 12.0, minutes=1)
        + gas_minutes(T0 + 46 * MINUTE, 13.0, minutes=1),
    ]


def flat_near_limit() -> list[list[Measurement]]:
    """SO2 held at 33–33.1 mg/m³ (limit 35) for hours 0–2, honest from hour 3."""

    def held(hour: int) -> list[Measurement]:
        start = T0 + hour * HOUR
        return [
            m
            for i in range(60)
            for m in gas_minutes(start + i * MINUTE, 33.0 + (i % 2) / 10, minutes=1)
        ]

    honest = [
        m
        for i in range(60)
        for m in gas_minutes(T0 + 3 * HOUR + i * MINUTE, 10.0 + i % 7, minutes=1)
    ]
    return [
        held(0) + held(1)[:40],
        held(1)[40:] + held(2),
        honest,
        gas_minutes(T0 + 4 * HOUR, 12.0, minutes=15),
    ]


@pytest.mark.parametrize(
    ("scenario", "ended"),
    [(flagged_run, "flagged"), (flatline, "flatline"), (flat_near_limit, "tampering")],
    ids=["flagged", "flatline", "tampering"],
)
def test_a_restart_changes_no_signal(scenario: Any, ended: str) -> None:
    batches = scenario()
    never_stopped = signals(batches, restart=False)
    assert (ended, SO2, False) in {s[:3] for s in never_stopped}  # cleared after the restart
    assert signals(batches, restart=True) == never_stopped


def test_the_cleared_flag_of_a_run_that_spans_a_restart_is_the_only_flag_signal() -> None:
    restarted = signals(flagged_run(), restart=True)
    assert [s for s in restarted if s[0] == "flagged" and s[1] == SO2] == [
        ("flagged", SO2, False, (T0 + 50 * MINUTE).isoformat())
    ]
