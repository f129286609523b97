"""The 2016 field capture (shared/data/hj212/capture-2016/): every line classified, and the
decoder agrees with an independent length + Appendix-A CRC check on every one."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from ingest.hj212 import CHINA_TZ, DecodeError, ReasonCode, decode, inspect
from ingest.hj212.decode import NON_NUMERIC_ST

GOOD_LINES = 26_761  # README of the capture


def test_decoder_agrees_with_length_and_crc_on_every_line(
    capture: list[bytes], capture_checks: list[tuple[bool, bool] | None]
) -> None:
    disagreements = []
    for number, (line, expected) in enumerate(zip(capture, capture_checks, strict=True)):
        result = inspect(line)
        got = None if result.length_ok is None else (result.length_ok, result.crc_ok)
        if got != expected or (result.ok and expected != (True, True)):
            disagreements.append((number, line[:60]))
    assert disagreements == []


def test_readme_count_of_good_lines(
    capture: list[bytes], capture_checks: list[tuple[bool, bool] | None]
) -> None:
    assert sum(inspect(line).ok for line in capture) == GOOD_LINES
    assert capture_checks.count((True, True)) == GOOD_LINES


def test_decode_raises_only_decode_error_and_agrees_with_inspect(capture: list[bytes]) -> None:
    outcomes: Counter[str] = Counter()
    for line in capture:
        try:
            decode(line)
            outcomes["ok"] += 1
        except DecodeError as error:
            outcomes[error.reason.value] += 1
            inspected = inspect(line).error
            assert inspected is not None and inspected.reason is error.reason
    assert outcomes["ok"] == GOOD_LINES
    # lost characters, a broken frame, modem logins with binary bytes
    assert outcomes[ReasonCode.LENGTH_MISMATCH] == 10
    assert outcomes[ReasonCode.NO_HEADER] == 3
    assert outcomes[ReasonCode.BAD_LENGTH_FIELD] == 2
    assert outcomes[ReasonCode.BAD_CRC] == 1


def test_device_clock_in_year_2000_still_decodes(capture: list[bytes]) -> None:
    years = Counter()
    for line in capture:
        result = inspect(line)
        if result.ok and result.packet is not None and result.packet.data_time is not None:
            years[result.packet.data_time.year] += 1
    assert years[2000] > 0 and years[2016] > 20_000


def test_2005_traffic_shapes(capture: list[bytes]) -> None:
    packets = [p for p in (inspect(line).packet for line in capture[:2000]) if p is not None]
    first = packets[0]
    assert first.mn == "LD130133000015" and first.flag is None
    assert first.data_time == datetime(2016, 8, 24, 0, 38, 17, tzinfo=CHINA_TZ)
    assert all(p.values or p.cp_params for p in packets)
    status = [p for p in packets if p.cn == "2021"]
    assert status and all(
        isinstance(v, str) for p in status for f in p.values.values() for v in f.values()
    )


def test_non_numeric_st_is_kept_and_flagged_as_a_data_quality_finding(
    capture: list[bytes],
) -> None:
    packets = [r.packet for r in map(inspect, capture) if r.ok and r.packet is not None]
    flagged = [p for p in packets if NON_NUMERIC_ST in p.warnings]
    assert len(flagged) == 8  # ST=\x00\x00 in frames whose length and CRC are right
    assert {p.st for p in flagged} == {"\x00\x00"}
    assert all(p.values for p in flagged)  # decoded in full, nothing dropped
    assert all(p.st.isdigit() for p in packets if p not in flagged)
