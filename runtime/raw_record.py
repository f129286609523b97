"""The raw topic's record format: the one codec gateways write and workers read (pure).

Version 2 (``RAW_RECORD_VERSION``, written since issue 15) is Kafka-native: the record value
is the frame's bytes exactly as received, and the envelope's fields are record headers, so
``kafka-console-consumer --property print.headers=true`` shows a readable frame:

============================  ==========================================================
header                        value (UTF-8)
============================  ==========================================================
``gw.schema_version``         ``2``
``gw.protocol``               ``hj212`` or ``energy-json`` (``schemas.envelope.Protocol``)
``gw.device_id``              the HJ 212 MN (also the record key)
``gw.peer``                   ``host:port`` the bytes came from
``gw.received_at``            when the gateway received them, ISO 8601 with offset
============================  ==========================================================

Version 1 (``schemas.envelope.RawEnvelope``: a JSON object with the payload in URL-safe
base64, no headers) is what the raw topics held before; ``decode_raw`` still reads it, so a
topic written by an older gateway, a dump of it, or a replay from offset 0 decodes as before.
A record is version 2 when it carries the ``gw.schema_version`` header, else version 1.

Why: the profile of the worker (docs/perf.md) spent a JSON parse, a pydantic validation and
a base64 decode per frame before the frame itself was parsed; the headers cost a few dict
look-ups. Who reads and writes: the HJ 212 gateway writes, the stream worker reads (topic
``<prefix>.raw.hj212``); the ACLs are the topic's (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pydantic import ValidationError

from schemas.envelope import Protocol, RawEnvelope

RAW_RECORD_VERSION: Final = 2
"""Version of the records ``encode_raw`` writes (1 = the JSON ``RawEnvelope``)."""

VERSION_HEADER: Final = "gw.schema_version"
PROTOCOL_HEADER: Final = "gw.protocol"
DEVICE_HEADER: Final = "gw.device_id"
PEER_HEADER: Final = "gw.peer"
RECEIVED_HEADER: Final = "gw.received_at"

Headers = tuple[tuple[str, bytes], ...]
"""Kafka record headers as kafka-python and aiokafka take and give them."""

_PROTOCOLS: Final = {p.value: p for p in Protocol}


class InvalidRawRecord(ValueError):
    """A raw-topic record that is neither version 1 nor version 2; ``reason`` is the
    dead-letter reason (``bad_envelope``), ``message`` says what is wrong."""

    def __init__(self, message: str, reason: str = "bad_envelope") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One received unit of input, decoded from either version (the envelope's fields)."""

    schema_version: int
    protocol: Protocol
    device_id: str
    peer: str
    received_at: datetime
    payload: bytes


def encode_raw(
    protocol: Protocol, device_id: str, peer: str, received_at: datetime, payload: bytes
) -> tuple[bytes, Headers]:
    """(record value, headers) of a version-2 raw record. ``received_at`` must be aware."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    return payload, (
        (VERSION_HEADER, str(RAW_RECORD_VERSION).encode()),
        (PROTOCOL_HEADER, protocol.value.encode()),
        (DEVICE_HEADER, device_id.encode()),
        (PEER_HEADER, peer.encode()),
        (RECEIVED_HEADER, received_at.isoformat().encode()),
    )


def decode_raw(
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None = None,
) -> RawFrame:
    """The frame of a raw-topic record of either version. Raises ``InvalidRawRecord``."""
    found = dict(headers.items() if isinstance(headers, Mapping) else headers or ())
    version = found.get(VERSION_HEADER)
    if version is None:
        return _decode_v1(value or b"")
    if version != b"2":
        raise InvalidRawRecord(f"unsupported raw record version {version[:20]!r}")
    try:
        protocol = _PROTOCOLS[found[PROTOCOL_HEADER].decode()]
        device_id = found[DEVICE_HEADER].decode()
        peer = found[PEER_HEADER].decode()
        received_at = datetime.fromisoformat(found[RECEIVED_HEADER].decode())
    except KeyError as missing:
        raise InvalidRawRecord(f"raw record v2 without a valid header {missing}") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidRawRecord(f"raw record v2 with an unreadable header: {error}") from None
    if received_at.tzinfo is None:
        raise InvalidRawRecord(f"raw record v2: {RECEIVED_HEADER} has no UTC offset")
    return RawFrame(RAW_RECORD_VERSION, protocol, device_id, peer, received_at, value or b"")


def _decode_v1(value: bytes) -> RawFrame:
    try:
        envelope = RawEnvelope.model_validate_json(value)
    except ValidationError as error:
        raise InvalidRawRecord(f"not a RawEnvelope: {error.error_count()} errors") from None
    return RawFrame(1, envelope.protocol, envelope.device_id, envelope.peer,
                    envelope.received_at, envelope.payload)  # fmt: skip


def encode_raw_v1(frame: RawFrame) -> bytes:
    """The version-1 JSON of ``frame`` (what older gateways wrote; for tests and tools)."""
    envelope = RawEnvelope(
        protocol=frame.protocol,
        device_id=frame.device_id,
        peer=frame.peer,
        received_at=frame.received_at,
        payload=frame.payload,
    )
    return envelope.model_dump_json().encode()
