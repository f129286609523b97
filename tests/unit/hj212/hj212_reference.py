"""Helpers for the HJ 212 codec tests: the public packets in ``shared/data/hj212`` (beside
the repository, as CI lays it out) and a slow, independent reading of a frame's length and
CRC to judge the decoder against."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HJ212_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "hj212"


@dataclass(frozen=True)
class Vector:
    id: str
    expect: str
    source: str
    packet: str


def load_vectors() -> list[Vector]:
    rows = []
    for line in (HJ212_DATA / "vectors.tsv").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(Vector(*line.split("\t")))
    return rows


def capture_lines() -> list[bytes]:
    """Every non-blank line of capture-2016/, LF split, trailing CR dropped, in file order."""
    lines: list[bytes] = []
    for path in sorted((HJ212_DATA / "capture-2016").glob("*.h212")):
        for line in path.read_bytes().split(b"\n"):
            line = line.rstrip(b"\r")
            if line.strip():
                lines.append(line)
    return lines


def reference_crc(segment: bytes) -> int:
    """HJ 212-2017 Appendix A, bit by bit, as the standard prints it."""
    crc = 0xFFFF
    for byte in segment:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0xA001
    return crc


def reference_checks(frame: bytes) -> tuple[bool, bool] | None:
    """(length right, CRC right) for ``##dddd<segment><4 hex>``, or None when the frame has
    no such shape."""
    hexdigits = b"0123456789abcdefABCDEF"
    if (
        len(frame) < 10
        or frame[:2] != b"##"
        or not all(48 <= c <= 57 for c in frame[2:6])
        or not all(c in hexdigits for c in frame[-4:])
    ):
        return None
    segment = frame[6:-4]
    return int(frame[2:6]) == len(segment), int(frame[-4:], 16) == reference_crc(segment)
