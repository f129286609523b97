"""Decode one HJ 212 frame: ``##`` + 4-digit length + data segment + 4 hex CRC + optional CR LF.

Two entry points, both pure (no I/O, no clock) and safe from any thread:

- ``decode(frame)`` for the gateway: returns a ``Packet`` or raises ``DecodeError`` with the
  first problem found, in this order: ``too_long``, ``no_header``, ``bad_length_field``,
  ``missing_trailer``, ``length_mismatch``, ``bad_crc``, ``not_text``, ``bad_segment``,
  ``bad_cp``. It never raises anything else, whatever the input.
- ``inspect(frame)`` for diagnosis and the CLI: never raises ``DecodeError``; reports the
  length and CRC checks separately and decodes the segment even when one of them fails.

Bytes, not characters: the wire carries bytes. The segment is what lies between the length
field and the last 4 characters (after any trailing CR/LF is removed); the length field is
checked against its **byte** count and the CRC is computed over its bytes. HJ 212 text is
ASCII, for which bytes and characters agree. A segment that is not ASCII is read as UTF-8,
else GBK (the encodings Chinese devices use); when neither fits the frame is ``not_text``.
A ``str`` frame is encoded as UTF-8 first.

One frame per call: splitting a TCP stream into frames is the gateway's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields as dataclass_fields
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from ingest.hj212.crc import CrcVariant, crc_hj212, crc_value
from ingest.hj212.errors import DecodeError, ReasonCode
from ingest.hj212.packet import CHINA_TZ, FactorValue, Inspection, Packet

MAX_SEGMENT_BYTES: Final = 9999
"""Longest data segment a 4-digit length field can describe."""
_MAX_FRAME_BYTES: Final = 2 + 4 + MAX_SEGMENT_BYTES + 4
_HEX_DIGITS: Final = b"0123456789abcdefABCDEF"

TEXT_SUFFIXES: Final = frozenset({"Flag", "EFlag", "ZsFlag", "SampleTime", "RS", "Info"})
"""Suffixes whose values stay raw text: data flags, equipment status (``SBx-RS``), times and
information items. Every other value becomes a float when it is a plain decimal number."""
_NUMBER_CHARS: Final = "0123456789.-"

NON_NUMERIC_ST: Final = "non_numeric_st: ST is not a decimal system code"
"""``Packet.warnings`` item (a data-quality finding): the system code holds something other
than digits. Real 2016 traffic carries ``ST=\\x00\\x00`` in frames whose length and CRC are
right: the frame is kept (the raw record holds its bytes as sent) but its ST says nothing
about which system (air, water…) the values belong to."""
BAD_DATA_TIME: Final = "bad_data_time: DataTime is not a valid 14- or 17-digit date"
"""``Packet.warnings`` item: ``DataTime`` is present but not a date (its text stays in
``cp_params``)."""


def decode(frame: bytes | str, crc: CrcVariant = "hj212") -> Packet:
    """Decode one frame into a ``Packet``; raise ``DecodeError`` when it is not a good frame.

    ``crc`` is the device's CRC variant (``hj212`` unless the device is configured otherwise).
    """
    raw = _as_bytes(frame)
    segment = _segment(raw)
    if int(raw[2:6]) != len(segment):
        raise DecodeError(
            ReasonCode.LENGTH_MISMATCH,
            f"length field {int(raw[2:6])} but segment has {len(segment)} bytes",
        )
    expected = crc_hj212(segment) if crc == "hj212" else crc_value(segment, crc)
    if int(raw[-4:], 16) != expected:
        raise DecodeError(ReasonCode.BAD_CRC, f"CRC does not match the {crc} CRC of the segment")
    return parse_segment(_segment_text(segment))


def inspect(frame: bytes | str, crc: CrcVariant = "hj212") -> Inspection:
    """Check and decode one frame without raising; see ``Inspection`` for what is reported."""
    try:
        raw = _as_bytes(frame)
        segment = _segment(raw)
    except DecodeError as framing_error:
        return Inspection(error=framing_error, length_ok=None, crc_ok=None, packet=None)
    length_field = int(raw[2:6])
    length_ok = length_field == len(segment)
    crc_ok = int(raw[-4:], 16) == crc_value(segment, crc)
    error: DecodeError | None = None
    if not length_ok:
        error = DecodeError(
            ReasonCode.LENGTH_MISMATCH,
            f"length field {length_field} but segment has {len(segment)} bytes",
        )
    elif not crc_ok:
        error = DecodeError(ReasonCode.BAD_CRC, f"CRC does not match the {crc} CRC of the segment")
    packet: Packet | None = None
    try:
        packet = parse_segment(_segment_text(segment))
    except DecodeError as parse_error:
        error = error or parse_error
    return Inspection(error=error, length_ok=length_ok, crc_ok=crc_ok, packet=packet)


def _as_bytes(frame: bytes | str) -> bytes:
    if isinstance(frame, str):
        try:
            frame = frame.encode("utf-8")
        except UnicodeEncodeError:
            raise DecodeError(ReasonCode.NOT_TEXT, "frame is not encodable as UTF-8") from None
    return frame.rstrip(b"\r\n")


def _segment(raw: bytes) -> bytes:
    """The data segment of ``raw`` (CR LF removed), after checking header, length field and
    trailer are present and readable."""
    if len(raw) > _MAX_FRAME_BYTES:
        raise DecodeError(ReasonCode.TOO_LONG, f"frame of {len(raw)} bytes exceeds any length")
    if raw[:2] != b"##":
        raise DecodeError(ReasonCode.NO_HEADER, "frame does not start with ##")
    length_field = raw[2:6]
    if len(length_field) != 4 or not length_field.isdigit():
        raise DecodeError(ReasonCode.BAD_LENGTH_FIELD, "no 4-digit length after ##")
    if len(raw) < 10 or raw[-4:].translate(None, _HEX_DIGITS):
        raise DecodeError(ReasonCode.MISSING_TRAILER, "frame does not end with 4 hex CRC digits")
    return raw[6:-4]


def _segment_text(segment: bytes) -> str:
    try:
        return segment.decode("ascii")
    except UnicodeDecodeError:
        pass
    for encoding in ("utf-8", "gbk"):
        try:
            return segment.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DecodeError(ReasonCode.NOT_TEXT, "segment is neither ASCII, UTF-8 nor GBK text")


def parse_segment(text: str) -> Packet:
    """Parse a data segment ``QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;[PNUM=…;PNO=…;]CP=&&…&&``.

    Fields may come in any order; QN, PW, Flag, PNUM and PNO may be absent (2005 traffic has
    no QN nor Flag); ST, CN and MN are required. Raises ``DecodeError`` (``bad_segment``,
    ``bad_cp``). A non-numeric ST or an invalid DataTime does not make the frame unreadable:
    it is listed in ``Packet.warnings`` (``NON_NUMERIC_ST``, ``BAD_DATA_TIME``).
    """
    if text.startswith("CP=&&"):
        head, cp = "", text[5:]
    else:
        start = text.find(";CP=&&")
        if start < 0:
            raise DecodeError(ReasonCode.BAD_SEGMENT, "no CP=&& data area")
        head, cp = text[:start], text[start + 6 :]
    if not cp.endswith("&&"):
        raise DecodeError(ReasonCode.BAD_SEGMENT, "CP data area does not end with &&")
    fields = _segment_fields(head)
    values, cp_params = _cp_items(cp[:-2])

    st = fields.pop("ST", None)
    cn = fields.pop("CN", None)
    mn = fields.pop("MN", None)
    if not st or not cn or not mn:
        raise DecodeError(ReasonCode.BAD_SEGMENT, "ST, CN and MN are required")
    flag = _small_int(fields.pop("Flag", None), "Flag", 3)
    pnum = _small_int(fields.pop("PNUM", None), "PNUM", 9)
    pno = _small_int(fields.pop("PNO", None), "PNO", 9)
    split = flag is not None and bool(flag & 2)
    if split and (pnum is None or pno is None):
        raise DecodeError(ReasonCode.BAD_SEGMENT, "Flag D bit set but PNUM/PNO missing")

    data_time = None
    warnings: tuple[str, ...] = ()
    if not (st.isascii() and st.isdigit()):
        warnings = (NON_NUMERIC_ST,)
    data_time_text = cp_params.get("DataTime")
    if data_time_text is not None:
        data_time = parse_data_time(data_time_text)
        if data_time is None:
            warnings = (*warnings, BAD_DATA_TIME)
    return _new_packet(
        st,
        cn,
        mn,
        fields.pop("PW", None),
        fields.pop("QN", None),
        flag,
        pnum,
        pno,
        data_time,
        values,
        cp_params,
        fields,
        warnings,
    )


_PACKET_FIELDS: Final[tuple[Callable[[Packet, Any], None], ...]] = tuple(
    Packet.__dict__[f.name].__set__ for f in dataclass_fields(Packet)
)
"""Each ``Packet`` field's slot setter, in field order."""


