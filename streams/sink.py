"""The PostgreSQL sink: one transaction per batch, upserts on natural keys (psycopg 3).

``PgSink.flush(batch)`` writes a batch's measurements, hourly/daily values, verdicts and dead
letters in ONE transaction (``streams.upserts``: new measurement keys by a binary COPY
straight into the table, else binary COPY into staging, the versions the batch replaces kept
in the revision tables (``streams.revisions``) and upserts on the natural keys; then the
rollup refresh) and returns only after ``COMMIT`` succeeded; the caller
acks the batch's Kafka messages after that, so an offset is never committed before its rows
(see docs/streams.md).

Errors: a lost or refused connection (``psycopg.OperationalError``, ``PoolTimeout``) is
retried with exponential backoff (tenacity) until it succeeds or ``RetryPolicy.give_up_after_s``
passes (``None`` = forever, the worker's setting) or ``stop()`` is called (shutdown): while it
retries the caller does not ack, so consumption pauses. Anything else (a programming error,
a constraint the data break) is raised as is after the transaction rolled back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    stop_when_event_set,
    wait_exponential,
)

from runtime.dead_letters import KeyedDeadLetter, SourcePosition, insert_dead_letters
from schemas.measurement import AggregateValue, Measurement
from schemas.verdict import Verdict
from streams.domain.frames import Frame, frames_of
from streams.measurement_copy import measurement_copy_data
from streams.metrics import StreamMetrics
from streams.revisions import MeasurementKey, batch_source
from streams.upserts import (
    VerdictKey,
    apply_aggregates,
    apply_verdicts,
    copy_new_measurement_data,
    copy_new_measurements,
    hour_keys,
    measurement_rows,
    prepare_connection,
    refresh_rollups,
    stage_aggregates,
    stage_verdicts,
    upsert_measurements,
    verdict_revisions_of,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (psycopg.OperationalError, PoolTimeout)
"""Errors that mean "the database is unreachable or restarting": retried, never raised."""


@dataclass(slots=True)
class SinkBatch:
    """Everything one batch writes, in one transaction."""

    measurements: list[Measurement] = field(default_factory=list)
    aggregates: list[AggregateValue] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    dead_letters: list[KeyedDeadLetter] = field(default_factory=list)
    sources: dict[MeasurementKey, SourcePosition] = field(default_factory=dict)
    """The raw-topic position of each measurement's message (the revision history's source)."""
    frames: list[Frame] = field(default_factory=list)
    """``measurements`` as frames (``Decoded.frames``: the COPY's rows are built per frame);
    empty: made from ``measurements`` by ``frames_of``."""

    def __len__(self) -> int:
        return (
            len(self.measurements)
            + len(self.aggregates)
            + len(self.verdicts)
            + len(self.dead_letters)
        )


@dataclass(frozen=True, slots=True)
class FlushResult:
    """Rows written by one committed flush; ``revisions`` maps each verdict to its revision;
    ``replaced`` when some measurement keys were already stored (re-sent or replayed data)."""

    measurements: int
    aggregates: int
    verdicts: int
    dead_letters: int
    revisions: dict[VerdictKey, int]
    seconds: float
    replaced: bool = False


class _KeysStored(Exception):
    """The optimistic COPY met a stored measurement key (``PgSink._flush_once``)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for a lost database: waits ``initial_s``, doubling up to ``max_s``."""

    initial_s: float = 0.2
    max_s: float = 5.0
    give_up_after_s: float | None = None


def create_pool(dsn: str, *, max_size: int = 2, name: str = "greenwatch-sink") -> ConnectionPool:
    """The sink's connection pool: built once by the entry point and passed in.

    Does not wait for the database: connections are made in the background and a flush
    waits (and retries) until one is available.
    """
    return ConnectionPool(
        dsn,
        min_size=1,
        max_size=max_size,
        name=name,
        configure=prepare_connection,
        open=True,
        timeout=5.0,
        # The pool's own reconnection backs off without bound (1, 2, 4… s) until this
        # timeout; a short one restarts the backoff so that a flush waiting for a database
        # that came back gets a connection within seconds (the flush itself retries forever).
        reconnect_timeout=10.0,
    )


class PgSink:
    """Writes batches to PostgreSQL; see the module docstring for the contract."""

    def __init__(
        self,
        pool: ConnectionPool,
        *,
        retry: RetryPolicy | None = None,
        metrics: StreamMetrics | None = None,
    ) -> None:
        self._pool = pool
        self._retry = retry or RetryPolicy()
        self._metrics = metrics
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Make a flush that is waiting for the database give up (worker shutdown): it
        raises the last connection error at once instead of retrying; nothing is acked."""
        self._stopping.set()

    def flush(self, batch: SinkBatch) -> FlushResult:
        """Write ``batch`` in one transaction; return after COMMIT. Blocks while retrying.

        An empty batch (a silence check that closed nothing) touches no connection.
        """
        if not len(batch):
            return FlushResult(0, 0, 0, 0, {}, 0.0)
        started = time.perf_counter()
        result = self.with_retry(lambda: self._flush_once(batch))
        seconds = time.perf_counter() - started
        if self._metrics is not None:
            self._metrics.flush_seconds.observe(seconds)
            rows = self._metrics.rows_written
            rows.labels("measurements").inc(result.measurements)
            rows.labels("aggregates").inc(result.aggregates)
            rows.labels("verdicts").inc(result.verdicts)
            rows.labels("dead_letters").inc(result.dead_letters)
            self._metrics.replacing_flushes.inc(result.replaced)
        return dataclasses.replace(result, seconds=seconds)

    def with_retry(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` (one transaction) until it does not fail on a lost database.

        The first attempt runs without building tenacity's machinery (~16 µs of CPU per call,
        paid by every flush and every hydration read); when it fails on a lost database,
        tenacity takes over as if it had made that attempt itself: same backoff, warning,
        ``flush_retries`` count and stop conditions."""
        try:
            return attempt()
        except TRANSIENT_ERRORS as error:
            failed: Exception | None = error

        def again() -> T:
            nonlocal failed
            if failed is not None:
                error, failed = failed, None
                raise error
            return attempt()

        return self._retrying()(again)

    def _retrying(self) -> Retrying:
        policy = self._retry
        stop = (
            stop_never
            if policy.give_up_after_s is None
            else stop_after_delay(policy.give_up_after_s)
        )
        return Retrying(
            retry=retry_if_exception_type(TRANSIENT_ERRORS),
            wait=wait_exponential(multiplier=policy.initial_s, max=policy.max_s),
            stop=stop | stop_when_event_set(self._stopping),
            sleep=self._pause,
            before_sleep=self._before_sleep,
            reraise=True,
        )

    def _pause(self, seconds: float) -> None:
        """The backoff sleep; returns early when ``stop()`` is called."""
        self._stopping.wait(seconds)

    def _before_sleep(self, state: RetryCallState) -> None:
        if self._metrics is not None:
            self._metrics.flush_retries.inc()
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "database unavailable (attempt %d, %s: %s); retrying, consumption paused",
            state.attempt_number,
            type(error).__name__,
            str(error).strip().splitlines()[0] if error else "",
        )

    def _flush_once(self, batch: SinkBatch) -> FlushResult:
        """One attempt: the batch's measurements ``COPY``'d straight into the table as the
        transaction's first statement (new keys, the usual batch); when one is stored
        already, that transaction is rolled back and the batch written again in a new one
        through staging and upserts (no savepoint: two statements fewer per usual flush)."""
        copy_new, count = self._new_measurements(batch)
        with self._pool.connection() as conn:
            if count:
                try:
                    with conn.transaction(), conn.cursor() as cur:
                        try:
                            with self._timed("flush_measurements"):
                                copy_new(cur)
                        except psycopg.errors.UniqueViolation as stored:
                            raise _KeysStored from stored  # rolls the transaction back
                        return self._write_outputs(cur, batch, count, replaced=False)
                except _KeysStored:
                    pass
            with conn.transaction(), conn.cursor() as cur:
                with self._timed("flush_measurements"):
                    measurements = upsert_measurements(cur, batch.measurements, batch.sources)
                return self._write_outputs(cur, batch, measurements, replaced=bool(count))

    @staticmethod
    def _new_measurements(
        batch: SinkBatch,
    ) -> tuple[Callable[[psycopg.Cursor[Any]], None], int]:
        """The optimistic COPY of the batch's measurements and the rows it writes (one per
        natural key). ``sources`` are keyed by natural key, one per measurement: as many as
        the measurements means no key twice (the pipeline's batches, new keys as a rule),
        and the COPY's bytes are built per frame (``streams.measurement_copy``); else the
        rows, the last of a key winning, go through psycopg's ``write_row``."""
        if len(batch.sources) == len(batch.measurements):
            data = measurement_copy_data(batch.frames or frames_of(batch.measurements))
            return (lambda cur: copy_new_measurement_data(cur, data)), len(batch.measurements)
        rows = measurement_rows(batch.measurements)
        return (lambda cur: copy_new_measurements(cur, rows)), len(rows)

    @contextlib.contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        """Observe the block's wall time as ``stage_seconds{stage}`` (with metrics)."""
        if self._metrics is None:
            yield
            return
        started = time.perf_counter()
        try:
            yield
        finally:
            self._metrics.stage_seconds.labels(stage).observe(time.perf_counter() - started)

    def _write_outputs(
        self, cur: psycopg.Cursor[Any], batch: SinkBatch, measurements: int, *, replaced: bool
    ) -> FlushResult:
        """The batch's hourly/daily values, verdicts, dead letters and rollups, after its
        measurements, in the same transaction.

        The staging ``COPY``s go first (``flush_aggregates``, ``flush_verdicts``: a ``COPY``
        cannot be pipelined); then the statements that read no result from each other, each
        table's revision insert and upsert and the rollup refresh, in their usual order in
        one libpq pipeline (``flush_upserts``: one round trip instead of one per statement);
        then the dead letters (``flush_dead_letters``)."""
        source = batch_source(batch.sources)
        with self._timed("flush_aggregates"):
            aggregates = stage_aggregates(cur, batch.aggregates)
        with self._timed("flush_verdicts"):
            verdicts = stage_verdicts(cur, batch.verdicts)
        revisions: dict[VerdictKey, int] = {}
        rollups = hour_keys(batch.aggregates)
        if aggregates or verdicts or rollups:
            conn = cur.connection
            with self._timed("flush_upserts"), conn.cursor() as verdict_cur:
                with conn.pipeline():
                    if aggregates:
                        apply_aggregates(cur, source)
                    if verdicts:
                        apply_verdicts(verdict_cur, source)
                    refresh_rollups(cur, rollups)
                if verdicts:
                    revisions = verdict_revisions_of(verdict_cur)
        with self._timed("flush_dead_letters"):
            dead_letters = insert_dead_letters(cur, batch.dead_letters)
        return FlushResult(
            measurements, aggregates, len(revisions), dead_letters, revisions, 0.0, replaced
        )


__all__ = [
    "TRANSIENT_ERRORS",
    "FlushResult",
    "KeyedDeadLetter",
    "PgSink",
    "RetryPolicy",
    "SinkBatch",
    "SourcePosition",
    "VerdictKey",
    "create_pool",
]
