"""One worker's batch processing, without faust: raw messages in, committed rows and outputs out.

``Pipeline.process(records)`` is what the faust agent runs for each batch taken from the raw
topic (in a thread, one batch at a time):

1. ``decode_records``: each message's ``RawEnvelope`` → HJ 212 ``decode`` (with the device's
   CRC variant from the registry) → ``normalize_packet``; anything that fails becomes a
   ``RejectedInput`` (dead letter with the original bytes, the stable reason and the Kafka
   position) and the rest of the batch goes on.
2. The engine is given what the store already holds for the device-hours (and years) it has
   no state for (``missing_hours``/``hydrate``, ``missing_years``/``hydrate_year``), read
   BEFORE this batch is written, then ``ingest`` returns the aggregates, verdicts and quality
   signals the batch closed or changed.
3. ``PgSink.flush`` writes measurements, aggregates, verdicts and dead letters in one
   transaction and returns after COMMIT (retrying while the database is unreachable).

The returned ``BatchOutcome`` lists what to publish; the agent publishes it and only then acks
the messages. The engine is the pure ``streams.domain`` Engine (the same object ``greenwatch
replay`` drives), passed in by the composition root; this module adds only I/O ordering.
``process``, ``tick`` and ``reset`` are serialised by a lock (they run in worker threads).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from ingest.hj212 import DecodeError, Packet, decode
from schemas.alert import QualitySignal
from schemas.envelope import DeadLetter, RawEnvelope
from schemas.measurement import AggregateValue, Measurement
from schemas.registry import Registry
from schemas.verdict import Verdict
from streams.domain.engine import Engine, Output
from streams.domain.errors import NormalizeError
from streams.metrics import StreamMetrics
from streams.sink import FlushResult, PgSink, RejectedInput, SinkBatch, SourcePosition
from streams.store import PgStore

log = logging.getLogger(__name__)

SOURCE = "streams.hj212"
"""``DeadLetter.source`` of everything this worker rejects."""

Normalizer = Callable[[Packet, datetime, Registry], list[Measurement]]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One Kafka message of the raw topic: its position, value and broker timestamp."""

    position: SourcePosition
    value: bytes | None
    timestamp: datetime


