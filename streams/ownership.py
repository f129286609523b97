"""Which raw-topic partition a device's frames are in, so a worker knows its devices.

The gateway keys every raw frame by the device's MN (UTF-8 bytes) and produces with
kafka-python's default partitioner, which, like aiokafka's and the Java client's, takes
``murmur2(key) & 0x7fffffff`` modulo the topic's partition count. A device's frames therefore
all land in one partition, and the worker that owns that partition owns the device's windows.
Pure functions (no Kafka client): tested against kafka-python's and aiokafka's partitioners.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Final

from schemas.registry import Registry

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit murmur2 of ``data`` (``org.apache.kafka.common.utils.Utils.murmur2``),
    as an unsigned int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    tail = length - length % 4
    for i in range(0, tail, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length % 4
    if rest:
        h ^= int.from_bytes(data[tail:], "little")
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_of(mn: str, partitions: int) -> int:
    """The raw-topic partition (0 ≤ p < ``partitions``) of the frames of device ``mn``."""
    return (murmur2(mn.encode()) & 0x7FFFFFFF) % partitions


def devices_in(registry: Registry, owned: Collection[int], partitions: int) -> list[str]:
    """The registry's devices whose frames are in the ``owned`` partitions, sorted."""
    return sorted(mn for mn in registry_devices(registry) if partition_of(mn, partitions) in owned)


def registry_devices(registry: Registry) -> Iterable[str]:
    """Every device MN of the registry."""
    for enterprise in registry.enterprises:
        for outlet in enterprise.outlets:
            for device in outlet.devices:
                yield device.mn
