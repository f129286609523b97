"""Build HJ 212 frames: for the simulator, the tests and the gateway's replies.

Pure functions, no I/O. The frame returned is text; its wire form is ``frame.encode()``
(UTF-8, which is ASCII for every standard field). The length field counts the bytes of the
segment in that form, matching ``decode``.

Segment order: ``QN;ST;CN;PW;MN;Flag;PNUM;PNO;CP=&&…&&``, absent fields left out. In CP the
parameters (``DataTime``…) come first, each its own ``;`` item, then one item per factor
with its suffixes joined by ``,``. Numbers are written in the shortest positional form that
reads back to the same float (``0.1``, ``12``, ``0.00001``), never in exponent form.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import IntEnum
from typing import Final

from ingest.hj212.crc import CrcVariant, crc_text
from ingest.hj212.decode import MAX_SEGMENT_BYTES
from ingest.hj212.errors import EncodeError
from ingest.hj212.packet import CHINA_TZ, Packet

CN_DATA_ACK: Final = "9014"
CN_REQUEST_ACK: Final = "9011"
ST_SYSTEM: Final = "91"
_FORBIDDEN: Final = (";", ",", "=", "&", "\r", "\n")


class QnRtn(IntEnum):
    """Request answer codes carried by CN 9011 (HJ 212-2017, request answer table) [src]."""

    READY = 1
    REJECTED = 2
    PW_ERROR = 3
    MN_ERROR = 4
    ST_ERROR = 5
    FLAG_ERROR = 6
    QN_ERROR = 7
    CN_ERROR = 8
    CRC_ERROR = 9
    UNKNOWN_ERROR = 100


def encode(
    *,
    st: str,
    cn: str,
    mn: str,
    pw: str | None = None,
    qn: str | None = None,
    flag: int | None = None,
    pnum: int | None = None,
    pno: int | None = None,
    data_time: datetime | None = None,
    cp_params: Mapping[str, str] | None = None,
    values: Mapping[str, Mapping[str, float | int | str]] | None = None,
    crc: CrcVariant = "hj212",
) -> str:
    """A complete frame ``##dddd…CRC\\r\\n`` from fields.

    ``data_time`` (aware; converted to UTC+8) is written as ``DataTime=YYYYMMDDhhmmss`` and
    must not also be in ``cp_params``. ``values`` maps factor code → {suffix: value}.
    Raises ``EncodeError`` for a value holding a separator (``; , = &`` or CR/LF), a
    non-finite number, a naive ``data_time``, or a segment over 9999 bytes.
    """
    head: list[tuple[str, str | int | None]] = [
        ("QN", qn),
        ("ST", st),
        ("CN", cn),
        ("PW", pw),
        ("MN", mn),
        ("Flag", flag),
        ("PNUM", pnum),
        ("PNO", pno),
    ]
    if not (st and cn and mn):
        raise EncodeError("ST, CN and MN are required")
    parts = [f"{key}={_text(value)}" for key, value in head if value is not None]
    items: list[str] = []
    params = dict(cp_params or {})
    if data_time is not None:
        if "DataTime" in params:
            raise EncodeError("DataTime given twice (data_time and cp_params)")
        params = {"DataTime": format_data_time(data_time), **params}
    items.extend(f"{_name(key)}={_text(value)}" for key, value in params.items())
    for factor, suffixes in (values or {}).items():
        if suffixes:
            factor_text = _text(factor)
            if not factor_text:
                raise EncodeError("a factor code cannot be empty")
            items.append(
                ",".join(
                    f"{factor_text}-{_name(suffix)}={_text(value)}"
                    for suffix, value in suffixes.items()
                )
            )
    parts.append("CP=&&" + ";".join(items) + "&&")
    return frame_segment(";".join(parts), crc)


def frame_segment(segment: str, crc: CrcVariant = "hj212") -> str:
    """Wrap a data segment in ``##``, length, CRC and CR LF. Raises ``EncodeError`` when the
    segment is over 9999 bytes."""
    data = segment.encode("utf-8")
    if len(data) > MAX_SEGMENT_BYTES:
        raise EncodeError(f"segment of {len(data)} bytes exceeds {MAX_SEGMENT_BYTES}")
    return f"##{len(data):04d}{segment}{crc_text(data, crc)}\r\n"


def encode_packet(packet: Packet, crc: CrcVariant = "hj212") -> str:
    """Encode a decoded ``Packet`` again (same fields; canonical order and number format)."""
    return encode(
        st=packet.st,
        cn=packet.cn,
        mn=packet.mn,
        pw=packet.pw,
        qn=packet.qn,
        flag=packet.flag,
        pnum=packet.pnum,
        pno=packet.pno,
        cp_params=packet.cp_params,
        values=packet.values,
        crc=crc,
    )


def encode_ack_9014(packet: Packet, crc: CrcVariant = "hj212") -> str:
    """The data ack (CN 9014) a platform sends for a packet with the A bit set: same PW and
    MN, ST=91, the sender's QN echoed where the sender put it (``_reply_echo``) and Flag in
    the sender's version without the A bit (``_reply_flag``): ``CP=&&&&`` for HJ 212-2017,
    ``CP=&&QN=…&&`` for an HJ/T 212-2005 device that sent its QN inside CP."""
    qn, cp_params = _reply_echo(packet)
    return encode(
        st=ST_SYSTEM,
        cn=CN_DATA_ACK,
        mn=packet.mn,
        pw=packet.pw,
        qn=qn,
        flag=_reply_flag(packet),
        cp_params=cp_params,
        crc=crc,
    )


def encode_qn_rtn(packet: Packet, code: QnRtn | int, crc: CrcVariant = "hj212") -> str:
    """The request answer (CN 9011) for a command packet: same PW and MN, ST=91, QN and
    Flag as for ``encode_ack_9014``, ``CP=&&[QN=…;]QnRtn=<code>&&``."""
    qn, cp_params = _reply_echo(packet)
    return encode(
        st=ST_SYSTEM,
        cn=CN_REQUEST_ACK,
        mn=packet.mn,
        pw=packet.pw,
        qn=qn,
        flag=_reply_flag(packet),
        cp_params={**cp_params, "QnRtn": str(int(code))},
        crc=crc,
    )


def _reply_flag(packet: Packet) -> int | None:
    """Flag of a reply to ``packet``: the sender's protocol version bits (0 for HJ/T
    212-2005, 1 for HJ 212-2017…) with the A and D bits clear, so a device is answered in the
    version it speaks; ``None`` (no Flag field) when the sender sent none."""
    version = packet.version
    return None if version is None else version << 2


def _reply_echo(packet: Packet) -> tuple[str | None, dict[str, str]]:
    """Where a reply carries the sender's QN: ``(QN for the header, CP parameters)``.

    HJ 212-2017 devices put QN in the header and get it back there. HJ/T 212-2005 devices
    answering or notifying (ST=91, CN 1013/9011…) put it inside CP (``CP=&&QN=…``); they get
    it back inside CP, where they look for it. A QN in both places is echoed in both; a
    packet without QN gets a reply without QN."""
    cp_qn = packet.cp_params.get("QN")
    return packet.qn, ({} if cp_qn is None else {"QN": cp_qn})


def format_data_time(moment: datetime) -> str:
    """``YYYYMMDDhhmmss`` in China time (UTC+8). Raises ``EncodeError`` for a naive datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise EncodeError("data_time must be timezone-aware")
    return moment.astimezone(CHINA_TZ).strftime("%Y%m%d%H%M%S")


def format_number(number: float | int) -> str:
    """Shortest positional decimal that reads back as the same float (``repr`` without
    exponent). Raises ``EncodeError`` for NaN and infinities."""
    if isinstance(number, bool):
        raise EncodeError("a boolean is not an HJ 212 value")
    if isinstance(number, int):
        return str(number)
    if not math.isfinite(number):
        raise EncodeError("NaN and infinities cannot be sent")
    text = repr(number)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def _name(key: str) -> str:
    """A CP parameter name or a suffix: not empty and without ``-`` (which separates factor
    from suffix)."""
    text = _text(key)
    if not text or "-" in text:
        raise EncodeError("a CP parameter name or suffix must be non-empty, without '-'")
    return text


def _text(value: object) -> str:
    text = format_number(value) if isinstance(value, float | int) else str(value)
    if any(mark in text for mark in _FORBIDDEN):
        raise EncodeError("an HJ 212 field or value cannot contain ; , = & CR or LF")
    return text
