"""The raw topic's record codec (runtime.raw_record): version 2 carries the frame as the record
value and the envelope as headers; version-1 JSON envelopes (older gateways, old topics) still
decode, to the same frame and to the same measurements in the worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.hj212 import CHINA_TZ, encode
from runtime.raw_record import (
    RAW_RECORD_VERSION,
    VERSION_HEADER,
    InvalidRawRecord,
    RawFrame,
    decode_raw,
    encode_raw,
    encode_raw_v1,
)
from schemas.envelope import Protocol
from schemas.registry import load_registry
from streams.domain.normalize import normalize_packet
from streams.pipeline import RawRecord, decode_record
from streams.sink import KeyedDeadLetter, SourcePosition

NOW = datetime(2026, 3, 2, 8, 0, 3, 125000, tzinfo=CHINA_TZ)
EXAMPLE = Path(__file__).parents[2] / "schemas" / "examples" / "demo-province.yaml"


def frame_bytes(mn: str = "DEMO-TP01-G1") -> bytes:
    at = datetime(2026, 3, 2, 8, 0, tzinfo=CHINA_TZ)
    return encode(st="31", cn="2051", mn=mn, pw="123456", flag=5, data_time=at,
                  values={"a21026": {"Avg": 21.5, "Flag": "N"}}).encode()  # fmt: skip


def test_version_2_is_the_frame_as_value_and_the_envelope_as_readable_headers() -> None:
    frame = frame_bytes()
    value, headers = encode_raw(Protocol.HJ212, "DEMO-TP01-G1", "10.0.0.1:5000", NOW, frame)
    assert value == frame  # any Kafka tool prints the HJ 212 frame itself
    assert dict(headers) == {
        "gw.schema_version": b"2",
        "gw.protocol": b"hj212",
        "gw.device_id": b"DEMO-TP01-G1",
        "gw.peer": b"10.0.0.1:5000",
        "gw.received_at": b"2026-03-02T08:00:03.125000+08:00",
    }
    assert RAW_RECORD_VERSION == 2


@settings(max_examples=200, deadline=None)
@given(
    payload=st.binary(max_size=300),
    device=st.text(min_size=1, max_size=30),
    peer=st.text(max_size=40),
    offset_min=st.integers(min_value=-12 * 60, max_value=14 * 60),
    micros=st.integers(min_value=0, max_value=10**12),
)
def test_both_versions_decode_to_the_same_frame(
    payload: bytes, device: str, peer: str, offset_min: int, micros: int
) -> None:
    zone = timezone(timedelta(minutes=offset_min))
    received = datetime(2020, 1, 1, tzinfo=UTC).astimezone(zone) + timedelta(microseconds=micros)
    value, headers = encode_raw(Protocol.HJ212, device, peer, received, payload)
    v2 = decode_raw(value, headers)
    assert v2 == RawFrame(2, Protocol.HJ212, device, peer, received, payload)
    v1 = decode_raw(encode_raw_v1(v2), ())
    assert (v1.schema_version, v1.device_id, v1.peer, v1.payload) == (1, device, peer, payload)
    assert v1.received_at == received
    assert decode_raw(value, dict(headers)) == v2  # faust may hand headers as a mapping


def test_the_worker_reads_both_versions_into_the_same_measurements() -> None:
    registry = load_registry(EXAMPLE)
    frame = frame_bytes()
    value, headers = encode_raw(Protocol.HJ212, "DEMO-TP01-G1", "10.0.0.1:5000", NOW, frame)
    at = SourcePosition("gw.raw.hj212", 0, 7)
    new = decode_record(RawRecord(at, value, NOW, headers), registry, normalize_packet)
    old_value = encode_raw_v1(decode_raw(value, headers))
    old = decode_record(RawRecord(at, old_value, NOW), registry, normalize_packet)
    assert not isinstance(new, KeyedDeadLetter) and not isinstance(old, KeyedDeadLetter)
    assert new == old
    assert [(m.factor, m.avg, m.received_at) for m in new] == [("a21026", 21.5, NOW)]


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({VERSION_HEADER: b"3"}, "unsupported raw record version"),
        ({VERSION_HEADER: b"2"}, "without a valid header"),
        (
            {
                VERSION_HEADER: b"2",
                "gw.protocol": b"smoke-signals",
                "gw.device_id": b"X",
                "gw.peer": b"p",
                "gw.received_at": b"2026-03-02T08:00:00+08:00",
            },
            "without a valid header",
        ),
        (
            {
                VERSION_HEADER: b"2",
                "gw.protocol": b"hj212",
                "gw.device_id": b"X",
                "gw.peer": b"p",
                "gw.received_at": b"yesterday",
            },
            "unreadable header",
        ),
        (
            {
                VERSION_HEADER: b"2",
                "gw.protocol": b"hj212",
                "gw.device_id": b"X",
                "gw.peer": b"p",
                "gw.received_at": b"2026-03-02T08:00:00",
            },
            "no UTC offset",
        ),
    ],
)
def test_a_bad_version_2_record_is_a_dead_letter_with_its_bytes(
    headers: dict[str, bytes], why: str
) -> None:
    with pytest.raises(InvalidRawRecord, match=why):
        decode_raw(b"##0000", headers)
    registry = load_registry(EXAMPLE)
    at = SourcePosition("gw.raw.hj212", 1, 9)
    letter = decode_record(RawRecord(at, b"##0000", NOW, tuple(headers.items())), registry,
                           normalize_packet)  # fmt: skip
    assert isinstance(letter, KeyedDeadLetter)
    assert (letter.letter.reason, letter.letter.payload, letter.position) == (
        "bad_envelope",
        b"##0000",
        at,
    )
    assert why in letter.letter.message
