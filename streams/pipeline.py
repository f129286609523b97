"""One worker's batch processing, without faust: raw messages in, committed rows and outputs out.

A batch taken from the raw topic goes through two stages, each run in a thread by the agent:

``prepare(records)`` (CPU: decode and the engine; holds the engine lock)
    1. ``decode_records``: each message's raw record (``runtime.raw_record``: the frame as
       value and the envelope as headers, or the older JSON ``RawEnvelope``) → HJ 212
       ``decode`` (with the device's CRC variant from the registry) → ``normalize_packet``;
       anything that fails becomes a ``KeyedDeadLetter`` (dead letter with the original bytes,
       the stable reason and the Kafka position) and the rest of the batch goes on.
    2. ``Engine.prepare_frames(frames, store)`` reads what the ``Store`` (``PgStore``) holds
       for the device-hours (and years) the engine has no state for, never seeing a row still
       in flight: a read of devices or outlets an earlier uncommitted batch writes waits for
       its COMMIT, others go at once (``streams.committed_reads``), then ``ingest_frames``
       returns the aggregates, verdicts and quality signals the batch closed or changed.

``commit(prepared)`` (I/O: the database)
    3. ``PgSink.flush`` writes measurements, aggregates, verdicts and dead letters in one
       transaction and returns after COMMIT (retrying while the database is unreachable).
       Commits happen one at a time, in the order batches were prepared, so the last write of
       a natural key is always the engine's latest value.

A new registry version (the worker following the registry topic) goes through the same lane
as a batch: ``prepare_registry`` swaps it into the decoder and the engine between two
batches, so every batch is decoded and judged under one registry, and every output carries
the ``registry_version`` it was judged under.

The agent prepares batch n + 1 (and up to ``WorkerTuning.lane_depth`` − 1 more) while batch
n is committed, publishes each ``BatchOutcome``
and only then acks that batch's messages. The engine is the pure ``streams.domain`` Engine
(the same object ``greenwatch replay`` drives), passed in by the composition root; this
module adds only I/O and its ordering.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from pydantic import ValidationError

from ingest.hj212 import CrcVariant, DecodeError, Packet, crc_variant, decode, redact_password
from runtime.dead_letters import KeyedDeadLetter, SourcePosition, keyed
from runtime.raw_record import Headers, InvalidRawRecord, RawFrame, decode_raw
from schemas.alert import QualitySignal
from schemas.envelope import DeadLetter
from schemas.measurement import AggregateValue, Measurement
from schemas.registry import Registry
from schemas.verdict import Verdict
from streams.committed_reads import CommittedReads, Footprint, InFlight, footprint
from streams.domain.engine import Engine, Output
from streams.domain.errors import NormalizeError
from streams.domain.frames import Frame, frame_of
from streams.domain.store import Store
from streams.lane_trace import OFF, LaneTrace
from streams.metrics import StreamMetrics
from streams.ownership import partition_of, registry_devices
from streams.registry_memory import share_fields_sets
from streams.revisions import MeasurementKey
from streams.sink import FlushResult, SinkBatch

log = logging.getLogger(__name__)
T = TypeVar("T")

WINDOWS_EVERY_S = 1.0
"""How often, at most, the ``windows_held`` gauge is refreshed after a batch (seconds)."""

SOURCE = "streams.hj212"
"""``DeadLetter.source`` of everything this worker rejects."""

Normalizer = Callable[[Packet, datetime, Registry], list[Measurement]]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One Kafka message of the raw topic: its position, value and broker timestamp."""

    position: SourcePosition
    value: bytes | None
    timestamp: datetime
    headers: Headers = ()
    """The record's headers (a version-2 raw record's envelope, ``runtime.raw_record``)."""


