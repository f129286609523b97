"""Admission of one HJ 212 frame: decode, authenticate the device, measure its clock, build the
reply. Pure: no I/O, no clock (``received_at`` is passed in); safe to unit-test without sockets.

For every frame candidate the gateway calls ``Admission.admit`` and gets either

- ``Admitted``: a good frame from a registered device with the right password. It goes to the
  raw topic; ``reply`` is the 9014 data ack (HJ 212-2017 §6.6, CN 9014, ST=91, same QN) when
  the Flag's A bit asks for one, to be sent once the record is durable in Kafka; or
- ``Refused``: it goes to the dead-letter topic with ``reason`` (a stable code, see
  ``REFUSAL_REASONS``) and ``message``; ``reply`` is a request answer (CN 9011, ``QnRtn`` 4
  "MN error" or 3 "PW error") when an authentication failure hit a frame whose A bit asks
  for a reply, else ``None``. Frames that cannot be decoded get no reply: their QN and MN
  cannot be trusted, and the device re-sends what is not acked.

Authentication (设备认证): the MN must be in the registry and ``PW`` must match its stored
digest (``Device.password_matches``: keyed with the platform's device key, or a legacy
unkeyed digest from a registry file not loaded through the database). The frame's CRC must
be the device's configured variant (``Device.crc``): Appendix A unless the registry says
``modbus``/``modbus-le``.

Clock skew (时钟偏差): the device's clock is read from ``QN`` (``YYYYMMDDhhmmsszzz``, stamped
when the device sends) and, when QN is absent, from ``DataTime`` of real-time data (CN 2011,
the sampling instant). ``DataTime`` of minute/hourly/daily data is a period start, legitimately
minutes to a day old, and re-sent history is old on purpose, so neither is used. A frame
whose clock is off by more than the limit is still admitted: it is counted, and the streams
flag it from the raw record.

Messages never contain the password.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ingest.hj212 import (
    CrcVariant,
    DecodeError,
    Hj212Error,
    Packet,
    QnRtn,
    ReasonCode,
    decode,
    encode_ack_9014,
    encode_qn_rtn,
    inspect,
    parse_data_time,
)
from schemas.registry import CrcVariant as RegistryCrc
from schemas.registry import Device, Registry

AUTH_UNKNOWN_MN: Final = "auth_unknown_mn"
"""The MN is not in the registry."""
AUTH_BAD_PASSWORD: Final = "auth_bad_password"
"""The PW is absent or does not match the registry's digest for this MN."""
BAD_SPLIT: Final = "bad_split"
"""PNO is not between 1 and PNUM in a split packet (Flag D bit)."""

REFUSAL_REASONS: Final = (
    *(code.value for code in ReasonCode),
    AUTH_UNKNOWN_MN,
    AUTH_BAD_PASSWORD,
    BAD_SPLIT,
)
"""Every ``Refused.reason``: the codec's ``ReasonCode`` values and the gateway's own."""

REAL_TIME_CN: Final = "2011"
_CRC_OF: Final[dict[RegistryCrc, CrcVariant]] = {
    RegistryCrc.HJ212: "hj212",
    RegistryCrc.MODBUS: "modbus",
    RegistryCrc.MODBUS_LE: "modbus-le",
}
_AUTH_CACHE_SIZE: Final = 65_536


@dataclass(frozen=True, slots=True)
class Admitted:
    """A good frame from an authenticated device.

    ``clock_skew_s``: device clock minus ``received_at`` in seconds (positive = device ahead),
    ``None`` when the frame carries no usable clock; ``skewed``: beyond the limit.
    """

    packet: Packet
    device: Device
    crc: CrcVariant
    reply: bytes | None
    clock_skew_s: float | None
    skewed: bool


@dataclass(frozen=True, slots=True)
class Refused:
    """A frame that must not reach the raw topic; ``device_id`` is the MN it claims, if any."""

    reason: str
    message: str
    device_id: str | None
    reply: bytes | None


