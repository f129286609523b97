"""Replies (9014 data ack, 9011 request answer) speak the sender's version and echo its QN
where it put it: the ack-requesting frames of the 2016 field capture (HJ/T 212-2005, Flag=1,
QN inside CP) and HJ 212-2017 frames."""

from __future__ import annotations

import pytest

from ingest.hj212 import Packet, QnRtn, decode, encode, encode_ack_9014, encode_qn_rtn, inspect


def _ack_requests(capture: list[bytes]) -> list[Packet]:
    found = (inspect(line) for line in capture)
    return [r.packet for r in found if r.ok and r.packet is not None and r.packet.needs_ack]


def test_2005_frames_get_a_2005_ack_with_their_qn_inside_cp(capture: list[bytes]) -> None:
    in_cp = [p for p in _ack_requests(capture) if p.qn is None and "QN" in p.cp_params]
    assert len(in_cp) == 19  # ST=91 CN 1013 and 9011 frames of the three hours
    for packet in in_cp:
        assert packet.version == 0
        ack = decode(encode_ack_9014(packet))
        assert (ack.cn, ack.st, ack.mn, ack.flag) == ("9014", "91", packet.mn, 0)
        assert ack.qn is None and ack.cp_params == {"QN": packet.cp_params["QN"]}


def test_2005_frames_with_qn_in_the_header_get_it_back_in_the_header(
    capture: list[bytes],
) -> None:
    in_head = [p for p in _ack_requests(capture) if p.qn is not None]
    assert len(in_head) == 30  # CN 2072 alarms
    for packet in in_head:
        ack = decode(encode_ack_9014(packet))
        assert (ack.qn, ack.flag, ack.cp_params) == (packet.qn, 0, {})


def test_request_answer_to_a_2005_frame_echoes_qn_in_cp_before_qn_rtn() -> None:
    line = b"##0076ST=91;CN=1013;PW=123456;MN=LD130102000147;Flag=1;CP=&&QN=20160824001252000&&0F00"
    text = encode_qn_rtn(decode(line), QnRtn.PW_ERROR)
    assert "Flag=0;CP=&&QN=20160824001252000;QnRtn=3&&" in text
    answer = decode(text)
    assert (answer.cn, answer.flag, answer.qn) == ("9011", 0, None)


@pytest.mark.parametrize(("flag", "reply_flag"), [(1, 0), (5, 4), (9, 8), (3, 0), (7, 4)])
def test_reply_flag_keeps_the_version_and_clears_a_and_d(flag: int, reply_flag: int) -> None:
    sent = encode(st="31", cn="2011", mn="M1", qn="20240501120000001", flag=flag, pnum=1, pno=1)
    packet = decode(sent)
    assert decode(encode_ack_9014(packet)).flag == reply_flag
    assert decode(encode_qn_rtn(packet, QnRtn.MN_ERROR)).flag == reply_flag


def test_a_packet_without_flag_is_answered_without_flag() -> None:
    packet = decode(encode(st="32", cn="2011", mn="M1", qn="20240501120000001"))
    assert decode(encode_ack_9014(packet)).flag is None