@dataclass(slots=True)
class Decoded:
    """The measurements of a batch (and the same as frames) and the inputs it rejected."""

    measurements: list[Measurement] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    """The measurements of each decoded raw record, in order, as one ``Frame`` (the engine's
    unit of work: ``Engine.prepare_frames`` / ``ingest_frames``)."""
    rejected: list[KeyedDeadLetter] = field(default_factory=list)
    partitions: dict[str, int] = field(default_factory=dict)
    """Device MN → the raw-topic partition its latest decoded frame came from."""
    sources: dict[MeasurementKey, SourcePosition] = field(default_factory=dict)
    """Each measurement's natural key → the position of the message it came from (the
    latest one when a batch carries a key twice, as the sink keeps the latest value)."""


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A batch the engine has processed, not yet written: ``commit`` writes it.

    ``sequence`` orders commits: batch n is committed only after batch n − 1.
    """

    sequence: int
    raw: int
    measurements: list[Measurement]
    outputs: list[Output]
    rejected: list[KeyedDeadLetter]
    sources: dict[MeasurementKey, SourcePosition] = field(default_factory=dict)
    """Where each measurement came from (``Decoded.sources``), for the revision history."""
    frames: list[Frame] = field(default_factory=list)
    """``measurements`` as frames (``Decoded.frames``): the sink builds its COPY per frame."""


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
    record: RawRecord, reason: str, message: str, envelope: RawFrame | None
) -> KeyedDeadLetter:
    letter = DeadLetter(
        source=SOURCE,
        reason=reason,
        message=message,
        peer=envelope.peer if envelope else None,
        device_id=envelope.device_id if envelope else None,
        received_at=envelope.received_at if envelope else record.timestamp,
        payload=redact_password(envelope.payload if envelope else (record.value or b"")),
        position=record.position.wire(),
    )
    return KeyedDeadLetter(letter, record.position)


def foreign_dead_letter(record: RawRecord) -> KeyedDeadLetter | None:
    """A record of the dead-letter topic to store in ``dead_letters``, keyed by the position
    of the input it replaces (``runtime.dead_letters.keyed``: the alert service's letters,
    which that service stored already, are then stored once) or else by its own position (a
    gateway's); ``None`` for the workers' own letters, stored with the raw message they replace.

    A record that is not a DeadLetter is itself kept, with reason ``invalid_dead_letter``.
    """
    try:
        letter = DeadLetter.model_validate_json(record.value or b"")
    except ValidationError as error:
        reason, message = "invalid_dead_letter", f"not a DeadLetter: {error}"[:500]
        return KeyedDeadLetter(
            DeadLetter(source=SOURCE, reason=reason, message=message,
                       received_at=record.timestamp, payload=record.value or b""),
            record.position,
        )  # fmt: skip
    if letter.source == SOURCE:
        return None
    return keyed(letter, record.position)


def decode_record(
    record: RawRecord, registry: Registry, normalize: Normalizer
) -> list[Measurement] | KeyedDeadLetter:
    """Measurements of one raw message, or why it was rejected. Never raises."""
    try:
        envelope = decode_raw(record.value, record.headers)
    except InvalidRawRecord as error:
        return _reject(record, error.reason, error.message, None)
    if b"\x00" in envelope.payload:
        return _reject(record, "nul_byte", "frame contains a NUL byte", envelope)
    known = registry.device(envelope.device_id)
    crc: CrcVariant = crc_variant(known.device.crc) if known else "hj212"
    try:
        packet = decode(envelope.payload, crc=crc)
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
        if isinstance(result, KeyedDeadLetter):
            decoded.rejected.append(result)
            continue
        if not result:
            continue
        decoded.measurements.extend(result)
        # one frame: its measurements share device, period and period start
        frame = frame_of(result)
        decoded.frames.append(frame)
        position, sources = record.position, decoded.sources
        device, period, start = frame.device_id, frame.period.value, frame.period_start
        for m in result:
            sources[(device, m.factor, period, start)] = position
        decoded.partitions[device] = position.partition
    return decoded


class Pipeline:
    """Decode → hydrate → engine (``prepare``), then sink (``commit``); see the module docstring.

    ``prepare`` and ``commit`` may run at the same time in two threads (batch n + 1 is
    prepared while batch n is written, possibly with more prepared batches queued between
    them); commits happen one at a time in ``prepare`` order,
    and a ``prepare`` whose store read could see rows of an earlier batch not yet committed
    first waits until every earlier batch is committed, so the engine never rebuilds a window
    from rows that are still in flight (``streams.committed_reads``).
    """

    def __init__(
        self,
        registry: Registry,
        *,
        engine_factory: Callable[[Registry], Engine],
        normalize: Normalizer,
        sink: Sink,
        store: Store,
        metrics: StreamMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        trace: LaneTrace = OFF,
    ) -> None:
        self.trace = trace
        """The batches' timeline (``streams.lane_trace``; off unless asked for)."""
        self._registry = registry
        self._clock = clock
        self._windows_shown: float | None = None
        self._engine_factory = engine_factory
        self._normalize = normalize
        self._sink = sink
        self._store = store
        self._metrics = metrics
        self._engine = engine_factory(registry)
        if metrics is not None:
            metrics.show_registry(registry.version)
        self._engine_lock = threading.Lock()
        self._seen_partitions: dict[str, int] = {}
        self._order = threading.Condition()
        self._prepared = 0
        self._committed = 0
        self._flying = InFlight()
        self._stopping = False

    def stop(self) -> None:
        """Shutdown: a batch waiting for the database gives up (its flush raises)."""
        self._stopping = True
        self._sink.stop()

    @property
    def stopping(self) -> bool:
        """``stop()`` was called."""
        return self._stopping

    def reset(self) -> None:
        """Forget all engine state; it is re-read from the store on use."""
        with self._engine_lock:
            self._engine = self._engine_factory(self._registry)

    def own(self, partitions: Collection[int], count: int | None, now: datetime) -> None:
        """The worker now owns these raw-topic ``partitions`` (of ``count``; a rebalance):
        the engine forgets the devices of the other partitions (another worker has them; their
        state is re-read from the store if they come back) and watches the owned ones for
        silence from ``now``. ``count`` None (partition count unknown): ``reset``."""
        if count is None:
            log.warning("raw topic partition count unknown: the engine is reset")
            self.reset()
            return
        owned = set(partitions)
        lost: list[str] = []
        with self._engine_lock:
            # A device's partition is the one its frames came from; for devices this worker
            # never received, the producers' default partitioner says (streams.ownership).
            seen = self._seen_partitions
            mine: list[str] = []
            for device in sorted(set(registry_devices(self._registry)) | set(seen)):
                partition = seen.get(device, partition_of(device, count))
                (mine if partition in owned else lost).append(device)
            self._engine.forget(lost)
            for device in lost:
                seen.pop(device, None)
            self._engine.expect(mine, now)
            self._show_windows(force=True)

    def prepare(self, records: Sequence[RawRecord]) -> PreparedBatch:
        """Decode a batch and run the engine over it (reading the store when it must).
        Calls to ``prepare``, ``prepare_tick`` and ``prepare_registry`` must not overlap."""
        decoded = decode_records(records, self._registry, self._normalize)
        with self._engine_lock:
            self._seen_partitions.update(decoded.partitions)
            sequence = self._next_sequence()
            outputs: list[Output] = []
            if decoded.measurements:
                committed = CommittedReads(self._store, self._sink, self, sequence - 1)
                self._engine.prepare_frames(decoded.frames, committed)
                outputs = self._engine.ingest_frames(decoded.frames)
            self._in_flight(sequence, footprint(decoded.partitions, outputs))
            self._show_windows()
        return PreparedBatch(sequence, len(records), decoded.measurements, outputs,
                             decoded.rejected, decoded.sources, decoded.frames)  # fmt: skip

    def prepare_registry(self, registry: Registry) -> PreparedBatch:
        """Judge with ``registry`` from the next batch on (a version published on the registry
        topic): decode and the engine switch to it (``Engine.use_registry``: open windows
        close under it, devices it lacks are forgotten). Called through the commit lane like
        ``prepare``, so never in the middle of a batch; returns an empty batch to commit."""
        share_fields_sets(registry)  # as the worker's first registry (docs/perf.md, rss)
        with self._engine_lock:
            swap = self._engine.use_registry(registry)
            self._registry = registry
            for device in swap.dropped:
                self._seen_partitions.pop(device, None)
            sequence = self._next_sequence()
        if self._metrics is not None:
            self._metrics.registry_swaps.inc()
            self._metrics.show_registry(swap.version, swap.previous_version)
        devices = sum(1 for _ in registry_devices(registry))
        log.info("registry %s → %s: %d devices, state of %d removed ones dropped",
                 swap.previous_version, swap.version, devices, len(swap.dropped))  # fmt: skip
        return PreparedBatch(sequence, 0, [], [], [])

    def store_dead_letters(self, records: Sequence[RawRecord]) -> int:
        """Store the dead-letter topic's records from other sources (the gateway, the alert
        service) in ``dead_letters``, once per position; blocks until COMMIT (retrying while
        the database is away). Returns the rows new to the table."""
        letters = [r for r in map(foreign_dead_letter, records) if r is not None]
        return self._sink.flush(SinkBatch(dead_letters=letters)).dead_letters

    def prepare_tick(self, now: datetime) -> PreparedBatch:
        """Silence detection at wall-clock ``now``: the windows it closes, to commit."""
        with self._engine_lock:
            outputs = self._engine.tick(now)
            self._show_windows()
            sequence = self._next_sequence()
            self._in_flight(sequence, footprint((), outputs))
            return PreparedBatch(sequence, 0, [], outputs, [])

    def commit(self, prepared: PreparedBatch) -> BatchOutcome:
        """Write a prepared batch in one transaction after every earlier one; blocks.

        Waits for the earlier batches' commits (which end, or end the process).
        """
        self._wait_committed(prepared.sequence - 1)
        outcome = self._flush(prepared)
        with self._order:
            self._committed = prepared.sequence
            self._flying.committed(prepared.sequence)
            self._order.notify_all()
        if self._metrics is not None:
            self._metrics.raw_messages.inc(prepared.raw)
            if prepared.raw:
                self._metrics.batch_size.observe(prepared.raw)
            self._metrics.measurements.inc(len(prepared.measurements))
            for rejected in prepared.rejected:
                self._metrics.dead_letters.labels(rejected.letter.reason).inc()
        return outcome

    def wait_committed(self, sequence: int) -> None:
        """Block until batch ``sequence`` (and every one before it) is committed."""
        self._wait_committed(sequence)

    def reads_clear(self, devices: Collection[str], outlets: Collection[str]) -> bool:
        """No batch prepared and not yet committed writes rows of these ``devices`` or
        ``outlets``: a store read of them need not wait (``streams.committed_reads``)."""
        with self._order:
            return self._flying.clear(devices, outlets)

    def wait_for_reads(self, sequence: int) -> None:
        """``wait_committed(sequence)`` for batch ``sequence + 1``'s store reads: the time
        waited is observed as stage ``read_wait`` and marked in the trace."""
        started = time.perf_counter()
        self.trace.mark(sequence + 1, "read_wait")
        self._wait_committed(sequence)
        self.trace.mark(sequence + 1, "read_go")
        if self._metrics is not None:
            waited = time.perf_counter() - started
            self._metrics.stage_seconds.labels("read_wait").observe(waited)

    def _show_windows(self, *, force: bool = False) -> None:
        """Report the windows the engine holds (call with the engine lock held): at most once
        per ``WINDOWS_EVERY_S`` of ``clock`` after a batch (counting them walks every device:
        ~1.7 ms at 10 000 devices, a large part of a small batch's CPU), always when
        ``force``d (a rebalance)."""
        if self._metrics is None:
            return
        now = self._clock()
        shown = self._windows_shown
        if force or shown is None or now - shown >= WINDOWS_EVERY_S:
            self._windows_shown = now
            self._metrics.show_windows(*self._engine.held_windows())

    def _next_sequence(self) -> int:
        with self._order:
            self._prepared += 1
            return self._prepared

    def _in_flight(self, sequence: int, batch: Footprint) -> None:
        with self._order:
            self._flying.add(sequence, batch)

    def _wait_committed(self, sequence: int) -> None:
        with self._order:
            self._order.wait_for(lambda: self._committed >= sequence)

    def _flush(self, prepared: PreparedBatch) -> BatchOutcome:
        outputs = prepared.outputs
        aggregates = [o for o in outputs if isinstance(o, AggregateValue)]
        verdicts = [o for o in outputs if isinstance(o, Verdict)]
        quality = [o for o in outputs if isinstance(o, QualitySignal)]
        batch = SinkBatch(prepared.measurements, aggregates, verdicts, prepared.rejected,
                          prepared.sources, prepared.frames)  # fmt: skip
        return BatchOutcome(
            raw=prepared.raw,
            measurements=len(prepared.measurements),
            aggregates=aggregates,
            verdicts=verdicts,
            quality=quality,
            dead_letters=[r.letter for r in prepared.rejected],
            flush=self._sink.flush(batch),
        )


class Sink(Protocol):
    """Where ``Pipeline.commit`` writes (``streams.sink.PgSink``)."""

    def flush(self, batch: SinkBatch) -> FlushResult:
        """Write ``batch`` in one transaction; returns after COMMIT."""
        ...

    def with_retry(self, read: Callable[[], T]) -> T:
        """``read()``, retried while the database is unreachable."""
        ...

    def stop(self) -> None:
        """Shutdown: a waiting flush or read gives up."""
        ...
