"""Reassembly of split packets (分包, HJ 212-2017 §6.3.3: Flag D bit, ``PNUM`` total parts,
``PNO`` this part's number from 1). Pure: no I/O; time is passed in (seconds, any monotonic
origin).

A device splits a packet whose data area does not fit one frame into ``PNUM`` frames that
share ``MN``, ``CN`` and ``QN`` (HJ/T 212-2005 traffic without QN: the ``DataTime``). Each part
is a complete frame with its own length and CRC, answered on its own by a 9014 when its A bit
is set; devices commonly wait for the ack of one part before sending the next.

Where reassembly happens: the gateway publishes every part to the raw topic as received (the
raw topic is the immutable record, and a part is acked only once it is durable there), and
uses ``SplitAssembler`` to count complete and incomplete packets. Consumers of the raw topic
(the normalizer) rebuild the logical packet with the same ``SplitAssembler`` or with
``merge_parts``: the raw topic is keyed by MN, so the parts of one packet are in one partition,
in the order received.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Final

from ingest.hj212 import FactorValue, Packet

_D_BIT: Final = 0b10

GroupKey = tuple[str, str, str]
"""(MN, CN, QN or DataTime text) identifying one split packet."""


def group_key(packet: Packet) -> GroupKey:
    """The key shared by every part of one split packet."""
    marker = packet.qn or packet.cp_params.get("DataTime", "")
    return (packet.mn, packet.cn, marker)


@dataclass(slots=True)
class SplitGroup:
    """The parts of one split packet received so far (``parts``: PNO → packet)."""

    key: GroupKey
    pnum: int
    first_seen: float
    parts: dict[int, Packet] = field(default_factory=dict)
    duplicates: int = 0

    @property
    def complete(self) -> bool:
        return len(self.parts) == self.pnum


class SplitAssembler:
    """Collects parts of split packets until all ``PNUM`` parts are there.

    ``timeout_s``: a packet still incomplete this long after its first part is given up
    (``expire``). ``max_groups``: at most this many packets pending; a new one beyond it
    evicts the oldest (also reported by ``expire``). Not thread-safe.
    """

    __slots__ = ("_evicted", "_groups", "_max_groups", "_timeout_s")

    def __init__(self, timeout_s: float = 600.0, max_groups: int = 1024) -> None:
        self._timeout_s = timeout_s
        self._max_groups = max_groups
        self._groups: dict[GroupKey, SplitGroup] = {}
        self._evicted: list[SplitGroup] = []

    @property
    def pending(self) -> int:
        """Split packets with parts missing."""
        return len(self._groups)

    def add(self, packet: Packet, now: float) -> Packet | None:
        """Add one part (a packet with the D bit, 1 ≤ PNO ≤ PNUM); return the merged packet
        when it completes its group, else ``None``. A part received twice replaces the first.
        Raises ``ValueError`` for a packet that is not a valid part."""
        if not packet.split or packet.pnum is None or packet.pno is None:
            raise ValueError("not a part of a split packet (D bit, PNUM and PNO)")
        if not 1 <= packet.pno <= packet.pnum:
            raise ValueError("PNO is not between 1 and PNUM")
        key = group_key(packet)
        group = self._groups.get(key)
        if group is None or group.pnum != packet.pnum:
            if group is not None:  # same key, other PNUM: a new packet reusing the QN
                self._evicted.append(self._groups.pop(key))
            group = self._new_group(key, packet.pnum, now)
        if packet.pno in group.parts:
            group.duplicates += 1
        group.parts[packet.pno] = packet
        if not group.complete:
            return None
        del self._groups[key]
        return merge_parts(group.parts.values())

    def expire(self, now: float) -> list[SplitGroup]:
        """Remove and return the groups given up: evicted ones and those older than the
        timeout."""
        stale = [g for g in self._groups.values() if now - g.first_seen >= self._timeout_s]
        for group in stale:
            del self._groups[group.key]
        given_up, self._evicted = [*self._evicted, *stale], []
        return given_up

    def drain(self) -> list[SplitGroup]:
        """Remove and return every pending group (e.g. when the connection closes)."""
        given_up = [*self._evicted, *self._groups.values()]
        self._groups.clear()
        self._evicted = []
        return given_up

    def _new_group(self, key: GroupKey, pnum: int, now: float) -> SplitGroup:
        if len(self._groups) >= self._max_groups:
            oldest = min(self._groups.values(), key=lambda g: g.first_seen)
            self._evicted.append(self._groups.pop(oldest.key))
        group = SplitGroup(key, pnum, now)
        self._groups[key] = group
        return group


def merge_parts(parts: Iterable[Packet]) -> Packet:
    """One logical packet from the parts of a split packet, in PNO order.

    Factor values and CP parameters are merged (a later part wins for the same
    factor-suffix or parameter); the header comes from part 1; the result has the D bit
    cleared and no PNUM/PNO. Raises ``ValueError`` when ``parts`` is empty.
    """
    ordered = sorted(parts, key=lambda p: p.pno or 0)
    if not ordered:
        raise ValueError("no parts to merge")
    values: dict[str, dict[str, FactorValue]] = {}
    cp_params: dict[str, str] = {}
    extra: dict[str, str] = {}
    warnings: list[str] = []
    for part in ordered:
        for factor, suffixes in part.values.items():
            values.setdefault(factor, {}).update(suffixes)
        cp_params.update(part.cp_params)
        extra.update(part.extra)
        warnings.extend(part.warnings)
    first = ordered[0]
    flag = None if first.flag is None else first.flag & ~_D_BIT
    data_time = next((p.data_time for p in ordered if p.data_time is not None), None)
    return replace(
        first,
        flag=flag,
        pnum=None,
        pno=None,
        data_time=data_time,
        values=values,
        cp_params=cp_params,
        extra=extra,
        warnings=tuple(warnings),
    )
