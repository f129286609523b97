"""A faust message of the raw topic as the pipeline's ``RawRecord`` (``streams.agents.raw_record``,
issue 15 loop slice): position, value, broker time and headers; aiokafka's header tuple of
``(str, bytes)`` pairs is kept as it is (not rebuilt per record on the event loop), other
forms (a list, a mapping, null values) become the same tuple of pairs as before."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runtime.raw_record import decode_raw, encode_raw
from schemas.envelope import Protocol
from streams.agents import raw_record
from streams.sink import SourcePosition


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    value: bytes | None
    timestamp: float | None
    headers: Any


def _event(headers: Any, timestamp: float | None = 1_765_000_000.5) -> Message:
    return Message("gw.raw.hj212", 3, 41, b"##frame", timestamp, headers)


def test_aiokafkas_header_tuple_is_kept_as_it_is() -> None:
    value, headers = encode_raw(
        Protocol.HJ212, "MN1", "10.0.0.1:5000", datetime.now(UTC), b"##0101QN=1"
    )
    pairs = tuple(headers)  # what aiokafka hands faust: a tuple of (str, bytes)
    record = raw_record(_event(pairs))
    assert record.headers is pairs
    assert record.position == SourcePosition("gw.raw.hj212", 3, 41)
    assert record.value == b"##frame"
    assert record.timestamp == datetime.fromtimestamp(1_765_000_000.5, UTC)
    assert decode_raw(value, record.headers).device_id == "MN1"


def test_other_header_forms_become_pairs_of_str_and_bytes() -> None:
    expected = (("gw-version", b"2"), ("gw-empty", b""))
    assert raw_record(_event((("gw-version", b"2"), ("gw-empty", None)))).headers == expected
    assert raw_record(_event([("gw-version", b"2"), ("gw-empty", b"")])).headers == expected
    assert raw_record(_event({"gw-version": b"2", "gw-empty": None})).headers == expected
    assert raw_record(_event((("gw-version", bytearray(b"2")),))).headers == (("gw-version", b"2"),)
    assert raw_record(_event(None)).headers == ()
    assert raw_record(_event((), timestamp=None)).timestamp == datetime.fromtimestamp(0, UTC)
