"""CRC of the HJ 212 data segment (HJ 212-2017 Appendix A) and the MODBUS variants.

Appendix A, as the standard prints it (domain.md §2)::

    crc = 0xFFFF
    for b in segment:
        crc = (crc >> 8) ^ b
        8 times: lsb = crc & 1; crc >>= 1; if lsb: crc ^= 0xA001

It is *not* CRC-16/MODBUS: ``b"123456789"`` gives ``0x2F80`` (MODBUS gives ``0x4B37``). Some
devices in the wild send MODBUS CRC instead, printed high byte first (``modbus``) or low
byte first (``modbus-le``); accept those only for devices configured so.

How the Appendix-A CRC is made fast in pure Python: ``(crc >> 8) ^ b`` is always an 8-bit
value ``t``, so the register between bytes is ``TABLE[t]`` and the state that matters is
``t_k = H(t_{k-1}) ^ b_k`` with ``H(x) = TABLE[x] >> 8``. ``H`` is linear over GF(2) and
``H^8`` is the identity, so ``t_{n-1}`` is the XOR over bytes of ``H^((n-1-i) mod 8)(b_i)``
plus a constant that depends on ``n mod 8``. Each bit of that XOR is the parity of the
segment (read as one big integer) masked by an 8-byte pattern repeated: eight ``&`` and
eight ``int.bit_count()`` in C instead of a Python loop over every byte. The result is
checked against the bitwise definition in the tests.

Pure functions, no I/O; safe to call from any thread.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

CrcVariant = Literal["hj212", "modbus", "modbus-le"]
"""Which CRC a device uses: ``hj212`` (Appendix A, the default), ``modbus`` (CRC-16/MODBUS
printed high byte first) or ``modbus-le`` (CRC-16/MODBUS printed low byte first)."""

CRC_VARIANTS: Final[tuple[CrcVariant, ...]] = get_args(CrcVariant)
_BY_NAME: Final[dict[str, CrcVariant]] = {name: name for name in CRC_VARIANTS}


def crc_variant(name: str) -> CrcVariant:
    """The variant called ``name``: how a device's registered CRC (``schemas.registry.Device.crc``,
    whose values are these names) reaches the codec. Raises ``ValueError`` for another name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown CRC variant {name!r}; one of {CRC_VARIANTS}") from None


_POLY: Final = 0xA001  # reflected 0x8005


def _register_after_8_shifts(value: int) -> int:
    for _ in range(8):
        lsb = value & 1
        value >>= 1
        if lsb:
            value ^= _POLY
    return value


_TABLE: Final[tuple[int, ...]] = tuple(_register_after_8_shifts(t) for t in range(256))
_H: Final[tuple[int, ...]] = tuple(entry >> 8 for entry in _TABLE)


def _h_power(k: int, value: int) -> int:
    for _ in range(k):
        value = _H[value]
    return value


# Longest segment the bit-parity method covers; longer ones (never valid HJ 212, whose length
# field has 4 digits) take the byte loop.
_PARITY_SPAN: Final = 10_240


def _parity_mask(bit: int) -> int:
    """Mask whose AND with the segment has the parity of bit ``bit`` of ``t_{n-1}``.

    The last byte of the segment (lowest in big-endian order) takes ``H^0``, the one before
    ``H^1``… so the 8-byte block, from its first to its last byte, holds the rows for
    ``H^7 … H^0``; aligned at the low end, it works for any segment length.
    """
    block = bytearray()
    for position in range(8):
        power = 7 - position
        row = 0
        for column in range(8):
            if (_h_power(power, 1 << column) >> bit) & 1:
                row |= 1 << column
        block.append(row)
    return int.from_bytes(bytes(block) * (_PARITY_SPAN // 8), "big")


_M0, _M1, _M2, _M3, _M4, _M5, _M6, _M7 = (_parity_mask(bit) for bit in range(8))
# H^((n-1) mod 8)(0xFF): the part of t_{n-1} that comes from the initial 0xFFFF.
_START: Final[tuple[int, ...]] = tuple(_h_power((n - 1) % 8, 0xFF) for n in range(8))


def crc_hj212(segment: bytes) -> int:
    """Appendix-A CRC of ``segment`` (the bytes between the length field and the CRC)."""
    n = len(segment)
    if n == 0:
        return 0xFFFF
    if n > _PARITY_SPAN:
        return _crc_hj212_loop(segment)
    x = int.from_bytes(segment, "big")
    t = (
        _START[n & 7]
        ^ ((x & _M0).bit_count() & 1)
        ^ (((x & _M1).bit_count() & 1) << 1)
        ^ (((x & _M2).bit_count() & 1) << 2)
        ^ (((x & _M3).bit_count() & 1) << 3)
        ^ (((x & _M4).bit_count() & 1) << 4)
        ^ (((x & _M5).bit_count() & 1) << 5)
        ^ (((x & _M6).bit_count() & 1) << 6)
        ^ (((x & _M7).bit_count() & 1) << 7)
    )
    return _TABLE[t]


def _crc_hj212_loop(segment: bytes) -> int:
    crc = 0xFFFF
    table = _TABLE
    for byte in segment:
        crc = table[(crc >> 8) ^ byte]
    return crc


def crc_modbus(data: bytes) -> int:
    """CRC-16/MODBUS of ``data`` (init 0xFFFF, reflected polynomial 0x8005)."""
    crc = 0xFFFF
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def crc_value(segment: bytes, variant: CrcVariant = "hj212") -> int:
    """The number a frame prints (as 4 hex digits) after ``segment`` for ``variant``.

    Raises ``ValueError`` for an unknown variant.
    """
    if variant == "hj212":
        return crc_hj212(segment)
    if variant == "modbus":
        return crc_modbus(segment)
    if variant == "modbus-le":
        crc = crc_modbus(segment)
        return ((crc & 0xFF) << 8) | (crc >> 8)
    raise ValueError(f"unknown CRC variant {variant!r}; expected one of {CRC_VARIANTS}")


def crc_text(segment: bytes, variant: CrcVariant = "hj212") -> str:
    """The 4 upper-case hex digits a frame carries after ``segment`` for ``variant``.

    Raises ``ValueError`` for an unknown variant.
    """
    return f"{crc_value(segment, variant):04X}"
