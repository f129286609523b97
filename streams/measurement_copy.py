"""The binary ``COPY`` data of a batch's measurements, built per frame (PostgreSQL's format).

``PgSink`` writes a batch of new measurement keys with one binary ``COPY`` straight into
``measurements`` (``streams.upserts.copy_new_measurements``). Handing psycopg one row tuple per
measurement cost the commit thread ~0.4 µs to build the tuple and ~1.3 µs in ``write_row`` (16
columns, each through its dumper) per measurement; ``measurement_copy_data`` builds the same
bytes from the batch's ``Frame``s instead: what a frame's measurements share (device, period,
period start, ``received_at``, outlet, QN) is encoded once per frame, a factor code or flag
once per process (they repeat), and per measurement only its numbers are packed
(docs/perf.md, "Eighth slice (cols)"). The bytes equal what psycopg's binary ``COPY`` makes of
``measurement_rows`` (``tests/unit/streams/test_streams_measurement_copy.py``).

The format (PostgreSQL docs, "COPY", binary format): the signature and two zero int32s, then
per row an int16 column count and per column an int32 length (−1 for NULL) and the value;
the trailer is int16 −1. ``text`` is the string's UTF-8 bytes
(``copy_new_measurement_data`` switches a session with another client encoding to UTF-8),
``float8`` the IEEE double big-endian, ``timestamptz`` the int64 microseconds since
2000-01-01 00:00 UTC. Pure: no I/O; safe from any thread.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

from streams.domain.frames import Frame

MEASUREMENT_COLUMNS: Final = (
    "device_id", "factor", "period", "period_start", "outlet_id", "factor_as_sent",
    "rtd", "avg", "min", "max", "cou", "zs_rtd", "zs_avg", "flag", "received_at", "qn",
)  # fmt: skip
"""The columns of a measurement row, in the order of ``measurement_rows`` and of this data."""

SIGNATURE: Final = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
"""A binary ``COPY``'s header: the signature, no flags, no header extension."""
TRAILER: Final = b"\xff\xff"
_NULL: Final = b"\xff\xff\xff\xff"
_COLUMN_COUNT: Final = len(MEASUREMENT_COLUMNS).to_bytes(2, "big")
_FLOAT8: Final = struct.Struct(">id").pack
_TIMESTAMP: Final = struct.Struct(">iq").pack
_PG_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_TEXT_CACHE_SIZE: Final = 4096
_texts: dict[str, bytes] = {}
"""Encoded texts that repeat across frames (factor codes, flags): a bounded memo."""


def measurement_copy_data(frames: Iterable[Frame]) -> bytes:
    """The whole binary ``COPY`` (header, one row per measurement in ``MEASUREMENT_COLUMNS``
    order, trailer) of the frames' measurements, in order. The caller makes sure no natural
    key occurs twice (the rows are not deduplicated). Raises ``TypeError`` on a naive time."""
    out = [SIGNATURE]
    add, join, texts = out.append, b"".join, _texts
    for frame in frames:
        first = frame.measurements[0]
        outlet, qn = first.outlet_id, first.qn
        head = _COLUMN_COUNT + _text(frame.device_id)
        period = _text(frame.period) + _timestamp(frame.period_start)
        outlet_text = _text(outlet)
        tail = _timestamp(frame.received_at) + _text(qn)
        for m in frame.measurements:
            (_, factor, sent, _, _, _, _, m_outlet, rtd, avg, low, high, cou, zs_rtd, zs_avg,
             flag, m_qn) = m  # fmt: skip
            add(
                join((
                    head, texts.get(factor) or _repeated(factor), period,
                    outlet_text if m_outlet is outlet else _text(m_outlet),
                    texts.get(sent) or _repeated(sent),
                    _NULL if rtd is None else _FLOAT8(8, rtd),
                    _NULL if avg is None else _FLOAT8(8, avg),
                    _NULL if low is None else _FLOAT8(8, low),
                    _NULL if high is None else _FLOAT8(8, high),
                    _NULL if cou is None else _FLOAT8(8, cou),
                    _NULL if zs_rtd is None else _FLOAT8(8, zs_rtd),
                    _NULL if zs_avg is None else _FLOAT8(8, zs_avg),
                    texts.get(flag) or _repeated(flag),
                    tail if m_qn is qn else tail[:12] + _text(m_qn),
                ))
            )  # fmt: skip
    add(TRAILER)
    return b"".join(out)


def _text(value: str | None) -> bytes:
    """A ``text`` column's field: length and UTF-8 bytes, or NULL."""
    if value is None:
        return _NULL
    encoded = value.encode()
    return len(encoded).to_bytes(4, "big") + encoded


def _repeated(value: str) -> bytes:
    """``_text`` of a value that repeats across frames, remembered (bounded)."""
    field = _text(value)
    if len(_texts) >= _TEXT_CACHE_SIZE:
        _texts.clear()
    _texts[value] = field
    return field


def _timestamp(value: datetime) -> bytes:
    """A ``timestamptz`` column's field of an aware time."""
    return _TIMESTAMP(8, (value - _PG_EPOCH) // _MICROSECOND)
