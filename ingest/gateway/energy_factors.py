"""Energy factors in HJ 212 frames (the ``i3…`` codes, domain.md §2) → energy meter readings.

Some devices send electricity beside their pollutants: ``i33201`` a cumulative kWh register,
``i33202`` the day's kWh. A meter in the registry names the device and the code it is read
from (``Meter.hj212``); ``energy_readings(packet, registry, received_at)`` turns an admitted
frame's energy factors into the same ``EnergyRecord`` s the energy HTTP API makes, checked by
the same code (``ingest.energy.admission.admit``: unit, kind, clock skew), so the energy worker
derives them exactly as posted readings. Pure: no I/O, no clock.

Which frames and values are read: only frames of the channel's command (``Meter.hj212.cn``;
default real-time data, CN 2011, for a cumulative register and daily data, CN 2031, for an
interval meter): the others carry the same energy at another resolution (``Cou`` of a minute
or an hour is that period's amount, not a register value) and are passed over, neither read
nor refused. A register's ``Rtd`` at the frame's ``DataTime``; an interval meter's ``Cou``
(else ``Rtd``) for the period starting at ``DataTime``: a day for CN 2031, the meter's
real-time interval otherwise.

Refused factors (each becomes a dead letter of the whole frame; the frame's pollutants are
unaffected): ``unknown_energy_code`` (no meter of the device's enterprise is read from that
code), ``bad_energy_value`` (no numeric value, or no ``DataTime``), and the admission codes
(``wrong_kind``, ``clock_skew``, ``non_finite`` …).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from ingest.energy.admission import admit
from ingest.hj212 import Packet
from schemas.energy import EnergyBatch, Meter, ReadingKind, StatType
from schemas.registry import Registry

ENERGY_CODE_PREFIX: Final = "i3"
UNKNOWN_ENERGY_CODE: Final = "unknown_energy_code"
BAD_ENERGY_VALUE: Final = "bad_energy_value"
DAILY_CN: Final = "2031"
REAL_TIME_CN: Final = "2011"


@dataclass(frozen=True, slots=True)
class EnergyRefusal:
    """One energy factor of a frame that is not a reading: a stable reason and a message."""

    code: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class EnergyFactors:
    """The readings of a frame (``None`` when it has none) and its refused energy factors."""

    batch: EnergyBatch | None = None
    refused: list[EnergyRefusal] = field(default_factory=list)


NONE: Final = EnergyFactors()


def energy_readings(packet: Packet, registry: Registry, received_at: datetime) -> EnergyFactors:
    """The energy readings of an admitted frame (its MN is a registered device).

    Never raises; a frame without ``i3…`` factors returns ``NONE`` at the cost of one scan
    of its factor codes.
    """
    codes = [code for code in packet.values if code.startswith(ENERGY_CODE_PREFIX)]
    if not codes:
        return NONE
    site = registry.device(packet.mn)
    if site is None:  # not admitted: the caller's mistake, but never a reading
        return EnergyFactors(None, [_unknown(packet, code) for code in codes])
    enterprise = site.enterprise
    items: list[dict[str, Any]] = []
    item_codes: list[str] = []
    refused: list[EnergyRefusal] = []
    for code in codes:
        found = registry.energy_channel(packet.mn, code)
        if found is None or found[0].id != enterprise.id:
            refused.append(_unknown(packet, code))
            continue
        if packet.cn != channel_cn(found[1]):
            continue
        item = _item(packet, code, found[1])
        if isinstance(item, EnergyRefusal):
            refused.append(item)
            continue
        items.append(item)
        item_codes.append(code)
    admission = admit("readings", items, enterprise, registry, received_at)
    for refusal in admission.refused:
        code = item_codes[refusal.index]
        message = f"{code} of device {packet.mn}: {refusal.reason} ({refusal.path})"
        refused.append(EnergyRefusal(code, refusal.code, message))
    readings = [record.reading for _, record in admission.accepted if record.reading]
    batch = EnergyBatch(enterprise_id=enterprise.id, readings=readings) if readings else None
    return EnergyFactors(batch, refused)


def _item(packet: Packet, code: str, meter: Meter) -> dict[str, Any] | EnergyRefusal:
    values = packet.values[code]
    order = ("Rtd",) if meter.kind is ReadingKind.CUMULATIVE else ("Cou", "Rtd")
    value = next((values[s] for s in order if isinstance(values.get(s), float)), None)
    if value is None:
        sent = ", ".join(f"{s}={v}" for s, v in values.items()) or "nothing"
        return EnergyRefusal(
            code, BAD_ENERGY_VALUE, f"{code} of device {packet.mn}: no numeric value ({sent})"
        )
    if packet.data_time is None:
        return EnergyRefusal(
            code, BAD_ENERGY_VALUE, f"{code} of device {packet.mn}: the frame has no DataTime"
        )
    at = packet.data_time.isoformat()
    item: dict[str, Any] = {"meter_id": meter.id, "value": value, "unit": meter.unit}
    if meter.kind is ReadingKind.CUMULATIVE:
        item["instant"] = at
    else:
        item["period_start"] = at
        daily = packet.cn == DAILY_CN
        item["stat_type"] = (StatType.DAY if daily else StatType.REALTIME).value
    return item


def channel_cn(meter: Meter) -> str:
    """The data command whose frames carry ``meter``'s readings (see the module docstring)."""
    if meter.hj212 is not None and meter.hj212.cn is not None:
        return meter.hj212.cn
    return REAL_TIME_CN if meter.kind is ReadingKind.CUMULATIVE else DAILY_CN


def _unknown(packet: Packet, code: str) -> EnergyRefusal:
    message = f"device {packet.mn} sends {code}, which no meter of its enterprise is read from"
    return EnergyRefusal(code, UNKNOWN_ENERGY_CODE, message)