@dataclass(slots=True)
class Decoded:
    """The measurements of a batch and the inputs it rejected."""

    measurements: list[Measurement] = field(default_factory=list)
    rejected: list[RejectedInput] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What a processed batch produced; ``flush`` describes the committed transaction."""

    raw: int
    measurements: int
    aggregates: list[AggregateValue]
    verdicts: list[Verdict]
    quality: list[QualitySignal]
    dead_letters: list[DeadLetter]
    flush: FlushResult


def _reject(
    record: RawRecord, reason: str, message: str, envelope: RawEnvelope | None
) -> RejectedInput:
    letter = DeadLetter(
        source=SOURCE,
        reason=reason,
        message=message,
        peer=envelope.peer if envelope else None,
        device_id=envelope.device_id if envelope else None,
        received_at=envelope.received_at if envelope else record.timestamp,
        payload=envelope.payload if envelope else (record.value or b""),
    )
    return RejectedInput(letter, record.position)


def decode_record(
    record: RawRecord, registry: Registry, normalize: Normalizer
) -> list[Measurement] | RejectedInput:
    """Measurements of one raw message, or why it was rejected. Never raises."""
    try:
        envelope = RawEnvelope.model_validate_json(record.value or b"")
    except ValidationError as error:
        return _reject(record, "bad_envelope", f"not a RawEnvelope: {error.error_count()} errors",
                       None)  # fmt: skip
    if b"\x00" in envelope.payload:
        return _reject(record, "nul_byte", "frame contains a NUL byte", envelope)
    known = registry.device(envelope.device_id)
    crc = known[2].crc.value if known else "hj212"
    try:
        packet = decode(envelope.payload, crc=crc)  # type: ignore[arg-type]
        return normalize(packet, envelope.received_at, registry)
    except DecodeError as error:
        return _reject(record, error.reason.value, error.message, envelope)
    except NormalizeError as error:
        return _reject(record, error.reason.value, error.message, envelope)
    except Exception as error:  # a bug in pure code must not stop the stream: keep the bytes
        log.exception("unexpected error normalising %s", record.position)
        return _reject(record, "unexpected_error", type(error).__name__, envelope)


def decode_records(
    records: Sequence[RawRecord], registry: Registry, normalize: Normalizer
) -> Decoded:
    """Decode a batch in order; rejected inputs do not stop the others."""
    decoded = Decoded()
    for record in records:
        result = decode_record(record, registry, normalize)
        if isinstance(result, RejectedInput):
            decoded.rejected.append(result)
        else:
            decoded.measurements.extend(result)
    return decoded


class Pipeline:
    """Decode → hydrate → engine → sink for one worker; see the module docstring."""

    def __init__(
        self,
        registry: Registry,
        *,
        engine_factory: Callable[[Registry], Engine],
        normalize: Normalizer,
        sink: PgSink,
        store: PgStore,
        metrics: StreamMetrics | None = None,
    ) -> None:
        self._registry = registry
        self._engine_factory = engine_factory
        self._normalize = normalize
        self._sink = sink
        self._store = store
        self._metrics = metrics
        self._engine = engine_factory(registry)
        self._lock = threading.Lock()
        self._stopping = False

    def stop(self) -> None:
        """Shutdown: a batch waiting for the database gives up (without the lock)."""
        self._stopping = True
        self._sink.stop()

    @property
    def stopping(self) -> bool:
        """``stop()`` was called."""
        return self._stopping

    def reset(self) -> None:
        """Forget all engine state (after a rebalance); it is re-read from the store on use."""
        with self._lock:
            self._engine = self._engine_factory(self._registry)

    def process(self, records: Sequence[RawRecord]) -> BatchOutcome:
        """Process one batch and commit it; blocks (database retries, the lock)."""
        with self._lock:
            return self._process(records)

    def tick(self, now: datetime) -> BatchOutcome:
        """Silence detection at wall-clock ``now``; commits what it produced."""
        with self._lock:
            return self._commit([], self._engine.tick(now), [], 0)

    def _process(self, records: Sequence[RawRecord]) -> BatchOutcome:
        decoded = decode_records(records, self._registry, self._normalize)
        outputs: list[Output] = []
        if decoded.measurements:
            self._hydrate(decoded.measurements)
            outputs = self._engine.ingest(decoded.measurements)
        outcome = self._commit(decoded.measurements, outputs, decoded.rejected, len(records))
        if self._metrics is not None:
            self._metrics.raw_messages.inc(len(records))
            self._metrics.batch_size.observe(len(records))
            self._metrics.measurements.inc(len(decoded.measurements))
            for rejected in decoded.rejected:
                self._metrics.dead_letters.labels(rejected.letter.reason).inc()
        return outcome

    def _hydrate(self, measurements: Sequence[Measurement]) -> None:
        """Give the engine the stored windows and year-to-date loads it lacks (one read)."""
        hours = self._engine.missing_hours(measurements)
        years = self._engine.missing_years(measurements)
        if not hours and not years:
            return
        stored, loads = self._sink.with_retry(
            lambda: (self._store.device_hours(hours), self._store.daily_loads(years))
        )
        for device_hour in sorted(hours):
            self._engine.hydrate(device_hour, stored.get(device_hour, []))
        for outlet_id, factor, year in sorted(years):
            self._engine.hydrate_year(
                outlet_id, factor, year, loads.get((outlet_id, factor, year), {})
            )

    def _commit(
        self,
        measurements: list[Measurement],
        outputs: list[Output],
        rejected: list[RejectedInput],
        raw: int,
    ) -> BatchOutcome:
        aggregates = [o for o in outputs if isinstance(o, AggregateValue)]
        verdicts = [o for o in outputs if isinstance(o, Verdict)]
        quality = [o for o in outputs if isinstance(o, QualitySignal)]
        flush = self._sink.flush(SinkBatch(measurements, aggregates, verdicts, rejected))
        return BatchOutcome(
            raw=raw,
            measurements=len(measurements),
            aggregates=aggregates,
            verdicts=verdicts,
            quality=quality,
            dead_letters=[r.letter for r in rejected],
            flush=flush,
        )
