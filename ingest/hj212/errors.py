"""Errors of the HJ 212 codec.

Hierarchy (one root for the package)::

    Hj212Error                  root; catch this to catch everything the codec raises
    ├── DecodeError             a frame could not be decoded; carries a stable ``ReasonCode``
    └── EncodeError             fields given to the encoder cannot form a valid frame

Callers branch on ``DecodeError.reason`` (a ``ReasonCode``), never on message text. Messages
never contain the password (``PW``) or other segment values, only keys and positions, so they
may be logged and sent to the dead-letter topic as they are.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """Why a frame was rejected. Values are stable: they appear in logs, metrics and the CLI."""

    NOT_TEXT = "not_text"
    """The data segment is neither ASCII, UTF-8 nor GBK text."""
    TOO_LONG = "too_long"
    """The input is longer than any frame a 4-digit length field can describe."""
    NO_HEADER = "no_header"
    """The frame does not start with ``##``."""
    BAD_LENGTH_FIELD = "bad_length_field"
    """The 4 characters after ``##`` are not decimal digits."""
    MISSING_TRAILER = "missing_trailer"
    """The frame does not end with 4 hex CRC digits (optionally followed by CR LF)."""
    LENGTH_MISMATCH = "length_mismatch"
    """The length field differs from the byte count of the data segment."""
    BAD_CRC = "bad_crc"
    """The CRC printed in the frame differs from the CRC of the data segment."""
    BAD_SEGMENT = "bad_segment"
    """The data segment lacks ``CP=&&…&&``, a required field, or has a malformed field."""
    BAD_CP = "bad_cp"
    """An item of the ``CP`` data area is not ``key=value``."""


class Hj212Error(Exception):
    """Root of every error the HJ 212 codec raises."""


class DecodeError(Hj212Error):
    """A frame could not be decoded.

    ``reason`` is the stable machine-readable cause; ``message`` a short human explanation
    that never contains field values.
    """

    __slots__ = ("message", "reason")

    def __init__(self, reason: ReasonCode, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[DecodeError], tuple[ReasonCode, str]]:
        return (DecodeError, (self.reason, self.message))


class EncodeError(Hj212Error, ValueError):
    """The fields given to the encoder cannot form a valid frame (e.g. a value containing
    ``;`` or ``&&``, a non-finite number, a segment over 9999 bytes)."""
