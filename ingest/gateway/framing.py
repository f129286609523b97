"""Split an HJ 212 TCP byte stream into frames: a pure, incremental frame extractor.

TCP delivers a byte stream, not frames: one ``recv`` may hold half a frame, three frames glued
together, or a modem's login bytes between two frames. ``FrameExtractor`` takes the bytes as
they arrive (``feed``) and hands out one event at a time (``next_event``):

- ``Frame(data)``: the bytes of one frame *candidate*, from ``##`` to its end (CR LF included
  when sent). Whether it is a good frame (length, CRC, fields) is the codec's verdict
  (``ingest.hj212.decode``), not the extractor's.
- ``Junk(data, reason)``: bytes that are not a frame (``JunkReason``).

Where a frame ends (HJ 212-2017 §6.3: ``##`` + 4-digit length + segment + 4 hex CRC + CR LF).
The length field says where CR LF should be; real traffic loses or adds characters, so the
extractor takes the first *terminator* after the header, either CR LF or the ``##`` of the next
frame, and cuts there:

- CR LF exactly where the length says: the normal frame.
- CR LF elsewhere: a frame whose length is wrong (the codec reports ``length_mismatch``).
- ``##`` exactly where the length says: a frame sent without CR LF, glued to the next one.
- ``##`` elsewhere: a truncated frame followed by a new one (the codec rejects the first).
- no terminator within ``max_frame_bytes``, or a length field claiming more: ``frame_too_large``
  junk; the extractor skips to the next terminator without buffering the rest.

Resync: after anything that is not a frame, the search restarts at the next ``##``. Bytes
before it are ``garbage`` junk, except CR/LF/space/tab alone, which are dropped silently.

Decisions depend only on bytes already seen and are final, so the frames found do not depend
on how the stream was cut into ``feed`` calls (junk may come in different pieces). A device
that omits CR LF has each frame delivered when the next frame's ``##`` arrives, its last one
when the connection ends.

Memory: the buffer never holds more than ``max_frame_bytes`` of one undecided frame plus the
bytes of one ``feed`` call. Pure: no I/O, no clock; not thread-safe (one per connection).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

HEADER: Final = b"##"
CRLF: Final = b"\r\n"
_HEADER_LEN: Final = 6  # "##" + 4 length digits
_CRC_LEN: Final = 4
_BLANK: Final = b"\r\n\t "
_COMPACT_AT: Final = 64 * 1024


class JunkReason(StrEnum):
    """Why bytes were not taken as a frame. Values are stable (metrics, dead-letter reasons)."""

    GARBAGE = "garbage"
    """Bytes between frames that do not start with ``##`` + 4 digits."""
    FRAME_TOO_LARGE = "frame_too_large"
    """A frame longer than the configured limit (by its length field or by its bytes)."""
    TRUNCATED = "truncated"
    """The connection closed in the middle of a frame."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame candidate: ``##`` up to and including its terminator (CR LF when sent)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Junk:
    """Bytes that are not a frame; ``data`` is capped at the extractor's ``max_frame_bytes``."""

    data: bytes
    reason: JunkReason


Event = Frame | Junk


