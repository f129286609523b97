"""Every public vector (shared/data/hj212/vectors.tsv) is classified as its source says."""

from __future__ import annotations

from datetime import datetime

import pytest
from hj212_reference import Vector, load_vectors, reference_checks

from ingest.hj212 import CHINA_TZ, DecodeError, ReasonCode, decode, encode_packet, inspect

VECTORS = load_vectors()
EXPECTED_REASON = {"bad_crc": ReasonCode.BAD_CRC, "bad_length": ReasonCode.LENGTH_MISMATCH}


def test_vectors_file_has_all_three_kinds() -> None:
    assert {v.expect for v in VECTORS} == {"ok", "bad_crc", "bad_length"}


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.id)
def test_vector_classified_as_its_source_says(vector: Vector) -> None:
    result = inspect(vector.packet)
    assert (result.length_ok, result.crc_ok) == reference_checks(vector.packet.encode())
    if vector.expect == "ok":
        assert result.ok and result.error is None
        assert decode(vector.packet + "\r\n") == result.packet
    else:
        assert not result.ok
        with pytest.raises(DecodeError) as raised:
            decode(vector.packet)
        assert raised.value.reason is EXPECTED_REASON[vector.expect]
        assert result.error is not None and result.error.reason is raised.value.reason


def by_id(vector_id: str) -> str:
    return next(v.packet for v in VECTORS if v.id == vector_id)


def test_appendix_a_example_fields_and_exact_reencoding() -> None:
    packet = decode(by_id("S1"))
    assert (packet.qn, packet.st, packet.cn, packet.mn) == (
        "20160801085857223",
        "32",
        "1062",
        "010000A8900016F000169DC0",
    )
    assert (packet.flag, packet.version, packet.needs_ack, packet.split) == (5, 1, True, False)
    assert packet.cp_params == {"RtdInterval": "30"}
    assert encode_packet(packet) == by_id("S1") + "\r\n"


def test_2005_frame_without_qn_or_flag_with_17_digit_datatime() -> None:
    packet = decode(by_id("R10"))
    assert packet.qn is None and packet.flag is None and packet.version is None
    assert packet.needs_ack is False
    assert packet.data_time == datetime(2016, 8, 24, 0, 38, 17, tzinfo=CHINA_TZ)
    assert packet.cp_params["DataTime"] == "20160824003817000"
    assert packet.values == {
        "B01": {"Rtd": 36.91},
        "011": {"Rtd": 231.0, "Flag": "N"},
        "060": {"Rtd": 1.803, "Flag": "N"},
    }


def test_flue_gas_frame_keeps_zs_values_and_flags() -> None:
    packet = decode(by_id("R25"))
    assert packet.values["a21026"] == {"Rtd": 0.0, "ZsRtd": 0.0, "Flag": "D"}
    assert next(iter(packet.values)) == "a00000"
    assert len(packet.values) == 13


def test_data_ack_has_empty_cp() -> None:
    packet = decode(by_id("R9"))
    assert (packet.st, packet.cn, packet.flag) == ("91", "9014", 4)
    assert packet.values == {} and packet.cp_params == {}


def test_password_is_not_in_repr() -> None:
    packet = decode(by_id("R2"))
    assert packet.pw == "123456"
    assert "123456" not in repr(packet)
