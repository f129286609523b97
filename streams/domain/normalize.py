"""Decoded HJ 212 packets → ``Measurement``s (one per factor), codes mapped to HJ 212-2017.

Command → period: 2011 real-time (实时数据) → ``rtd``; 2051 minute (分钟数据) → ``minute``;
2061 hourly (小时数据) → ``hour``; 2031 daily (日数据) → ``day``. Every other command
(heartbeats, 9014 data acks, 2021 run status, 2041 run time…) carries no measurement and
gives ``[]``.

- ``period_start``: the packet's ``DataTime`` (China time). For minute/hour/day data it is the
  start of the period and is floored to that boundary (a device that sends
  ``DataTime=20240501120030`` for a minute means the minute starting 12:00); real-time data
  keep the sampling instant.
- Factor codes of HJ/T 212-2005 (``01``, ``B02``, ``S01``…) become 2017 codes through the
  codec's map (``ingest.hj212.factor_code_2005_to_2017``, HJ 212-2017 Appendix B); unmapped
  codes are kept as sent. ``factor_as_sent`` always keeps the original.
- Suffixes used: Rtd, Avg, Min, Max, Cou, ZsRtd, ZsAvg (numbers) and Flag (default ``N``,
  upper-cased). A factor with no numeric value (equipment status ``SB1-RS``, text values) is
  skipped; when two codes map to the same 2017 factor the later one in the frame wins.
- ``outlet_id`` comes from the registry; a packet from an MN the registry does not know is
  refused with ``NormalizeError(UNKNOWN_DEVICE)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from ingest.hj212 import Packet, factor_code_2005_to_2017
from ingest.hj212.packet import FactorValue
from schemas.measurement import SCHEMA_VERSION, DataFlag, Measurement, PeriodKind
from schemas.registry import Registry
from streams.domain.errors import NormalizeError, NormalizeReason
from streams.domain.periods import china_time, day_start, hour_start, minute_start

PERIOD_OF_COMMAND: Final[Mapping[str, PeriodKind]] = {
    "2011": PeriodKind.RTD,
    "2051": PeriodKind.MINUTE,
    "2061": PeriodKind.HOUR,
    "2031": PeriodKind.DAY,
}
"""HJ 212-2017 command codes (CN) that carry measurements, and the period of each."""


def normalize_packet(
    packet: Packet, received_at: datetime, registry: Registry
) -> list[Measurement]:
    """The measurements of one decoded packet, received at ``received_at`` (aware).

    Raises ``NormalizeError`` (``unknown_device``, ``missing_data_time``); pure otherwise.
    """
    period = PERIOD_OF_COMMAND.get(packet.cn)
    if period is None:
        return []
    found = registry.device(packet.mn)
    if found is None:
        raise NormalizeError(
            NormalizeReason.UNKNOWN_DEVICE, "MN is not in the registry", mn=packet.mn
        )
    if packet.data_time is None:
        raise NormalizeError(
            NormalizeReason.MISSING_DATA_TIME,
            f"CN {packet.cn} without a readable DataTime",
            mn=packet.mn,
        )
    start = _period_start(packet.data_time, period)
    code_map = factor_code_2005_to_2017()
    new, flags = tuple.__new__, _FLAGS
    # One frame's shared fields, read once; each value is a tuple built in C, in
    # ``Measurement._fields`` order (``tests/unit/streams/test_streams_normalize_frame.py``).
    device_id, outlet_id, qn, version = packet.mn, found.outlet.id, packet.qn, SCHEMA_VERSION
    measurements: dict[str, Measurement] = {}
    for sent, fields in packet.values.items():
        rtd = avg = low = high = cou = zs_rtd = zs_avg = None
        flag: FactorValue | None = fields.get("Flag") if len(fields) == 2 else None
        if flag is not None and (avg := fields.get("Avg")).__class__ is float:
            pass  # the usual minute/hour factor: its mean and its flag, nothing to search
        elif flag is not None and (rtd := fields.get("Rtd")).__class__ is float:
            avg = None  # the usual real-time factor: its value and its flag
        else:
            # One pass over the fields the device sent, tested in the order they are most
            # often sent; a field that is not a number is left out.
            rtd = avg = None
            flag = "N"
            found_number = False
            for suffix, value in fields.items():
                if suffix == "Flag":
                    flag = value
                elif not isinstance(value, float):
                    continue
                elif suffix == "Avg":
                    avg, found_number = value, True
                elif suffix == "Rtd":
                    rtd, found_number = value, True
                elif suffix == "Min":
                    low, found_number = value, True
                elif suffix == "Max":
                    high, found_number = value, True
                elif suffix == "Cou":
                    cou, found_number = value, True
                elif suffix == "ZsRtd":
                    zs_rtd, found_number = value, True
                elif suffix == "ZsAvg":
                    zs_avg, found_number = value, True
            if not found_number:
                continue  # no number at all: equipment status, text values
        flag = flags.get(flag) or _flag(flag)
        factor = code_map.get(sent, sent)
        measurements[factor] = new(
            Measurement,
            (device_id, factor, sent, period, start, received_at, version, outlet_id,
             rtd, avg, low, high, cou, zs_rtd, zs_avg, flag, qn),
        )  # fmt: skip
    return list(measurements.values())


def _period_start(data_time: datetime, period: PeriodKind) -> datetime:
    if period is PeriodKind.RTD:
        return china_time(data_time)
    if period is PeriodKind.MINUTE:
        return minute_start(data_time)
    if period is PeriodKind.HOUR:
        return hour_start(data_time)
    return day_start(data_time)


def _flag(value: FactorValue | None) -> str:
    if isinstance(value, str):
        known = _FLAGS.get(value)
        if known is not None:
            return known
        if value.strip():
            return value.strip().upper()
    return "N"


_FLAGS: Final[dict[FactorValue, str]] = {
    sent: f.value for f in DataFlag for sent in (f.value, f.value.lower())
}
"""The HJ 212-2017 flags as sent (either case): what ``_flag`` makes of them, without work."""
