from __future__ import annotations

import random

import pytest
from hj212_reference import reference_crc
from hypothesis import given
from hypothesis import strategies as st

from ingest.hj212 import CRC_VARIANTS, crc_hj212, crc_modbus, crc_text, crc_variant
from schemas.registry import CrcVariant as RegisteredCrc


def test_appendix_a_check_value_differs_from_modbus() -> None:
    assert crc_text(b"123456789") == "2F80"
    assert crc_text(b"123456789", "modbus") == "4B37"
    assert crc_text(b"123456789", "modbus-le") == "374B"


def test_appendix_a_worked_example() -> None:
    segment = (
        b"QN=20160801085857223;ST=32;CN=1062;PW=100000;"
        b"MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"
    )
    assert crc_text(segment) == "1C80"


def test_empty_segment_is_initial_register() -> None:
    assert crc_hj212(b"") == 0xFFFF
    assert crc_modbus(b"") == 0xFFFF


@given(st.binary(max_size=2048))
def test_fast_crc_equals_bitwise_definition(data: bytes) -> None:
    assert crc_hj212(data) == reference_crc(data)


@pytest.mark.parametrize("size", [10_239, 10_240, 10_241, 12_345])
def test_fast_crc_around_the_parity_span(size: int) -> None:
    data = random.Random(size).randbytes(size)
    assert crc_hj212(data) == reference_crc(data)


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown CRC variant"):
        crc_text(b"x", "crc32")  # type: ignore[arg-type]


def test_every_registered_crc_names_a_codec_variant() -> None:
    assert [crc_variant(crc) for crc in RegisteredCrc] == list(CRC_VARIANTS)
    with pytest.raises(ValueError, match="unknown CRC variant 'crc32'"):
        crc_variant("crc32")
