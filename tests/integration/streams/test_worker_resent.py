"""Re-sent minutes through the real path (raw topic → ``greenwatch worker`` → PostgreSQL):
an exceeding hour re-sent lower after it closed is re-judged from the stored minutes, and its
new verdict (revision 2) lists the re-sent values beside the ones first received (issue 13)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from conftest import StackFactory
from stream_dataset import DAY0, frame_input
from worker_harness import StreamStack

from streams.revisions import measurement_history, verdict_history

DEVICE = "DEMO-TP01-G1"
OUTLET = "E-TP-01-G1"
SO2 = "a21026"
HOUR = DAY0 + timedelta(hours=10)


def minutes(hour_start: Any, so2: float) -> list[tuple[bytes, bytes, int | None]]:
    frames = []
    for minute in range(5):
        values = {SO2: {"Avg": so2, "Flag": "N"}, "a19001": {"Avg": 6.0, "Flag": "N"}}
        item = frame_input(DEVICE, hour_start + timedelta(minutes=minute), values)
        frames.append((item.key, item.value, item.partition))
    return frames


def hour_verdict(dsn: str) -> tuple[str, int, dict[str, Any]] | None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT status, revision, evidence FROM verdicts WHERE outlet_id = %s"
            " AND factor = %s AND rule = 'hourly_concentration' AND period_start = %s",
            (OUTLET, SO2, HOUR),
        ).fetchone()
    return (row[0], row[1], row[2]) if row else None


def store_an_exceedance(stack: StreamStack) -> None:
    """Start a worker, send an exceeding hour and the next one, wait for its verdict."""
    stack.start_worker("--tick-interval", "1")
    stack.produce(minutes(HOUR, 100.0) + minutes(HOUR + timedelta(hours=1), 20.0))
    stack.wait_for(
        "exceedance stored",
        lambda: (hour_verdict(stack.direct_dsn) or ("",))[0] == "exceedance",
        60,
    )


@pytest.mark.integration
def test_minutes_resent_lower_are_flagged_in_the_rejudged_verdict(
    stream_stack_factory: StackFactory,
) -> None:
    stack = stream_stack_factory()
    store_an_exceedance(stack)
    stack.produce(minutes(HOUR, 5.0))  # the enterprise re-sends the hour at 5.0
    stack.wait_for(
        "re-judged", lambda: (hour_verdict(stack.direct_dsn) or ("",))[0] == "compliant", 60
    )
    found = hour_verdict(stack.direct_dsn)
    assert found is not None
    _, revision, evidence = found
    assert revision == 2
    assert evidence["resent_values"] == 5
    assert {(r["first"], r["resent"]) for r in evidence["resent"]} == {(100.0, 5.0)}
    # The record keeps what was rewritten (issue 13 item 1): both values, with where the
    # replacing one came from on the raw topic.
    with psycopg.connect(stack.direct_dsn, autocommit=True) as conn:
        judged = verdict_history(conn, OUTLET, SO2, "hourly_concentration", HOUR)
        versions = measurement_history(conn, DEVICE, SO2, "minute", HOUR)
    assert [(j["status"], j["value"], j["current"]) for j in judged] == [
        ("exceedance", 100.0, False),
        ("compliant", 5.0, True),
    ]
    assert judged[0]["reason"] == "resent"
    assert [(v["avg"], v["current"]) for v in versions] == [(100.0, False), (5.0, True)]
    assert versions[0]["source_topic"].endswith("raw.hj212")
    assert versions[0]["source_offset"] is not None
