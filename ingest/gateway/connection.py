"""One device connection of the HJ 212 gateway (an ``asyncio.Protocol``).

Per received chunk: frames are cut by ``FrameExtractor``, each decided by ``Admission``, and
published: admitted frames to the raw topic (key = MN), everything else to the dead-letter
topic with its bytes and reason. A 9014 ack goes back only after Kafka acknowledged the raw
record, so an acked frame is durable. Request answers (9011, authentication failures) go back
at once.

Backpressure, per connection: at most ``max_inflight_per_connection`` records in flight; when
the budget (or the global one) is full, or when the device does not read its acks (the
transport's write buffer is over its high mark), the connection stops reading; the kernel's
TCP window then slows that device only. Frames already buffered wait in the extractor;
nothing is dropped. All work runs on the event loop thread; nothing here blocks.

How a connection ends decides what happens to the frames it left buffered:

- The device hangs up or resets, or the gateway shuts down (``finish``): every complete
  frame already received is handled at once, whatever the budget (published, or
  dead-lettered with its reason); an unfinished frame is a ``truncated`` dead letter. No
  ack goes out on a connection that is already gone; a device that waits for acks re-sends.
- The gateway refuses the connection (``refuse``: ``max_auth_failures`` authentication
  failures in a row, ``max_garbage_bytes`` of garbage, no complete frame within
  ``first_frame_timeout_s``): nothing more of it is processed; the
  frames and bytes left in its buffer are discarded and counted
  (``GatewayStats.discarded_frames`` / ``discarded_bytes``, by the reason of the refusal).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Final, Protocol

from ingest.gateway.admission import (
    AUTH_BAD_PASSWORD,
    AUTH_UNKNOWN_MN,
    Admission,
    Admitted,
    Refused,
)
from ingest.gateway.config import GatewayConfig
from ingest.gateway.deadletter_budget import DeadLetterBudget
from ingest.gateway.energy_factors import energy_readings
from ingest.gateway.framing import Event, Frame, FrameExtractor, Junk
from ingest.gateway.publisher import Completion
from ingest.gateway.split import SplitAssembler
from ingest.gateway.stats import ACCEPTED, GatewayStats
from ingest.hj212 import CrcVariant, Packet, redact_password
from runtime.raw_record import Headers, encode_raw
from schemas.envelope import DeadLetter, RawEnvelope
from schemas.envelope import Protocol as WireProtocol

_log = logging.getLogger(__name__)

PUBLISH_FAILED: Final = "publish_failed"
"""``frames`` result of an admitted frame Kafka did not acknowledge (no ack is sent)."""
INTERNAL_ERROR: Final = "internal_error"
"""``frames`` result (and dead-letter reason) of a frame the gateway failed to process."""
_AUTH_REASONS: Final = frozenset({AUTH_UNKNOWN_MN, AUTH_BAD_PASSWORD})
_WRITE_HIGH_WATER: Final = 64 * 1024
_ACK_9014: Final = "9014"
_ANSWER_9011: Final = "9011"


class Hub(Protocol):
    """What a connection needs from the gateway that owns it (``ingest.gateway.server``)."""

    config: GatewayConfig
    deadletter_budget: DeadLetterBudget
    admission: Admission
    stats: GatewayStats
    inflight_total: int

    def send(
        self, topic: str, key: bytes, value: bytes, done: Completion, headers: Headers = ()
    ) -> None: ...
    def opened(self, connection: Hj212Connection) -> bool: ...
    def closed(self, connection: Hj212Connection) -> None: ...
    def device_online(self, mn: str) -> None: ...
    def device_offline(self, mn: str) -> None: ...
    def wait_for_budget(self, connection: Hj212Connection) -> None: ...


class Hj212Connection(asyncio.Protocol):
    """State of one TCP connection: framing, budget, devices seen, split packets."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._config = hub.config
        self._extractor = FrameExtractor(hub.config.max_frame_bytes)
        self._splits = SplitAssembler(hub.config.split_timeout_s)
        self._transport: asyncio.Transport | None = None
        self.peer = "?"
        self.peer_host = "?"
        self.connected_at = time.monotonic()
        self.last_frame_at = self.connected_at  # progress: a complete frame, not a byte
        self.frames_seen = 0
        self.inflight = 0
        self.mns: set[str] = set()
        self._crc_hint: CrcVariant = "hj212"
        self._received_at = datetime.now(UTC)
        self._received_mono = time.perf_counter()
        self._reading_paused = False
        self._writing_paused = False
        self._auth_failures = 0
        self._garbage_run = 0
        self._open = False
        self._finishing = False  # reading stopped for good; buffered frames handled at once
        self._condemned = False  # refused: nothing more of this connection is processed

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.peer_host = str(peer[0]) if isinstance(peer, tuple) else self.peer
        if not self._hub.opened(self):
            transport.abort()
            return
        self._open = True
        transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        self._received_at = datetime.now(UTC)
        self._received_mono = time.perf_counter()
        self._hub.stats.bytes_received += len(data)
        self._extractor.feed(data)
        self.pump()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self.pump()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._open:
            return
        self._handle_rest()
        self._open = False
        incomplete = len(self._splits.drain())
        if incomplete:
            self._hub.stats.split["incomplete"] += incomplete
        for mn in self.mns:
            self._hub.device_offline(mn)
        self.mns.clear()
        self._hub.closed(self)

    # -- flow ------------------------------------------------------------------------------

    @property
    def waiting_for_budget(self) -> bool:
        """Paused by the gateway's own budget (not the device's fault)."""
        return self._reading_paused and not self._writing_paused

    def pump(self) -> None:
        """Handle buffered frames while the budget allows; pause or resume reading."""
        hub, config = self._hub, self._config
        while self._open and not (self._finishing or self._condemned):
            if self._writing_paused:
                return
            if (
                self.inflight >= config.max_inflight_per_connection
                or hub.inflight_total >= config.max_inflight_total
            ):
                self._pause_reading()
                hub.wait_for_budget(self)
                return
            event = self._extractor.next_event()
            if event is None:
                break
            self._handle_event(event)
        if (
            self._reading_paused
            and self._open
            and not (self._finishing or self._condemned)
            and self._transport is not None
        ):
            self._reading_paused = False
            self._transport.resume_reading()

    def finish(self) -> None:
        """Stop reading for good and handle every complete frame already received now,
        whatever the budget (at shutdown, before the drain of records in flight); an
        unfinished frame becomes a ``truncated`` dead letter. Acks still go out until
        ``close``."""
        if not self._open or self._finishing or self._condemned:
            return
        self._finishing = True
        self._pause_reading()
        self._handle_rest()

    def close(self, reason: str) -> None:
        """Close the connection (flushing replies already written) and count why."""
        if self._transport is not None and not self._transport.is_closing():
            self._hub.stats.closed[reason] += 1
            self._transport.close()

    def refuse(self, reason: str) -> None:
        """Condemn the connection: close it (``reason``) and discard, unprocessed, what is
        left in its buffer, counting the frames and bytes discarded."""
        if self._condemned:
            return
        self._condemned = True
        stats, size = self._hub.stats, self._extractor.buffered
        stats.discarded_frames[reason] += sum(
            isinstance(event, Frame) for event in self._extractor.close()
        )
        stats.discarded_bytes[reason] += size
        self.close(reason)

    def expire_splits(self, now: float) -> None:
        """Count split packets given up (called by the gateway's periodic sweep)."""
        given_up = len(self._splits.expire(now))
        if given_up:
            self._hub.stats.split["incomplete"] += given_up

    def _pause_reading(self) -> None:
        if not self._reading_paused and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()

    # -- frames ----------------------------------------------------------------------------

    def _handle_rest(self) -> None:
        """Handle every event left in the buffer, then the unfinished tail, ignoring the
        budget; stops as soon as a refusal condemns the connection."""
        self._finishing = True
        while not self._condemned and (event := self._extractor.next_event()) is not None:
            self._handle_event(event)
        for event in [] if self._condemned else self._extractor.close():
            if self._condemned:
                break
            self._handle_event(event)

    def _handle_event(self, event: Event) -> None:
        if isinstance(event, Frame):
            self.frames_seen += 1
            self.last_frame_at = time.monotonic()
            self._handle_frame(event.data)
        else:
            self._handle_junk(event)

    def _handle_frame(self, frame: bytes) -> None:
        try:
            decision = self._hub.admission.admit(frame, self._received_at, self._crc_hint)
        except Exception:  # a bug in decoding one frame must not end the connection
            _log.exception("admission failed for a frame from %s", self.peer)
            decision = Refused(
                INTERNAL_ERROR, "the gateway could not process this frame", None, None
            )
        if isinstance(decision, Admitted):
            self._garbage_run = 0
            self._auth_failures = 0
            self._publish_admitted(decision, frame)
            return
        stats = self._hub.stats
        stats.frames[decision.reason] += 1
        self._dead_letter(decision.reason, decision.message, frame, decision.device_id)
        if decision.reply is not None:
            self._write(decision.reply, _ANSWER_9011)
        if decision.reason in _AUTH_REASONS:
            self._auth_failures += 1
            limit = self._config.max_auth_failures
            if limit and self._auth_failures >= limit:
                self.refuse("auth_failures")
        else:
            self._garbage_run = 0

    def _publish_admitted(self, admitted: Admitted, frame: bytes) -> None:
        packet, stats, hub = admitted.packet, self._hub.stats, self._hub
        mn = packet.mn
        self._crc_hint = admitted.crc
        if mn not in self.mns:
            self.mns.add(mn)
            hub.device_online(mn)
        if admitted.skewed:
            stats.clock_skewed += 1
        for finding in packet.warnings:
            stats.findings[finding.partition(":")[0]] += 1
        if packet.split and self._splits.add(packet, time.monotonic()) is not None:
            stats.split["complete"] += 1
        value, headers = encode_raw(WireProtocol.HJ212, mn, self.peer, self._received_at, frame)
        started = self._received_mono
        reply = admitted.reply
        energy = self._energy(packet, frame)
        pending = [2 if energy is not None else 1]
        failed: list[BaseException] = []

        def done(error: BaseException | None) -> None:
            """Once per record of the frame: the raw record and, with energy factors, the
            energy record; the frame is accepted (and acked) when Kafka took both."""
            self._settle()
            if error is not None:
                failed.append(error)
            pending[0] -= 1
            if pending[0]:
                return
            if failed:
                stats.frames[PUBLISH_FAILED] += 1
                stats.publish_failed["raw"] += 1
                return
            stats.frames[ACCEPTED] += 1
            stats.published["raw"] += 1
            stats.latency.record(time.perf_counter() - started)
            if reply is not None:
                self._write(reply, _ACK_9014)

        self._in_flight()
        hub.send(self._config.raw_topic, mn.encode(), value, done, headers)
        if energy is not None:
            self._in_flight()
            hub.send(self._config.energy_topic or "", energy[0], energy[1], done)

    def _energy(self, packet: Packet, frame: bytes) -> tuple[bytes, bytes] | None:
        """The energy record (key, value) of a frame's ``i3…`` factors, for the raw energy
        topic; its refused energy factors go to the dead-letter topic. ``None`` when the frame
        has no readings or the gateway publishes no energy (``energy_topic`` unset)."""
        if self._config.energy_topic is None:
            return None
        found = energy_readings(packet, self._hub.admission.registry, self._received_at)
        for refusal in found.refused:
            self._hub.stats.energy_factors[refusal.reason] += 1
            self._dead_letter(refusal.reason, refusal.message, frame, packet.mn)
        if found.batch is None:
            return None
        self._hub.stats.energy_factors["accepted"] += len(found.batch.readings)
        envelope = RawEnvelope(
            protocol=WireProtocol.ENERGY_JSON,
            device_id=found.batch.enterprise_id,
            peer=self.peer,
            received_at=self._received_at,
            payload=found.batch.model_dump_json().encode(),
        )
        return found.batch.enterprise_id.encode(), envelope.model_dump_json().encode()

    def _handle_junk(self, junk: Junk) -> None:
        stats = self._hub.stats
        stats.frames[junk.reason.value] += 1
        message = f"{len(junk.data)} bytes that are not an HJ 212 frame ({junk.reason.value})"
        self._dead_letter(junk.reason.value, message, junk.data, None)
        self._garbage_run += len(junk.data)
        limit = self._config.max_garbage_bytes
        if limit and self._garbage_run >= limit:
            self.refuse("garbage")

    def _dead_letter(self, reason: str, message: str, payload: bytes, mn: str | None) -> None:
        """Publish a dead letter (within the peer's budget) with the device password, if the
        bytes hold one, redacted (``PW=***``)."""
        hub = self._hub
        payload = redact_password(payload)
        if not hub.deadletter_budget.admit(self.peer_host, reason, payload, time.monotonic()):
            hub.stats.deadletters_suppressed[reason] += 1
            return
        record = DeadLetter(
            source=self._config.deadletter_source,
            reason=reason,
            message=message,
            peer=self.peer,
            device_id=mn,
            received_at=self._received_at,
            payload=payload,
        )
        stats = self._hub.stats

        def done(error: BaseException | None) -> None:
            self._settle()
            if error is None:
                stats.published["deadletter"] += 1
            else:
                stats.publish_failed["deadletter"] += 1

        self._in_flight()
        key = (mn or self.peer).encode()
        self._hub.send(self._config.deadletter_topic, key, record.model_dump_json().encode(), done)

    def _in_flight(self) -> None:
        self.inflight += 1
        self._hub.inflight_total += 1

    def _settle(self) -> None:
        """One record acknowledged or failed: resume a paused connection at half budget."""
        self.inflight -= 1
        self._hub.inflight_total -= 1
        if (
            self._reading_paused
            and not self._writing_paused
            and self.inflight <= self._config.max_inflight_per_connection // 2
        ):
            self.pump()

    def _write(self, reply: bytes, cn: str) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(reply)
            self._hub.stats.acks[cn] += 1
