"""HJ 212 codec (HJ 212-2017 and HJ/T 212-2005 traffic): pure, no I/O.

Public surface::

    decode(frame, crc="hj212") -> Packet            raises DecodeError(reason, message)
    inspect(frame, crc="hj212") -> Inspection       never raises; length_ok / crc_ok apart
    encode(st=, cn=, mn=, ...) -> str               a frame with length, CRC and CR LF
    encode_packet(packet) / encode_ack_9014(packet) / encode_qn_rtn(packet, QnRtn.READY)
    crc_hj212(bytes) / crc_modbus(bytes) / crc_text(bytes, variant)
    redact_password(bytes) -> bytes                 PW=*** for bytes kept as evidence
    factor_code_2005_to_2017() -> mapping of 2005 factor codes to 2017 codes

Errors: ``Hj212Error`` ← ``DecodeError`` (with a ``ReasonCode``), ``EncodeError``.
"""

from ingest.hj212.codes import factor_code_2005_to_2017
from ingest.hj212.crc import CRC_VARIANTS, CrcVariant, crc_hj212, crc_modbus, crc_text, crc_value
from ingest.hj212.decode import TEXT_SUFFIXES, decode, inspect, parse_data_time
from ingest.hj212.encode import (
    QnRtn,
    encode,
    encode_ack_9014,
    encode_packet,
    encode_qn_rtn,
    format_data_time,
    format_number,
    frame_segment,
)
from ingest.hj212.errors import DecodeError, EncodeError, Hj212Error, ReasonCode
from ingest.hj212.packet import CHINA_TZ, FactorValue, Inspection, Packet
from ingest.hj212.redact import redact_password

__all__ = [
    "CHINA_TZ",
    "CRC_VARIANTS",
    "TEXT_SUFFIXES",
    "CrcVariant",
    "DecodeError",
    "EncodeError",
    "FactorValue",
    "Hj212Error",
    "Inspection",
    "Packet",
    "QnRtn",
    "ReasonCode",
    "crc_hj212",
    "crc_modbus",
    "crc_text",
    "crc_value",
    "decode",
    "encode",
    "encode_ack_9014",
    "encode_packet",
    "encode_qn_rtn",
    "factor_code_2005_to_2017",
    "format_data_time",
    "format_number",
    "frame_segment",
    "inspect",
    "parse_data_time",
    "redact_password",
]
