from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.hj212 import (
    CHINA_TZ,
    DecodeError,
    EncodeError,
    QnRtn,
    ReasonCode,
    decode,
    encode,
    encode_ack_9014,
    encode_qn_rtn,
    inspect,
)

SEGMENT = (
    "QN=20240501120000001;ST=31;CN=2011;PW=123456;MN=GW0001;Flag=5;"
    "CP=&&DataTime=20240501120000;a21026-Rtd=12.3,a21026-ZsRtd=14.1,a21026-Flag=N&&"
)


def realtime_frame() -> str:
    return encode(
        qn="20240501120000001",
        st="31",
        cn="2011",
        pw="123456",
        mn="GW0001",
        flag=5,
        data_time=datetime(2024, 5, 1, 4, 0, tzinfo=UTC),
        values={"a21026": {"Rtd": 12.3, "ZsRtd": 14.1, "Flag": "N"}},
    )


def test_frame_layout_length_and_terminator() -> None:
    frame = realtime_frame()
    assert frame.startswith("##") and frame.endswith("\r\n")
    assert frame[6:-6] == SEGMENT
    assert int(frame[2:6]) == len(SEGMENT) == len(frame) - 12


def test_data_ack_answers_same_qn_with_flag_4() -> None:
    ack = decode(encode_ack_9014(decode(realtime_frame())))
    assert (ack.qn, ack.st, ack.cn, ack.pw, ack.mn, ack.flag) == (
        "20240501120000001",
        "91",
        "9014",
        "123456",
        "GW0001",
        4,
    )
    assert not ack.needs_ack and ack.values == {} and ack.cp_params == {}
    assert encode_ack_9014(decode(realtime_frame())).split(";CP=")[1].startswith("&&&&")


def test_request_answer_carries_qn_rtn() -> None:
    answer = decode(encode_qn_rtn(decode(realtime_frame()), QnRtn.READY))
    assert (answer.cn, answer.qn, answer.cp_params) == ("9011", "20240501120000001", {"QnRtn": "1"})


def test_data_time_written_in_china_time() -> None:
    packet = decode(realtime_frame())
    assert packet.cp_params["DataTime"] == "20240501120000"
    assert packet.data_time == datetime(2024, 5, 1, 12, 0, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    "change",
    [
        {"mn": "A;B"},
        {"values": {"a21026": {"Rtd": float("nan")}}},
        {"values": {"a21026": {"Flag": "N&&"}}},
        {"cp_params": {"Bad-Name": "1"}},
        {"data_time": datetime(2024, 1, 1)},
        {"mn": ""},
        {"cp_params": {"Big": "9" * 10_000}},
    ],
)
def test_encoder_refuses_what_would_break_the_frame(change: dict[str, object]) -> None:
    fields: dict[str, object] = {"st": "31", "cn": "2011", "mn": "GW0001"} | change
    with pytest.raises(EncodeError):
        encode(**fields)  # type: ignore[arg-type]


def test_modbus_device_frame_rejected_unless_configured() -> None:
    frame = encode(st="32", cn="2011", mn="M1", values={"w01018": {"Rtd": 20}}, crc="modbus-le")
    with pytest.raises(DecodeError) as raised:
        decode(frame)
    assert raised.value.reason is ReasonCode.BAD_CRC
    assert decode(frame, "modbus-le").values == {"w01018": {"Rtd": 20.0}}
    assert inspect(frame, "modbus").crc_ok is False


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", ReasonCode.NO_HEADER),
        (b"#0101", ReasonCode.NO_HEADER),
        (b"##01x1ST=1&&1234", ReasonCode.BAD_LENGTH_FIELD),
        (b"##0004CP=&&&&", ReasonCode.MISSING_TRAILER),
        (b"##" + b"9" * 20_000, ReasonCode.TOO_LONG),
        (b"##0005ST=1FFFF", ReasonCode.LENGTH_MISMATCH),
        (b"##0004ST=1FFFF", ReasonCode.BAD_CRC),
    ],
)
def test_framing_errors_have_stable_reasons(frame: bytes, reason: ReasonCode) -> None:
    with pytest.raises(DecodeError) as raised:
        decode(frame)
    assert raised.value.reason is reason
    assert str(raised.value).startswith(f"{reason.value}: ")


@pytest.mark.parametrize(
    ("segment", "reason"),
    [
        ("ST=31;CN=2011;MN=M1", ReasonCode.BAD_SEGMENT),
        ("ST=31;CN=2011;MN=M1;CP=&&DataTime=1", ReasonCode.BAD_SEGMENT),
        ("ST=31;CN=2011;CP=&&&&", ReasonCode.BAD_SEGMENT),
        ("ST=31;ST=32;CN=2011;MN=M1;CP=&&&&", ReasonCode.BAD_SEGMENT),
        ("ST=31;CN=2011;MN=M1;Flag=x;CP=&&&&", ReasonCode.BAD_SEGMENT),
        ("ST=31;CN=2011;MN=M1;Flag=7;CP=&&&&", ReasonCode.BAD_SEGMENT),
        ("ST=31;CN=2011;MN=M1;CP=&&a21026-Rtd&&", ReasonCode.BAD_CP),
        ("ST=31;CN=2011;MN=M1;CP=&&-Rtd=1&&", ReasonCode.BAD_CP),
        ("ST=31;CN=2011;MN=M1;PW=secret99;CP=&&X&&", ReasonCode.BAD_CP),
    ],
)
def test_segment_errors_have_stable_reasons_and_hide_values(
    segment: str, reason: ReasonCode
) -> None:
    from ingest.hj212.encode import frame_segment

    with pytest.raises(DecodeError) as raised:
        decode(frame_segment(segment))
    assert raised.value.reason is reason
    assert "secret99" not in str(raised.value)


def test_invalid_data_time_kept_raw_and_reported() -> None:
    from ingest.hj212.encode import frame_segment

    packet = decode(frame_segment("ST=31;CN=2011;MN=M1;CP=&&DataTime=20160231250000&&"))
    assert packet.data_time is None
    assert packet.cp_params["DataTime"] == "20160231250000"
    assert packet.warnings and packet.warnings[0].startswith("bad_data_time")


def test_split_packet_numbers() -> None:
    frame = encode(st="31", cn="2011", mn="M1", flag=7, pnum=3, pno=2, values={"01": {"Rtd": 1}})
    packet = decode(frame)
    assert (packet.split, packet.needs_ack, packet.pnum, packet.pno) == (True, True, 3, 2)


def test_non_ascii_segment_length_counts_bytes() -> None:
    frame = encode(st="31", cn="3020", mn="M1", cp_params={"Info": "烟道一"})
    assert int(frame[2:6]) == len(frame.encode()) - 12
    assert decode(frame.encode()).cp_params["Info"] == "烟道一"
    gbk = frame.encode("utf-8").replace("烟道一".encode(), "烟道一".encode("gbk"))
    assert inspect(gbk).length_ok is False
