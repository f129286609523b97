"""``PgSink.with_retry``: the first attempt runs without tenacity's machinery (a fixed cost
of every flush and hydration read, issue 15 batch slice); a lost database is still retried
with the same backoff, warning and ``flush_retries`` count, and other errors still raise."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from tenacity import Retrying

import streams.sink as sink_module
from streams.metrics import StreamMetrics
from streams.sink import PgSink, RetryPolicy


def test_a_first_attempt_that_succeeds_builds_no_retry_machinery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Any] = []

    class Counted(Retrying):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(sink_module, "Retrying", Counted)
    assert PgSink(None).with_retry(lambda: 42) == 42  # type: ignore[arg-type]
    assert built == []


def test_a_lost_database_is_retried_with_backoff_and_counted() -> None:
    metrics = StreamMetrics.create(CollectorRegistry())
    sink = PgSink(None, retry=RetryPolicy(initial_s=0.01, max_s=0.02), metrics=metrics)  # type: ignore[arg-type]
    sleeps: list[float] = []
    sink._pause = sleeps.append  # type: ignore[method-assign, assignment]
    calls = 0

    def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise psycopg.OperationalError("server closed the connection")
        return "committed"

    assert sink.with_retry(attempt) == "committed"
    assert calls == 3
    assert len(sleeps) == 2 and 0 < sleeps[0] <= sleeps[1] <= 0.02
    assert metrics.flush_retries._value.get() == 2


def test_other_errors_raise_at_once_and_a_stopped_sink_gives_up() -> None:
    sink = PgSink(None, retry=RetryPolicy(initial_s=0.01))  # type: ignore[arg-type]
    calls = 0

    def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("a programming error")

    with pytest.raises(ValueError):
        sink.with_retry(broken)
    assert calls == 1

    def lost() -> None:
        nonlocal calls
        calls += 1
        raise psycopg.OperationalError("refused")

    sink.stop()
    calls = 0
    with pytest.raises(psycopg.OperationalError, match="refused"):
        sink.with_retry(lost)
    assert calls == 1


def test_give_up_after_raises_the_last_error() -> None:
    sink = PgSink(None, retry=RetryPolicy(initial_s=0.01, max_s=0.01, give_up_after_s=0.05))  # type: ignore[arg-type]
    with pytest.raises(psycopg.OperationalError, match="still down"):
        sink.with_retry(lambda: (_ for _ in ()).throw(psycopg.OperationalError("still down")))
