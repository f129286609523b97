"""Split packets (Flag D bit, PNUM/PNO): parts come back as one logical packet."""

from __future__ import annotations

import pytest
from gateway_fixtures import frame

from ingest.gateway.split import SplitAssembler, merge_parts
from ingest.hj212 import Packet, decode


def _part(pno: int, pnum: int = 3, qn: str = "20260301103000000", factor: str = "") -> Packet:
    code = factor or f"a2100{pno}"
    return decode(
        frame(flag=7, pnum=pnum, pno=pno, qn=qn, values={code: {"Avg": float(pno), "Flag": "N"}})
    )


def test_parts_in_any_order_merge_into_one_packet_when_the_last_arrives() -> None:
    assembler = SplitAssembler()
    assert assembler.add(_part(3), now=0) is None
    assert assembler.add(_part(1), now=1) is None
    merged = assembler.add(_part(2), now=2)
    assert merged is not None
    assert list(merged.values) == ["a21001", "a21002", "a21003"]
    assert merged.values["a21002"]["Avg"] == 2.0
    assert (merged.split, merged.pnum, merged.pno, merged.needs_ack) == (False, None, None, True)
    assert assembler.pending == 0


def test_a_part_received_twice_is_counted_once() -> None:
    assembler = SplitAssembler()
    assembler.add(_part(1, pnum=2), now=0)
    assembler.add(_part(1, pnum=2), now=1)
    assert assembler.add(_part(2, pnum=2), now=2) is not None


def test_packets_with_different_qn_are_kept_apart() -> None:
    assembler = SplitAssembler()
    assembler.add(_part(1, pnum=2, qn="20260301103000000"), now=0)
    assert assembler.add(_part(2, pnum=2, qn="20260301103100000"), now=0) is None
    assert assembler.pending == 2


def test_incomplete_packets_expire_after_the_timeout() -> None:
    assembler = SplitAssembler(timeout_s=60)
    assembler.add(_part(1), now=0)
    assert assembler.expire(now=59) == []
    [given_up] = assembler.expire(now=60)
    assert sorted(given_up.parts) == [1]
    assert assembler.pending == 0


def test_oldest_packet_is_evicted_beyond_the_pending_limit() -> None:
    assembler = SplitAssembler(max_groups=2)
    for minute in range(3):
        assembler.add(_part(1, qn=f"2026030110{minute:02d}00000"), now=minute)
    [evicted] = assembler.expire(now=3)
    assert evicted.key[2] == "20260301100000000"
    assert assembler.pending == 2


def test_a_packet_that_is_not_a_part_is_refused() -> None:
    with pytest.raises(ValueError):
        SplitAssembler().add(decode(frame(flag=5)), now=0)


def test_merge_keeps_the_later_value_of_a_repeated_factor_suffix() -> None:
    merged = merge_parts([_part(2, pnum=2, factor="a21026"), _part(1, pnum=2, factor="a21026")])
    assert merged.values["a21026"]["Avg"] == 2.0