def _new_packet(*values: Any) -> Packet:
    """``Packet(*values)`` (every field, positionally), its slots filled directly: a frozen
    dataclass's ``__init__`` goes through ``object.__setattr__`` per field, ~1 µs per frame
    more than this (once per frame; the result is equal and as immutable). Raises
    ``ValueError`` when ``values`` are not one per field."""
    packet = object.__new__(Packet)
    for set_field, value in zip(_PACKET_FIELDS, values, strict=True):
        set_field(packet, value)
    return packet


def _segment_fields(head: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    if not head:
        return fields
    for item in head.split(";"):
        key, sep, value = item.partition("=")
        if not sep or not key:
            if not item:
                continue
            raise DecodeError(ReasonCode.BAD_SEGMENT, "segment field is not key=value")
        if key in fields:
            raise DecodeError(ReasonCode.BAD_SEGMENT, f"segment field {key!r} repeated")
        fields[key] = value
    return fields


def _cp_items(body: str) -> tuple[dict[str, dict[str, FactorValue]], dict[str, str]]:
    """Split the CP area into factor values and other parameters.

    ``;`` separates items and ``,`` the fields of one item; both only separate
    ``key=value`` pairs, so the pairs are read in one pass.
    """
    values: dict[str, dict[str, FactorValue]] = {}
    params: dict[str, str] = {}
    if not body:
        return values, params
    key_cache = _KEY_CACHE
    number_chars = _NUMBER_CHARS
    for pair in body.replace(";", ",").split(","):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            if not pair:
                continue
            raise DecodeError(ReasonCode.BAD_CP, "CP item is not key=value")
        parsed = key_cache.get(key)
        if parsed is None:
            parsed = _cp_key(key)
        factor, suffix, is_text = parsed
        if factor is None:
            params[key] = value
            continue
        factor_values = values.get(factor)
        if factor_values is None:
            factor_values = values[factor] = {}
        if is_text or value.strip(number_chars):
            factor_values[suffix] = value
        else:
            try:
                factor_values[suffix] = float(value)
            except ValueError:
                factor_values[suffix] = value
    return values, params


_KEY_CACHE: dict[str, tuple[str | None, str, bool]] = {}
_KEY_CACHE_SIZE: Final = 8192


def _cp_key(key: str) -> tuple[str | None, str, bool]:
    """(factor, suffix, value stays text) for ``factor-suffix``; (None, key, True) for a CP
    parameter. Remembered: a network sends the same few hundred keys over and over."""
    factor, dash, suffix = key.rpartition("-")
    if not dash:
        parsed: tuple[str | None, str, bool] = (None, key, True)
    elif not factor or not suffix:
        raise DecodeError(ReasonCode.BAD_CP, f"CP key {key!r} is not factor-suffix")
    else:
        parsed = (factor, suffix, suffix in TEXT_SUFFIXES)
    if len(_KEY_CACHE) >= _KEY_CACHE_SIZE:
        _KEY_CACHE.clear()
    _KEY_CACHE[key] = parsed
    return parsed


def _small_int(text: str | None, name: str, max_digits: int) -> int | None:
    if text is None:
        return None
    if not (0 < len(text) <= max_digits and text.isascii() and text.isdigit()):
        raise DecodeError(
            ReasonCode.BAD_SEGMENT, f"{name} is not a number of 1-{max_digits} digits"
        )
    return int(text)


@lru_cache(maxsize=4096)
def parse_data_time(text: str) -> datetime | None:
    """``YYYYMMDDhhmmss`` or ``YYYYMMDDhhmmsszzz`` (China time) as an aware datetime in UTC+8;
    ``None`` when it is neither or not a valid date. Cached: frames of one interval share it.
    """
    if len(text) not in (14, 17) or not (text.isascii() and text.isdigit()):
        return None
    try:
        return datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
            int(text[14:17] or 0) * 1000,
            tzinfo=CHINA_TZ,
        )
    except ValueError:
        return None
