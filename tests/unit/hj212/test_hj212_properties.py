"""Property tests of the codec: round trips and total robustness to garbage."""

from __future__ import annotations

import contextlib
import math
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.hj212 import (
    CRC_VARIANTS,
    DecodeError,
    ReasonCode,
    decode,
    encode,
    encode_packet,
    inspect,
)

ALPHANUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
code = st.text(ALPHANUM, min_size=1, max_size=8)
suffix = st.sampled_from(
    ["Rtd", "Avg", "Min", "Max", "Cou", "ZsRtd", "ZsAvg", "ZsMin", "ZsMax", "RS", "RT", "Ept"]
)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
flag_text = st.sampled_from(list("NFMSDCTB"))
number = st.one_of(finite, st.integers(-(10**12), 10**12))
factor_values = st.dictionaries(
    code,
    st.dictionaries(suffix, number, max_size=4).map(
        lambda d: {k: v for k, v in d.items() if k != "RS"}
    )
    | st.fixed_dictionaries({"Rtd": number, "Flag": flag_text}),
    max_size=6,
)
params = st.dictionaries(
    st.sampled_from(["RtdInterval", "HeartbeatTime", "QnRtn", "ExeRtn", "QN"]),
    st.text(ALPHANUM, max_size=10),
    max_size=3,
)


@st.composite
def frame_fields(draw: st.DrawFn) -> dict[str, Any]:
    split = draw(st.booleans())
    flag = draw(st.integers(0, 255).map(lambda f: f | 2 if split else f & ~2))
    fields: dict[str, Any] = {
        "st": draw(st.sampled_from(["22", "31", "32", "91"])),
        "cn": draw(st.sampled_from(["2011", "2051", "2061", "2031", "9014"])),
        "mn": draw(code),
        "pw": draw(st.none() | st.text(ALPHANUM, min_size=1, max_size=8)),
        "qn": draw(st.none() | st.text("0123456789", min_size=17, max_size=17)),
        "flag": draw(st.none() | st.just(flag)) if not split else flag,
        "cp_params": draw(params),
        "values": draw(factor_values),
        "crc": draw(st.sampled_from(CRC_VARIANTS)),
    }
    if split:
        total = draw(st.integers(1, 9999))
        fields["pnum"], fields["pno"] = total, draw(st.integers(1, total))
    return fields


@given(frame_fields())
def test_encode_decode_round_trip(fields: dict[str, Any]) -> None:
    frame = encode(**fields)
    crc = fields["crc"]
    packet = decode(frame, crc)
    assert (packet.st, packet.cn, packet.mn, packet.pw, packet.qn, packet.flag) == (
        fields["st"],
        fields["cn"],
        fields["mn"],
        fields["pw"],
        fields["qn"],
        fields["flag"],
    )
    assert packet.split == (fields["flag"] is not None and bool(fields["flag"] & 2))
    assert (packet.pnum, packet.pno) == (fields.get("pnum"), fields.get("pno"))
    assert packet.cp_params == fields["cp_params"]
    expected_values = {
        factor: {s: (float(v) if s != "Flag" else v) for s, v in suffixes.items()}
        for factor, suffixes in fields["values"].items()
        if suffixes
    }
    assert packet.values == expected_values
    assert encode_packet(decode(encode_packet(packet, crc), crc), crc) == encode_packet(packet, crc)


@given(finite)
@example(1e-300)
@example(1.7976931348623157e308)
@example(-0.0)
def test_numbers_survive_exactly(value: float) -> None:
    frame = encode(st="31", cn="2011", mn="M", values={"a21026": {"Rtd": value}})
    assert "e" not in frame.split("CP=", 1)[1]
    decoded = decode(frame).values["a21026"]["Rtd"]
    assert decoded == value and math.copysign(1, decoded) == math.copysign(1, value)  # type: ignore[arg-type]


@given(st.binary(max_size=600))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        decode(data)
    except DecodeError as error:
        assert isinstance(error.reason, ReasonCode)
    result = inspect(data)
    assert result.ok == (result.error is None)


@given(st.binary(max_size=400))
def test_arbitrary_segment_in_valid_envelope_raises_only_decode_error(segment: bytes) -> None:
    from ingest.hj212 import crc_text

    frame = b"##%04d" % len(segment) + segment + crc_text(segment).encode()
    try:
        decode(frame)
    except DecodeError as error:
        assert error.reason in {
            ReasonCode.NOT_TEXT,
            ReasonCode.BAD_SEGMENT,
            ReasonCode.BAD_CP,
        }
    assert inspect(frame).length_ok and inspect(frame).crc_ok


@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_decode_error(text: str) -> None:
    with contextlib.suppress(DecodeError):
        decode(text)


@given(frame_fields(), st.data())
def test_any_single_byte_change_is_caught_or_harmless(
    fields: dict[str, Any], data: st.DataObject
) -> None:
    frame = bytearray(encode(**fields).encode())
    position = data.draw(st.integers(0, len(frame) - 3))
    frame[position] = data.draw(st.integers(0, 255))
    with contextlib.suppress(DecodeError):
        decode(bytes(frame), fields["crc"])
