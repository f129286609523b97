"""The decoded HJ 212 packet (HJ 212-2017 §6, HJ/T 212-2005) and the result of inspecting one
frame.

A ``Packet`` keeps codes as sent: 2005 factor codes (``01``, ``B02``, ``S01``…) stay as they
are; mapping them to 2017 codes (``ingest.hj212.codes``) is the stream normalizer's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Final

from ingest.hj212.errors import DecodeError

CHINA_TZ: Final = timezone(timedelta(hours=8), "CST")
"""China Standard Time, UTC+8: the clock of every HJ 212 ``DataTime`` and ``QN``."""

FactorValue = float | str
"""A value in the CP area: a float for numbers, the raw text for flags (``Flag``, ``EFlag``:
N/F/M/S/D/C/T/B), equipment status (``SBx-RS``), ``SampleTime``, ``Info`` and any value that
is not a plain decimal number."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One well-formed HJ 212 frame, decoded.

    - ``qn``: request id ``YYYYMMDDhhmmsszzz`` as sent; ``None`` in 2005-era traffic.
    - ``st``: system code (``"31"`` air pollution source, ``"32"`` water…), as sent.
    - ``cn``: command code (``"2011"`` real-time, ``"2051"`` minute, ``"2061"`` hourly…).
    - ``pw``: access password. Never shown by ``repr`` and never printed by the CLI.
    - ``mn``: device id.
    - ``flag``: the ``Flag`` field, ``None`` when absent (2005-era traffic).
    - ``version`` (property): ``(flag >> 2) & 0x3F`` (0 HJ/T 212-2005, 1 HJ 212-2017,
      2 HJ 212-2025); ``None`` when there is no ``Flag``.
    - ``needs_ack`` (property): A bit (flag & 1): the sender waits for a 9014 data ack.
    - ``split`` (property): D bit (flag & 2): one part of a split packet; ``pnum``/``pno``
      are then present.
    - ``pnum``, ``pno``: total packets and this packet's number (1-based), or ``None``.
    - ``data_time``: ``DataTime`` as an aware datetime in UTC+8 (14 or 17 digits; the 17th
      to 15th digits are milliseconds), ``None`` when absent or not a valid date; the raw
      text stays in ``cp_params["DataTime"]`` and a bad one is listed in ``warnings``.
      For CN 2051/2061/2031 it is the start of the period; for 2011 the sampling instant.
    - ``values``: factor code as sent → {suffix: value}, in the order of the frame, e.g.
      ``{"a21026": {"Rtd": 12.3, "ZsRtd": 14.1, "Flag": "N"}}``. A factor-suffix repeated
      in one frame keeps the last value.
    - ``cp_params``: CP items that are not ``factor-suffix`` pairs (``DataTime``,
      ``RtdInterval``, ``QnRtn``, ``ExeRtn``, ``HeartbeatTime``, ``QN``…), raw text.
    - ``extra``: segment fields other than QN/ST/CN/PW/MN/Flag/PNUM/PNO/CP, raw text.
    - ``warnings``: data-quality findings, things a well-formed frame got wrong that do not
      make it unreadable, each ``"<code>: <message>"``: ``non_numeric_st`` (an ST such as
      ``\\x00\\x00``, seen in real 2016 traffic), ``bad_data_time``.

    The mappings are plain dicts for speed; treat them as read-only.
    """

    st: str
    cn: str
    mn: str
    pw: str | None = field(default=None, repr=False)
    qn: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    data_time: datetime | None = None
    values: Mapping[str, Mapping[str, FactorValue]] = field(default_factory=dict)
    cp_params: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def version(self) -> int | None:
        """Protocol version from Flag bits V5..V0: 0 HJ/T 212-2005, 1 HJ 212-2017, 2 HJ
        212-2025; ``None`` without a Flag (typical of 2005-era traffic)."""
        return None if self.flag is None else (self.flag >> 2) & 0x3F

    @property
    def needs_ack(self) -> bool:
        """A bit: the sender waits for a 9014 data ack with the same QN."""
        return self.flag is not None and bool(self.flag & 1)

    @property
    def split(self) -> bool:
        """D bit: one part of a split packet, numbered by ``pnum``/``pno``."""
        return self.flag is not None and bool(self.flag & 2)


@dataclass(frozen=True, slots=True)
class Inspection:
    """Everything known about one frame, good or bad (what ``greenwatch hj212 decode`` prints).

    - ``error``: the first problem found, ``None`` when the frame is good.
    - ``length_ok``: the length field equals the byte count of the data segment; ``None``
      when there is no readable length field (no ``##``, non-digits, frame too short).
    - ``crc_ok``: the CRC printed equals the CRC of the data segment; ``None`` when there is
      no readable CRC.
    - ``packet``: the decoded fields when the segment parses, even if length or CRC are
      wrong (useful to diagnose a device); ``None`` otherwise.
    """

    error: DecodeError | None
    length_ok: bool | None
    crc_ok: bool | None
    packet: Packet | None

    @property
    def ok(self) -> bool:
        """The frame is well formed, with a right length and CRC."""
        return self.error is None
