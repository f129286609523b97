"""The decoder fills a ``Packet``'s slots directly (``decode._new_packet``; docs/perf.md,
"Eighth slice (cols)"): what it returns is the ``Packet`` the dataclass's constructor makes
of the same fields, as immutable, with the password still out of ``repr``."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from ingest.hj212 import Packet, decode, encode
from ingest.hj212.decode import _new_packet

AT = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=8)))


def test_a_decoded_packet_is_the_dataclass_of_its_fields() -> None:
    frame = encode(st="31", cn="2051", mn="MN1", pw="secret", flag=5, data_time=AT,
                   values={"a21026": {"Avg": 1.5, "Flag": "N"}})  # fmt: skip
    packet = decode(frame.encode())
    built = Packet(*(getattr(packet, f.name) for f in dataclasses.fields(Packet)))
    assert packet == built and repr(packet) == repr(built) and "secret" not in repr(packet)
    assert (packet.mn, packet.pw, packet.flag, packet.data_time) == ("MN1", "secret", 5, AT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        packet.mn = "other"  # type: ignore[misc]


def test_a_packet_needs_every_field() -> None:
    with pytest.raises(ValueError):
        _new_packet("31", "2051", "MN1")
