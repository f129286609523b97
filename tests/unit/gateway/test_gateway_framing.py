"""Framing of an HJ 212 TCP stream: what a device's bytes turn into, however TCP cuts them."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.gateway.framing import Frame, FrameExtractor, Junk, JunkReason
from ingest.hj212 import CHINA_TZ, decode, encode


def _frame(mn: str = "MN-1", value: float = 12.5, extra_factors: int = 0) -> bytes:
    values: dict[str, dict[str, float | str]] = {"a21026": {"Rtd": value, "Flag": "N"}}
    for index in range(extra_factors):
        values[f"a9{index:04d}"] = {"Rtd": value + index, "Flag": "N"}
    return encode(
        st="31",
        cn="2011",
        mn=mn,
        pw="123456",
        qn="20260101120000000",
        flag=5,
        data_time=datetime(2026, 1, 1, 12, tzinfo=CHINA_TZ),
        values=values,
    ).encode()


def _drain(extractor: FrameExtractor) -> list[Frame | Junk]:
    events: list[Frame | Junk] = []
    while (event := extractor.next_event()) is not None:
        events.append(event)
    return events


def _run(chunks: list[bytes], max_frame_bytes: int = 8192) -> list[Frame | Junk]:
    extractor = FrameExtractor(max_frame_bytes)
    events: list[Frame | Junk] = []
    for chunk in chunks:
        extractor.feed(chunk)
        events.extend(_drain(extractor))
    events.extend(extractor.close())
    return events


def _frames(events: list[Frame | Junk]) -> list[bytes]:
    return [event.data for event in events if isinstance(event, Frame)]


def test_one_frame_in_one_read_is_one_frame() -> None:
    frame = _frame()
    assert _run([frame]) == [Frame(frame)]


def test_frame_split_byte_by_byte_is_delivered_once_complete() -> None:
    frame = _frame()
    extractor = FrameExtractor()
    for byte in frame[:-1]:
        extractor.feed(bytes([byte]))
        assert extractor.next_event() is None
    extractor.feed(frame[-1:])
    assert extractor.next_event() == Frame(frame)
    assert extractor.next_event() is None
    assert extractor.buffered == 0


def test_glued_frames_in_one_read_come_out_in_order() -> None:
    frames = [_frame(mn=f"MN-{n}", value=n) for n in range(5)]
    assert _run([b"".join(frames)]) == [Frame(f) for f in frames]


def test_garbage_between_frames_is_reported_and_framing_resyncs() -> None:
    first, second = _frame(mn="A"), _frame(mn="B")
    events = _run([first + b"\x00\xffAT+LOGIN=123#\r\n" + second])
    assert events == [
        Frame(first),
        Junk(b"\x00\xffAT+LOGIN=123#\r\n", JunkReason.GARBAGE),
        Frame(second),
    ]


def test_blank_bytes_between_frames_are_not_junk() -> None:
    first, second = _frame(mn="A"), _frame(mn="B")
    assert _run([first + b"\r\n\r\n  " + second]) == [Frame(first), Frame(second)]


def test_hash_signs_that_do_not_start_a_header_are_garbage() -> None:
    frame = _frame()
    events = _run([b"##ab#" + frame])
    assert events == [Junk(b"##ab#", JunkReason.GARBAGE), Frame(frame)]


def test_frame_without_crlf_is_cut_at_the_next_header() -> None:
    first, second = _frame(mn="A"), _frame(mn="B")
    events = _run([first[:-2] + second])
    assert events == [Frame(first[:-2]), Frame(second)]
    assert decode(events[0].data).mn == "A"


def test_frame_with_lost_characters_is_cut_at_its_crlf_for_the_codec_to_reject() -> None:
    first, second = _frame(mn="A"), _frame(mn="B")
    damaged = first[:40] + first[45:]  # length field now claims 5 bytes more than sent
    events = _run([damaged + second])
    assert events == [Frame(damaged), Frame(second)]


def test_truncated_frame_followed_by_a_new_one_is_cut_at_the_new_header() -> None:
    first, second = _frame(mn="A"), _frame(mn="B")
    assert _run([first[:50] + second]) == [Frame(first[:50]), Frame(second)]


def test_length_field_beyond_the_limit_is_skipped_without_buffering() -> None:
    big = _frame(extra_factors=150)
    after = _frame(mn="AFTER")
    assert len(big) > 2048
    extractor = FrameExtractor(max_frame_bytes=1024)
    events: list[Frame | Junk] = []
    for start in range(0, len(big), 100):
        extractor.feed(big[start : start + 100])
        events.extend(_drain(extractor))
        assert extractor.buffered <= 200
    extractor.feed(after)
    events.extend(_drain(extractor))
    assert events == [Junk(big[:1024], JunkReason.FRAME_TOO_LARGE), Frame(after)]


def test_unterminated_frame_is_dropped_once_it_passes_the_limit() -> None:
    header = b"##0010QN=1;ST=32;"  # claims 10 bytes, never ends
    events = _run([header + b"x" * 5000 + b"\r\n" + _frame()], max_frame_bytes=1024)
    assert [type(e) for e in events] == [Junk, Frame]
    assert isinstance(events[0], Junk) and events[0].reason is JunkReason.FRAME_TOO_LARGE
    assert len(events[0].data) == 1024


def test_endless_garbage_is_handed_out_in_bounded_pieces() -> None:
    extractor = FrameExtractor(max_frame_bytes=1024)
    pieces: list[Frame | Junk] = []
    for _ in range(50):
        extractor.feed(b"\x01" * 1000)
        pieces.extend(_drain(extractor))
        assert extractor.buffered < 1024
    assert pieces and all(isinstance(p, Junk) and len(p.data) <= 1024 for p in pieces)


def test_connection_closing_inside_a_frame_reports_it_truncated() -> None:
    frame = _frame()
    assert _run([frame, frame[:30]]) == [Frame(frame), Junk(frame[:30], JunkReason.TRUNCATED)]


def test_last_frame_without_crlf_is_a_frame_when_the_connection_ends() -> None:
    frame = _frame().removesuffix(b"\r\n")
    assert _run([frame, frame]) == [Frame(frame), Frame(frame)]
    assert _run([frame[:-1]]) == [Junk(frame[:-1], JunkReason.TRUNCATED)]


def test_too_small_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        FrameExtractor(max_frame_bytes=8)


_GARBAGE = st.binary(max_size=40).map(lambda b: b.replace(b"#", b"").replace(b"\r\n", b""))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=6),
    garbage=st.lists(_GARBAGE, min_size=7, max_size=7),
    cuts=st.lists(st.integers(1, 5000), max_size=12),
)
def test_every_frame_survives_any_segmentation_and_garbage(
    values: list[float], garbage: list[bytes], cuts: list[int]
) -> None:
    frames = [_frame(mn=f"MN-{n}", value=v) for n, v in enumerate(values)]
    stream = garbage[0] + b"".join(f + g for f, g in zip(frames, garbage[1:], strict=False))
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]

    events = _run(chunks)

    assert _frames(events) == frames
    junk = b"".join(e.data for e in events if isinstance(e, Junk))
    assert junk == b"".join(g for g in garbage if g.strip(b"\r\n\t "))[: len(junk)]


@settings(max_examples=300, deadline=None)
@given(stream=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=10))
def test_arbitrary_bytes_never_raise_and_frames_do_not_depend_on_segmentation(
    stream: bytes, cuts: list[int]
) -> None:
    stream = stream.replace(b"\x00", b"##0012")  # make header-like bytes common
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]

    whole = _run([stream], max_frame_bytes=256)
    cut = _run(chunks, max_frame_bytes=256)

    assert _frames(cut) == _frames(whole)
    assert all(len(e.data) <= 256 for e in cut)
