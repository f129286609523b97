"""The worker's decoding step on any input (no services needed): malformed input never raises,
it becomes a dead letter with the original bytes and a stable reason; good frames become
measurements. Property tests (hypothesis) over arbitrary Kafka values and frame bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from stream_dataset import EXAMPLE

from ingest.hj212 import CHINA_TZ, ReasonCode, encode, redact_password
from schemas.envelope import Protocol, RawEnvelope
from schemas.registry import load_registry
from streams.domain.errors import NormalizeReason
from streams.domain.normalize import normalize_packet
from streams.pipeline import RawRecord, decode_record, decode_records
from streams.sink import RejectedInput, SourcePosition

REGISTRY = load_registry(EXAMPLE)
KNOWN_REASONS = (
    {r.value for r in ReasonCode}
    | {r.value for r in NormalizeReason}
    | {"bad_envelope", "nul_byte", "unexpected_error"}
)
AT = SourcePosition("gw.raw.hj212", 3, 1234)
NOW = datetime(2026, 3, 2, tzinfo=UTC)


def record(value: bytes | None) -> RawRecord:
    return RawRecord(AT, value, NOW)


def envelope(payload: bytes, mn: str = "DEMO-TP01-G1") -> bytes:
    raw = RawEnvelope(protocol=Protocol.HJ212, device_id=mn, peer="10.0.0.1:5000",
                      received_at=NOW, payload=payload)  # fmt: skip
    return raw.model_dump_json().encode()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.binary(max_size=300)))
def test_a_value_that_is_not_an_envelope_is_dead_lettered_as_is(value: bytes | None) -> None:
    result = decode_record(record(value), REGISTRY, normalize_packet)
    assert isinstance(result, RejectedInput)
    assert result.letter.reason == "bad_envelope"
    assert result.letter.payload == redact_password(value or b"")  # PW=*** if any
    assert result.position == AT


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_any_frame_bytes_give_measurements_or_a_dead_letter_with_those_bytes(
    frame: bytes,
) -> None:
    result = decode_record(record(envelope(frame)), REGISTRY, normalize_packet)
    if isinstance(result, RejectedInput):
        assert result.letter.payload == redact_password(frame)
        assert result.letter.reason in KNOWN_REASONS
        assert result.letter.device_id == "DEMO-TP01-G1"
    else:
        assert all(m.device_id == "DEMO-TP01-G1" for m in result)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=0, max_value=60 * 24 * 365),
    st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda v: round(v, 3)),
)
def test_a_good_frame_becomes_its_measurements(minute: int, value: float) -> None:
    at = datetime(2026, 1, 1, tzinfo=CHINA_TZ) + timedelta(minutes=minute)
    frame = encode(st="31", cn="2051", mn="DEMO-TP01-G1", pw="123456", flag=5, data_time=at,
                   values={"a21026": {"Avg": value, "Flag": "N"}})  # fmt: skip
    result = decode_record(record(envelope(frame.encode())), REGISTRY, normalize_packet)
    assert not isinstance(result, RejectedInput)
    assert [(m.factor, m.period_start, m.avg) for m in result] == [("a21026", at, value)]


def test_a_batch_goes_on_past_its_poison() -> None:
    def frame(mn: str) -> bytes:
        at = datetime(2026, 1, 1, tzinfo=CHINA_TZ)
        text = encode(st="31", cn="2051", mn=mn, pw="123456", flag=5, data_time=at,
                      values={"a21026": {"Avg": 1.5}})  # fmt: skip
        return text.encode()

    good = frame("DEMO-TP01-G1")
    bad_crc = good[:-6] + (b"0000" if good[-6:-2] != b"0000" else b"FFFF") + b"\r\n"
    values = [
        b"garbage",
        envelope(good),
        envelope(frame("DEMO-XXXX-G1"), mn="DEMO-XXXX-G1"),
        envelope(bad_crc),
        envelope(good),
    ]
    decoded = decode_records([record(v) for v in values], REGISTRY, normalize_packet)
    assert len(decoded.measurements) == 2
    reasons = [r.letter.reason for r in decoded.rejected]
    assert reasons == ["bad_envelope", "unknown_device", "bad_crc"]