class FrameExtractor:
    """Incremental HJ 212 frame extractor over one connection's byte stream.

    ``max_frame_bytes`` is the largest frame accepted, CR LF included (HJ 212 allows a
    9 999-byte segment, i.e. 10 012 bytes on the wire; real frames exceed 1 024).
    """

    __slots__ = ("_buf", "_max", "_scan", "_skip_prefix", "_skipping", "_start")

    def __init__(self, max_frame_bytes: int = 8192) -> None:
        if max_frame_bytes < _HEADER_LEN + _CRC_LEN + 2:
            raise ValueError(f"max_frame_bytes {max_frame_bytes} cannot hold a frame")
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._start = 0  # first byte not yet handed out
        self._scan = 0  # where the search for "##" resumes (>= _start)
        self._skipping = False  # inside an oversized frame, looking for its end
        self._skip_prefix = b""

    @property
    def buffered(self) -> int:
        """Bytes received and not yet handed out (excluding skipped oversized frames)."""
        return len(self._buf) - self._start

    def feed(self, data: bytes) -> None:
        """Append bytes received from the connection. Never raises, whatever the bytes."""
        if self._start >= _COMPACT_AT or (self._start and self._start == len(self._buf)):
            del self._buf[: self._start]
            self._scan -= self._start
            self._start = 0
        self._buf += data

    def next_event(self) -> Event | None:
        """The next frame or junk, or ``None`` until more bytes are fed."""
        while True:
            if self._skipping:
                return self._skip_oversized()
            buf = self._buf
            header = buf.find(HEADER, self._scan)
            if header < 0:
                return self._no_header()
            if len(buf) - header < _HEADER_LEN:  # cannot tell yet whether it is a header
                if header - self._start >= self._max:
                    return self._garbage(header)
                return None
            digits = buf[header + 2 : header + _HEADER_LEN]
            if not (digits.isdigit() and digits.isascii()):
                self._scan = header + 1
                continue
            if header > self._start:
                if junk := self._garbage(header):
                    return junk
                continue
            return self._frame_at(header, int(digits))

    def close(self) -> list[Event]:
        """Events for the bytes left when the connection ends (after draining ``next_event``):
        a last frame sent without CR LF whose bytes are all there by its length field is a
        ``Frame``; an unfinished frame is ``truncated`` junk, anything else ``garbage``."""
        events: list[Event] = []
        while (event := self.next_event()) is not None:
            events.append(event)
        if self._skipping:
            self._skipping = False
            events.append(Junk(self._skip_prefix, JunkReason.FRAME_TOO_LARGE))
            self._skip_prefix = b""
        rest = self._take(len(self._buf))
        if _whole_frame(rest):
            events.append(Frame(rest))
        elif rest.strip(_BLANK):
            reason = JunkReason.TRUNCATED if rest.startswith(HEADER) else JunkReason.GARBAGE
            events.append(Junk(rest[: self._max], reason))
        return events

    def _take(self, end: int) -> bytes:
        data = bytes(self._buf[self._start : end])
        self._start = end
        self._scan = max(self._scan, end)
        return data

    def _no_header(self) -> Junk | None:
        """No ``##`` after ``_scan``: hand out garbage once it reaches the frame limit."""
        buf = self._buf
        keep = 1 if buf.endswith(b"#") else 0
        self._scan = max(self._scan, len(buf) - keep)
        if self._scan - self._start >= self._max:
            return self._garbage(self._scan)
        return None

    def _garbage(self, end: int) -> Junk | None:
        """Hand out the bytes up to ``end`` as garbage; ``None`` when they are only blanks."""
        junk = self._take(end)
        if junk.strip(_BLANK):
            return Junk(junk[: self._max], JunkReason.GARBAGE)
        return None

    def _frame_at(self, header: int, length: int) -> Event | None:
        """Decide about the frame whose header ``##dddd`` is at ``header`` (== ``_start``)."""
        buf = self._buf
        size = len(buf)
        claimed_end = header + _HEADER_LEN + length + _CRC_LEN  # where CR LF belongs
        if claimed_end + len(CRLF) - header > self._max:
            return self._start_skipping(header)
        limit = min(size, header + self._max)
        crlf = buf.find(CRLF, header + _HEADER_LEN, limit)
        next_header = buf.find(HEADER, header + 2, limit if crlf < 0 else crlf)
        if next_header >= 0:
            return Frame(self._take(next_header))
        if crlf >= 0:
            return Frame(self._take(crlf + len(CRLF)))
        if size - header >= self._max:
            return self._start_skipping(header)
        return None

    def _start_skipping(self, header: int) -> Event | None:
        """Enter skip mode for the oversized frame at ``header`` (== ``_start``)."""
        self._skipping = True
        self._skip_prefix = b""
        self._absorb(header + len(HEADER))  # its own "##" is not the next frame's
        return self._skip_oversized()

    def _skip_oversized(self) -> Junk | None:
        """Drop an oversized frame up to its terminator, keeping its first bytes for the
        dead-letter record."""
        buf = self._buf
        crlf = buf.find(CRLF, self._start)
        next_header = buf.find(HEADER, self._start, len(buf) if crlf < 0 else crlf)
        if next_header >= 0:
            end = next_header
        elif crlf >= 0:
            end = crlf + len(CRLF)
        else:
            keep = 1 if buf.endswith((b"#", b"\r")) else 0
            self._absorb(len(buf) - keep)
            return None
        self._absorb(end)
        self._skipping = False
        junk, self._skip_prefix = self._skip_prefix, b""
        return Junk(junk, JunkReason.FRAME_TOO_LARGE)

    def _absorb(self, end: int) -> None:
        room = self._max - len(self._skip_prefix)
        piece = self._take(end)
        if room > 0:
            self._skip_prefix += piece[:room]


def _whole_frame(data: bytes) -> bool:
    """``data`` is ``##`` + 4-digit length + exactly that many bytes + 4 CRC characters."""
    digits = data[2:_HEADER_LEN]
    return (
        data.startswith(HEADER)
        and digits.isdigit()
        and digits.isascii()
        and len(data) == _HEADER_LEN + int(digits) + _CRC_LEN
    )
