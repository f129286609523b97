"""Admission of frames: what a device (and the dead-letter topic) sees for each kind of frame."""

from __future__ import annotations

from datetime import timedelta

import pytest
from gateway_fixtures import DEVICE, MODBUS_DEVICE, NOW, PASSWORD, frame, registry
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.gateway.admission import (
    AUTH_BAD_PASSWORD,
    AUTH_UNKNOWN_MN,
    BAD_SPLIT,
    REFUSAL_REASONS,
    Admission,
    Admitted,
    Refused,
    clock_skew_s,
)
from ingest.hj212 import decode


@pytest.fixture
def admission() -> Admission:
    return Admission(registry())


def _admitted(result: Admitted | Refused) -> Admitted:
    assert isinstance(result, Admitted), result
    return result


def _refused(result: Admitted | Refused) -> Refused:
    assert isinstance(result, Refused), result
    return result


def test_good_frame_with_a_bit_is_admitted_with_a_9014_ack(admission: Admission) -> None:
    result = _admitted(admission.admit(frame(flag=5), NOW))
    assert result.packet.mn == DEVICE
    assert result.reply is not None
    ack = decode(result.reply)
    assert (ack.cn, ack.st, ack.flag, ack.qn) == ("9014", "91", 4, result.packet.qn)
    assert not result.skewed


def test_frame_without_a_bit_gets_no_reply(admission: Admission) -> None:
    assert _admitted(admission.admit(frame(flag=4), NOW)).reply is None


def test_unknown_mn_is_refused_with_qnrtn_4(admission: Admission) -> None:
    result = _refused(admission.admit(frame(mn="NOT-REGISTERED"), NOW))
    assert result.reason == AUTH_UNKNOWN_MN
    assert result.device_id == "NOT-REGISTERED"
    assert result.reply is not None
    answer = decode(result.reply)
    assert (answer.cn, answer.cp_params["QnRtn"]) == ("9011", "4")


def test_wrong_password_is_refused_with_qnrtn_3_and_never_echoed_in_the_message(
    admission: Admission,
) -> None:
    result = _refused(admission.admit(frame(pw="guess-1234"), NOW))
    assert result.reason == AUTH_BAD_PASSWORD
    assert decode(result.reply or b"").cp_params["QnRtn"] == "3"
    assert "guess-1234" not in result.message
    assert PASSWORD not in result.message


def test_missing_password_is_refused(admission: Admission) -> None:
    assert _refused(admission.admit(frame(pw=None), NOW)).reason == AUTH_BAD_PASSWORD


def test_auth_failure_without_a_bit_gets_no_reply(admission: Admission) -> None:
    assert _refused(admission.admit(frame(mn="X", flag=4), NOW)).reply is None


def test_bad_crc_is_refused_with_the_codec_reason_and_the_claimed_mn(
    admission: Admission,
) -> None:
    good = frame()
    damaged = good[:-6] + (b"0000" if good[-6:-2] != b"0000" else b"1111") + b"\r\n"
    result = _refused(admission.admit(damaged, NOW))
    assert (result.reason, result.device_id, result.reply) == ("bad_crc", DEVICE, None)


def test_undecodable_bytes_are_refused_without_device(admission: Admission) -> None:
    result = _refused(admission.admit(b"##00\xff\xfe", NOW))
    assert result.reason == "bad_length_field"
    assert result.device_id is None


def test_modbus_device_is_admitted_with_its_own_crc(admission: Admission) -> None:
    result = _admitted(admission.admit(frame(mn=MODBUS_DEVICE, crc="modbus"), NOW))
    assert result.crc == "modbus"
    assert result.reply is not None
    assert decode(result.reply, "modbus").cn == "9014"


def test_modbus_device_sending_appendix_a_crc_is_refused(admission: Admission) -> None:
    result = _refused(admission.admit(frame(mn=MODBUS_DEVICE, crc="hj212"), NOW))
    assert result.reason == "bad_crc"


def test_appendix_a_device_sending_modbus_crc_is_refused(admission: Admission) -> None:
    result = _refused(admission.admit(frame(crc="modbus"), NOW, crc_hint="modbus"))
    assert result.reason == "bad_crc"


def test_clock_off_by_more_than_the_policy_is_admitted_and_flagged(admission: Admission) -> None:
    late = _admitted(admission.admit(frame(device_clock=NOW - timedelta(hours=2)), NOW))
    assert late.skewed
    assert late.clock_skew_s == pytest.approx(-7200)
    close = _admitted(admission.admit(frame(device_clock=NOW + timedelta(seconds=30)), NOW))
    assert not close.skewed


def test_clock_skew_check_can_be_disabled() -> None:
    admission = Admission(registry(), clock_skew_limit_s=0)
    result = _admitted(admission.admit(frame(device_clock=NOW - timedelta(days=3)), NOW))
    assert not result.skewed


def test_hourly_data_time_is_not_taken_for_the_device_clock() -> None:
    old_hour = NOW - timedelta(hours=5)
    packet = decode(frame(qn=None, cn="2061", data_time=old_hour))
    assert clock_skew_s(packet, NOW) is None
    real_time = decode(frame(qn=None, cn="2011", data_time=old_hour))
    assert clock_skew_s(real_time, NOW) == pytest.approx(-5 * 3600)


def test_split_part_numbers_out_of_range_are_refused(admission: Admission) -> None:
    result = _refused(admission.admit(frame(flag=7, pnum=2, pno=3), NOW))
    assert result.reason == BAD_SPLIT
    assert _admitted(admission.admit(frame(flag=7, pnum=2, pno=2), NOW)).reply is not None


@settings(max_examples=300, deadline=None)
@given(
    cut=st.integers(0, 400),
    noise=st.binary(max_size=12),
    position=st.integers(0, 400),
)
def test_any_damage_to_a_frame_is_admitted_or_refused_never_raised(
    cut: int, noise: bytes, position: int
) -> None:
    good = frame()
    damaged = good[:position] + noise + good[position + cut % 7 :]
    result = Admission(registry()).admit(damaged, NOW)
    assert isinstance(result, Admitted | Refused)
    if isinstance(result, Refused):
        assert result.reason in REFUSAL_REASONS
