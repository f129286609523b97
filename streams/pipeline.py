"""One worker's batch processing, without faust: raw messages in, committed rows and outputs out.

A batch taken from the raw topic goes through two stages, each run in a thread by the agent:

``prepare(records)`` (CPU: decode and the engine; holds the engine lock)
    1. ``decode_records``: each message's ``RawEnvelope`` → HJ 212 ``decode`` (with the
       device's CRC variant from the registry) → ``normalize_packet``; anything that fails
       becomes a ``RejectedInput`` (dead letter with the original bytes, the stable reason and
       the Kafka position) and the rest of the batch goes on.
    2. The engine is given what the store holds for the device-hours (and years) it has no
       state for (``hydration_plan``: closed hours from their stored hourly aggregates with
       ``hydrate_closed``, the hours the batch touches and the open ones from their minutes
       with ``hydrate``; ``missing_years``/``hydrate_year``), read after every earlier batch
       is committed and before this one is, then ``ingest`` returns the aggregates, verdicts
       and quality signals the batch closed or changed.

``commit(prepared)`` (I/O: the database)
    3. ``PgSink.flush`` writes measurements, aggregates, verdicts and dead letters in one
       transaction and returns after COMMIT (retrying while the database is unreachable).
       Commits happen one at a time, in the order batches were prepared, so the last write of
       a natural key is always the engine's latest value.

A new registry version (the worker following the registry topic) goes through the same lane
as a batch: ``prepare_registry`` swaps it into the decoder and the engine between two
batches, so every batch is decoded and judged under one registry, and every output carries
the ``registry_version`` it was judged under.

The agent prepares batch n + 1 while batch n is committed, publishes each ``BatchOutcome``
and only then acks that batch's messages. The engine is the pure ``streams.domain`` Engine
(the same object ``greenwatch replay`` drives), passed in by the composition root; this
module adds only I/O and its ordering.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from ingest.hj212 import CrcVariant, DecodeError, Packet, decode, redact_password
from schemas.alert import QualitySignal
from schemas.envelope import DeadLetter, RawEnvelope
from schemas.measurement import AggregateValue, Measurement
from schemas.registry import CrcVariant as DeviceCrc
from schemas.registry import Registry
from schemas.verdict import Verdict
from streams.domain.engine import DeviceHour, Engine, Output
from streams.domain.errors import NormalizeError
from streams.metrics import StreamMetrics
from streams.ownership import partition_of, registry_devices
from streams.sink import FlushResult, PgSink, RejectedInput, SinkBatch, SourcePosition
from streams.store import PgStore

log = logging.getLogger(__name__)

SOURCE = "streams.hj212"
"""``DeadLetter.source`` of everything this worker rejects."""

Normalizer = Callable[[Packet, datetime, Registry], list[Measurement]]
_CODEC_CRC: dict[DeviceCrc, CrcVariant] = {
    DeviceCrc.HJ212: "hj212",
    DeviceCrc.MODBUS: "modbus",
    DeviceCrc.MODBUS_LE: "modbus-le",
}
"""The codec's name of each CRC variant a device may be registered with."""


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
    partitions: dict[str, int] = field(default_factory=dict)
    """Device MN → the raw-topic partition its latest decoded frame came from."""


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A batch the engine has processed, not yet written: ``commit`` writes it.

    ``sequence`` orders commits: batch n is committed only after batch n − 1.
    """

    sequence: int
    raw: int
    measurements: list[Measurement]
    outputs: list[Output]
    rejected: list[RejectedInput]


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
        payload=redact_password(envelope.payload if envelope else (record.value or b"")),
    )
    return RejectedInput(letter, record.position)


def foreign_dead_letter(record: RawRecord) -> RejectedInput | None:
    """A record of the dead-letter topic to store in ``dead_letters``, keyed by its own
    position; ``None`` for the workers' own letters, stored with the raw message they replace.

    A record that is not a DeadLetter is itself kept, with reason ``invalid_dead_letter``.
    """
    try:
        letter = DeadLetter.model_validate_json(record.value or b"")
    except ValidationError as error:
        reason, message = "invalid_dead_letter", f"not a DeadLetter: {error}"[:500]
        return RejectedInput(
            DeadLetter(source=SOURCE, reason=reason, message=message,
                       received_at=record.timestamp, payload=record.value or b""),
            record.position,
        )  # fmt: skip
    if letter.source == SOURCE:
        return None
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
    crc: CrcVariant = _CODEC_CRC[known[2].crc] if known else "hj212"
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
        if isinstance(result, RejectedInput):
            decoded.rejected.append(result)
            continue
        decoded.measurements.extend(result)
        for device in {m.device_id for m in result}:
            decoded.partitions[device] = record.position.partition
    return decoded


class Pipeline:
    """Decode → hydrate → engine (``prepare``), then sink (``commit``); see the module docstring.

    ``prepare`` and ``commit`` may run at the same time in two threads (batch n + 1 is
    prepared while batch n is written); commits happen one at a time in ``prepare`` order,
    and a ``prepare`` that must read the store first waits until every earlier batch is
    committed, so the engine never rebuilds a window from rows that are still in flight.
    """

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
        if metrics is not None:
            metrics.show_registry(registry.version)
        self._engine_lock = threading.Lock()
        self._seen_partitions: dict[str, int] = {}
        self._order = threading.Condition()
        self._prepared = 0
        self._committed = 0
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

    def prepare(self, records: Sequence[RawRecord]) -> PreparedBatch:
        """Decode a batch and run the engine over it (reading the store when it must).
        Calls to ``prepare``, ``prepare_tick`` and ``prepare_registry`` must not overlap."""
        decoded = decode_records(records, self._registry, self._normalize)
        with self._engine_lock:
            self._seen_partitions.update(decoded.partitions)
            sequence = self._next_sequence()
            outputs: list[Output] = []
            if decoded.measurements:
                self._hydrate(decoded.measurements, sequence)
                outputs = self._engine.ingest(decoded.measurements)
        return PreparedBatch(sequence, len(records), decoded.measurements, outputs,
                             decoded.rejected)  # fmt: skip

    def prepare_registry(self, registry: Registry) -> PreparedBatch:
        """Judge with ``registry`` from the next batch on (a version published on the registry
        topic): decode and the engine switch to it (``Engine.use_registry``: open windows
        close under it, devices it lacks are forgotten). Called through the commit lane like
        ``prepare``, so never in the middle of a batch; returns an empty batch to commit."""
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
            return PreparedBatch(self._next_sequence(), 0, [], self._engine.tick(now), [])

    def commit(self, prepared: PreparedBatch) -> BatchOutcome:
        """Write a prepared batch in one transaction after every earlier one; blocks.

        Waits for the earlier batches' commits (which end, or end the process).
        """
        self._wait_committed(prepared.sequence - 1)
        outcome = self._flush(prepared)
        with self._order:
            self._committed = prepared.sequence
            self._order.notify_all()
        if self._metrics is not None:
            self._metrics.raw_messages.inc(prepared.raw)
            if prepared.raw:
                self._metrics.batch_size.observe(prepared.raw)
            self._metrics.measurements.inc(len(prepared.measurements))
            for rejected in prepared.rejected:
                self._metrics.dead_letters.labels(rejected.letter.reason).inc()
        return outcome

    def _next_sequence(self) -> int:
        with self._order:
            self._prepared += 1
            return self._prepared

    def _wait_committed(self, sequence: int) -> None:
        with self._order:
            self._order.wait_for(lambda: self._committed >= sequence)

    def _hydrate(self, measurements: Sequence[Measurement], sequence: int) -> None:
        """Give the engine the stored windows and year-to-date loads it lacks (one read,
        after every earlier batch is committed)."""
        plan = self._engine.hydration_plan(measurements)
        years = self._engine.missing_years(measurements)
        if not plan.minutes and not plan.closed and not years:
            return
        self._wait_committed(sequence - 1)
        hours = set(plan.minutes) | self._hydrate_closed(plan.closed)
        stored, loads = self._sink.with_retry(
            lambda: (self._store.device_hours(hours), self._store.daily_loads(years))
        )
        for device_hour in sorted(hours):
            self._engine.hydrate(device_hour, stored.get(device_hour, []))
        for outlet_id, factor, year in sorted(years):
            self._engine.hydrate_year(
                outlet_id, factor, year, loads.get((outlet_id, factor, year), {})
            )

    def _hydrate_closed(self, keys: frozenset[DeviceHour]) -> set[DeviceHour]:
        """Rebuild closed hours from their stored hourly aggregates; the hours the engine
        refuses (open under the stored watermark, or nothing stored) to read as minutes."""
        if not keys:
            return set()
        outlets = {d: known[1].id for d, _ in keys if (known := self._registry.device(d))}
        stored = self._sink.with_retry(
            lambda: self._store.closed_hours(keys, outlets, self._engine.skew)
        )
        for device, watermark in sorted(stored.watermarks.items()):
            self._engine.hydrate_watermark(device, watermark)
        return {
            key
            for key in sorted(keys)
            if not self._engine.hydrate_closed(key, stored.hourly.get(key, []))
        }

    def _flush(self, prepared: PreparedBatch) -> BatchOutcome:
        outputs = prepared.outputs
        aggregates = [o for o in outputs if isinstance(o, AggregateValue)]
        verdicts = [o for o in outputs if isinstance(o, Verdict)]
        quality = [o for o in outputs if isinstance(o, QualitySignal)]
        batch = SinkBatch(prepared.measurements, aggregates, verdicts, prepared.rejected)
        return BatchOutcome(
            raw=prepared.raw,
            measurements=len(prepared.measurements),
            aggregates=aggregates,
            verdicts=verdicts,
            quality=quality,
            dead_letters=[r.letter for r in prepared.rejected],
            flush=self._sink.flush(batch),
        )
