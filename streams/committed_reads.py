"""The store reads of a batch's ``prepare``, and when they must wait for the batches in flight.

``Pipeline.prepare`` of batch n runs while batches before it are prepared and not yet
committed (``streams.agents.CommitLane``). The engine reads the store for state it lacks, and
must never rebuild a window from rows that are still in flight (a read that misses them would
rebuild the window without the batch before's minutes). Until the seventh slice (deep) the
first read of every prepare waited for every earlier batch's COMMIT. In a drain of new devices
every batch reads, so prepares and commits ran one after the other: the commit thread was
idle ~3 of the drain's 17–20 s (docs/perf.md, "Seventh slice (deep)").

Now a read waits only when it could see rows in flight. Each batch's ``Footprint`` is the
devices and outlets of every row its commit writes: measurements (by ``device_id``),
aggregates (``device_id`` and ``outlet_id``), verdicts (``outlet_id``); dead letters are
written too but never read back. The store's reads (``streams.store.PgStore``) select rows of
exactly those three tables by those columns: a read keyed by devices (``device_hours``,
``closed_hours``, ``recent``, ``rate_histories``) sees only rows of its devices, one keyed by
outlets (``daily_years``, ``rate_histories``) only rows of its outlets. So when none of a
read's devices and outlets is in the footprint of a batch in flight, no row the read can see
is in flight: it returns what it would return after those COMMITs, and it need not wait.
Otherwise it waits for every earlier COMMIT, as before. The check is exact, not a guess; a
store whose reads select rows by other columns would need a wider footprint.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from schemas.measurement import AggregateValue, Measurement
from schemas.verdict import Verdict
from streams.domain.load_substitution import StoredRates
from streams.domain.store import DeviceHour, OutletYear, RateKey, Store, StoredHours, StoredYear

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Footprint:
    """The devices and outlets whose stored rows a batch's commit writes."""

    devices: frozenset[str]
    outlets: frozenset[str]


def footprint(devices: Iterable[str], outputs: Iterable[object]) -> Footprint:
    """The footprint of a batch with measurements of ``devices`` and these engine ``outputs``
    (aggregates and verdicts are stored; quality signals are only published)."""
    touched = set(devices)
    outlets: set[str] = set()
    for output in outputs:
        if isinstance(output, AggregateValue):
            touched.add(output.device_id)
            outlets.add(output.outlet_id)
        elif isinstance(output, Verdict):
            outlets.add(output.outlet_id)
    return Footprint(frozenset(touched), frozenset(outlets))


class InFlight:
    """Footprints of the batches prepared and not yet committed, by sequence. Not locked:
    the pipeline calls it under its ordering lock."""

    __slots__ = ("_batches",)

    def __init__(self) -> None:
        self._batches: dict[int, Footprint] = {}

    def add(self, sequence: int, batch: Footprint) -> None:
        self._batches[sequence] = batch

    def committed(self, sequence: int) -> None:
        self._batches.pop(sequence, None)

    def clear(self, devices: Collection[str], outlets: Collection[str]) -> bool:
        """No batch in flight writes rows of these ``devices`` or ``outlets``."""
        for batch in self._batches.values():
            if not batch.devices.isdisjoint(devices) or not batch.outlets.isdisjoint(outlets):
                return False
        return True


class Ordering(Protocol):
    """What ``CommittedReads`` needs of the pipeline (``streams.pipeline.Pipeline``)."""

    def wait_for_reads(self, sequence: int) -> None:
        """Block until batch ``sequence`` and every one before it is committed."""
        ...

    def reads_clear(self, devices: Collection[str], outlets: Collection[str]) -> bool:
        """No batch in flight writes rows of these devices or outlets."""
        ...


class Retrying(Protocol):
    """The sink's retry while the database is unreachable (``streams.sink.PgSink``)."""

    def with_retry(self, read: Callable[[], T]) -> T: ...


class CommittedReads:
    """``Store`` reads for ``Engine.prepare`` of batch ``previous`` + 1 (see the module
    docstring): a read that could see rows in flight first waits until batch ``previous`` is
    committed, one that cannot goes at once; each is retried like a flush
    while the database is unreachable."""

    def __init__(
        self,
        store: Store,
        sink: Retrying,
        ordering: Ordering,
        previous: int,
    ) -> None:
        self._store = store
        self._sink = sink
        self._ordering = ordering
        self._previous = previous
        self._waited = False

    def _read(
        self, read: Callable[[], T], devices: Collection[str], outlets: Collection[str] = ()
    ) -> T:
        if not self._waited and not self._ordering.reads_clear(devices, outlets):
            self._ordering.wait_for_reads(self._previous)
            self._waited = True
        return self._sink.with_retry(read)

    def device_hours(self, keys: Iterable[DeviceHour]) -> Mapping[DeviceHour, list[Measurement]]:
        wanted = list(keys)
        devices = {device for device, _ in wanted}
        return self._read(lambda: self._store.device_hours(wanted), devices)

    def closed_hours(
        self, keys: Iterable[DeviceHour], outlets: Mapping[str, str], skew: timedelta
    ) -> StoredHours:
        wanted = list(keys)
        devices = {device for device, _ in wanted}
        return self._read(lambda: self._store.closed_hours(wanted, outlets, skew), devices,
                          set(outlets.values()))  # fmt: skip

    def stored_devices(
        self, spans: Mapping[str, tuple[datetime, datetime]], outlets: Mapping[str, str]
    ) -> set[str]:
        wanted, where = dict(spans), dict(outlets)
        return self._read(lambda: self._store.stored_devices(wanted, where), set(wanted),
                          set(where.values()))  # fmt: skip

    def daily_years(self, keys: Iterable[OutletYear]) -> Mapping[OutletYear, StoredYear]:
        wanted = list(keys)
        outlets = {outlet for outlet, _, _ in wanted}
        return self._read(lambda: self._store.daily_years(wanted), (), outlets)

    def rate_histories(self, keys: Iterable[RateKey]) -> Mapping[RateKey, StoredRates]:
        wanted = list(keys)
        devices = {device for device, _, _, _ in wanted}
        outlets = {outlet for _, outlet, _, _ in wanted}
        return self._read(lambda: self._store.rate_histories(wanted), devices, outlets)

    def recent(
        self, anchors: Mapping[str, datetime], span: timedelta, skew: timedelta
    ) -> Mapping[str, list[Measurement]]:
        wanted = dict(anchors)
        return self._read(lambda: self._store.recent(wanted, span, skew), set(wanted))