class Admission:
    """Admits frames against one registry.

    ``clock_skew_limit_s``: tolerated |device clock − received_at| in seconds; ``None`` takes
    the registry's ``policy.clock_skew_seconds``; ``0`` disables the check.
    Not thread-safe (one per event loop); keeps a bounded cache of verified (MN, PW) pairs.
    """

    __slots__ = ("_auth_cache", "_device_key", "_registry", "_skew_limit_s")

    def __init__(
        self,
        registry: Registry,
        clock_skew_limit_s: float | None = None,
        device_key: bytes | None = None,
    ) -> None:
        self._registry = registry
        self._device_key = device_key
        policy_limit = registry.policy.clock_skew_seconds
        self._skew_limit_s = float(
            policy_limit if clock_skew_limit_s is None else clock_skew_limit_s
        )
        self._auth_cache: dict[tuple[str, str], Device] = {}

    @property
    def registry(self) -> Registry:
        return self._registry

    @property
    def clock_skew_limit_s(self) -> float:
        return self._skew_limit_s

    def admit(
        self, frame: bytes, received_at: datetime, crc_hint: CrcVariant = "hj212"
    ) -> Admitted | Refused:
        """Decide about one frame candidate (bytes from ``##`` to CR LF).

        ``received_at`` is aware; ``crc_hint`` is the CRC variant tried first (the variant of
        the device last seen on the connection). Never raises.
        """
        try:
            packet = decode(frame, crc_hint)
            crc = crc_hint
        except DecodeError as error:
            retried = self._retry_with_device_crc(frame, error, crc_hint)
            if isinstance(retried, Refused):
                return retried
            packet, crc = retried
        found = self._registry.device(packet.mn)
        if found is None:
            return _auth_refusal(packet, AUTH_UNKNOWN_MN, "MN is not in the registry", crc)
        device = found[2]
        device_crc = _CRC_OF[device.crc]
        if device_crc != crc:  # decoded with another variant than the device's own
            try:
                packet = decode(frame, device_crc)
            except DecodeError as error:
                return Refused(error.reason.value, error.message, packet.mn, None)
            crc = device_crc
        if not self._password_ok(device, packet.pw):
            return _auth_refusal(
                packet, AUTH_BAD_PASSWORD, "PW does not match the registry for this MN", crc
            )
        if packet.split and not (1 <= (packet.pno or 0) <= (packet.pnum or 0)):
            return Refused(BAD_SPLIT, "PNO is not between 1 and PNUM", packet.mn, None)
        skew = clock_skew_s(packet, received_at)
        reply = _reply(lambda: encode_ack_9014(packet, crc)) if packet.needs_ack else None
        skewed = skew is not None and self._skew_limit_s > 0 and abs(skew) > self._skew_limit_s
        return Admitted(packet, device, crc, reply, skew, skewed)

    def _retry_with_device_crc(
        self, frame: bytes, error: DecodeError, tried: CrcVariant
    ) -> tuple[Packet, CrcVariant] | Refused:
        """A frame that failed to decode: when only the CRC is wrong and the MN it claims is a
        device configured with another variant, decode with that variant."""
        seen = inspect(frame).packet
        mn = seen.mn if seen is not None else None
        if error.reason is ReasonCode.BAD_CRC and mn is not None:
            found = self._registry.device(mn)
            variant = _CRC_OF[found[2].crc] if found is not None else tried
            if variant != tried:
                try:
                    return decode(frame, variant), variant
                except DecodeError as second:
                    error = second
        return Refused(error.reason.value, error.message, mn, None)

    def _password_ok(self, device: Device, password: str | None) -> bool:
        if password is None:
            return False
        key = (device.mn, password)
        if self._auth_cache.get(key) is device:
            return True
        if not device.password_matches(password, self._device_key):
            return False
        if len(self._auth_cache) >= _AUTH_CACHE_SIZE:
            self._auth_cache.clear()
        self._auth_cache[key] = device
        return True


def clock_skew_s(packet: Packet, received_at: datetime) -> float | None:
    """Device clock minus ``received_at``, in seconds, from ``QN`` or else from the
    ``DataTime`` of real-time data (CN 2011); ``None`` when neither is usable."""
    device_clock = parse_data_time(packet.qn) if packet.qn else None
    if device_clock is None and packet.cn == REAL_TIME_CN:
        device_clock = packet.data_time
    if device_clock is None:
        return None
    return (device_clock - received_at).total_seconds()


def _auth_refusal(packet: Packet, reason: str, message: str, crc: CrcVariant) -> Refused:
    reply = None
    if packet.needs_ack:
        code = QnRtn.MN_ERROR if reason == AUTH_UNKNOWN_MN else QnRtn.PW_ERROR
        reply = _reply(lambda: encode_qn_rtn(packet, code, crc))
    return Refused(reason, message, packet.mn, reply)


def _reply(build: Callable[[], str]) -> bytes | None:
    """The wire bytes of a reply, or ``None`` when the packet's fields cannot be echoed (a
    decoded MN or QN holding ``=`` or ``&``, which the encoder refuses)."""
    try:
        return build().encode()
    except Hj212Error:
        return None
