"""The replay's minute values outside memory, in a private temporary SQLite file (issue 15:
a province-day replay in bounded memory).

``greenwatch replay`` must answer every read the worker's ``PgStore`` would (late data for a
closed hour re-read its minutes however late they come), so nothing read is dropped: every
batch's minute values go here, one row per batch indexed by device-hour, and come back only
when asked for (the engine holds its open hours itself). The file is SQLite's private temporary
database (``connect("")``): nobody else can open it, and it is deleted when the connection
closes or the process ends.

A row holds a batch's values as one pickle per device-hour of its frames (the fields a
packet's values share once, then each value's own fields: ``_frames``); a late read
unpickles the batches that hold its hour. Pickle is safe here: the
process reads back only what it wrote to its own private file.

``SpilledAggregates`` does the same for the hourly aggregates the store keeps for hydration
(``MemoryStore(hourly=...)``): one pickled row per device-hour, the latest written held as
objects, so neither the minute values nor the hourly aggregates grow the replay's memory.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Final

from schemas.measurement import AggregateValue, Measurement
from streams.domain.store import DeviceHour

HELD_HOURS: Final = 256
"""Device-hours of hourly aggregates ``SpilledAggregates`` keeps as objects (the latest
written); the others are in the file."""
_FIELDS: Final[tuple[str, ...]] = Measurement._fields
_OWN_FIELDS: Final = ("factor", "factor_as_sent", "rtd", "avg", "min", "max", "cou", "zs_rtd",
                      "zs_avg", "flag")  # fmt: skip
"""What each value of a packet has of its own; the other fields the packet's values share."""
_SHARED_FIELDS: Final = tuple(f for f in _FIELDS if f not in _OWN_FIELDS)
_OWN: Final = attrgetter(*_OWN_FIELDS)
_SHARED: Final = attrgetter(*_SHARED_FIELDS)
_START: Final = _SHARED_FIELDS.index("period_start")
_RECEIVED: Final = _SHARED_FIELDS.index("received_at")
Frame = tuple[tuple[Any, ...], list[tuple[Any, ...]]]
"""(the shared fields, each value's own fields)."""


def private_database() -> sqlite3.Connection:
    """SQLite's private temporary database (``connect("")``: a file only this connection can
    open, deleted when it closes), autocommit, no journal, no fsync: scratch space."""
    db = sqlite3.connect("", isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    return db


class SpilledHours:
    """``streams.domain.store.ColdHours`` in a private temporary SQLite database. Blocks on
    the local disk; raises ``sqlite3.Error`` when the disk is full. Not thread-safe."""

    def __init__(self) -> None:
        self._db = private_database()
        self._db.execute("CREATE TABLE batches (id INTEGER PRIMARY KEY, hour_values BLOB)")
        self._db.execute("CREATE TABLE hours (device TEXT, hour INTEGER, batch INTEGER)")
        self._db.execute("CREATE INDEX hours_by_key ON hours (device, hour)")

    def append(self, hours: Mapping[DeviceHour, list[Measurement]]) -> None:
        keyed = {_key(key): _frames(values) for key, values in hours.items()}
        blob = pickle.dumps(keyed, protocol=pickle.HIGHEST_PROTOCOL)
        batch = self._db.execute("INSERT INTO batches (hour_values) VALUES (?)", (blob,)).lastrowid
        self._db.executemany("INSERT INTO hours VALUES (?, ?, ?)", [(*key, batch) for key in keyed])

    def get(self, key: DeviceHour) -> list[Measurement]:
        wanted = _key(key)
        latest: dict[tuple[Any, ...], Measurement] = {}
        for (blob,) in self._db.execute(
            "SELECT b.hour_values FROM hours h JOIN batches b ON b.id = h.batch "
            "WHERE h.device = ? AND h.hour = ? ORDER BY b.id",
            wanted,
        ):
            hour_frames: dict[tuple[str, int], list[Frame]] = pickle.loads(blob)
            for m in _measurements(hour_frames[wanted]):
                latest[(m.factor, m.period, m.period_start)] = m
        return list(latest.values())

    def hours(self) -> list[DeviceHour]:
        return [
            (device, datetime.fromtimestamp(hour, UTC))
            for device, hour in self._db.execute("SELECT DISTINCT device, hour FROM hours")
        ]

    def close(self) -> None:
        """Delete the file (also done when the object is collected)."""
        self._db.close()


HourAggregates = dict[str, AggregateValue]
"""One device-hour's hourly aggregates by factor (``MemoryStore``'s hourly map)."""


class SpilledAggregates(MutableMapping[DeviceHour, HourAggregates]):
    """``MemoryStore``'s hourly aggregates (device-hour → factor → ``AggregateValue``, ~3 KB
    each) in a private temporary SQLite database, the ``held`` latest written device-hours
    kept as objects: a write-back cache, so memory does not grow with the input's hours.
    ``setdefault`` returns the held dict that the caller then fills (what ``MemoryStore.
    record`` does); ``get`` of a spilled hour returns a copy read from the file. Blocks on the
    local disk; not thread-safe."""

    def __init__(self, held: int = HELD_HOURS) -> None:
        self._db = private_database()
        self._db.execute(
            "CREATE TABLE hourly (device TEXT, hour INTEGER, aggregates BLOB, "
            "PRIMARY KEY (device, hour)) WITHOUT ROWID"
        )
        self._held: dict[tuple[str, int], HourAggregates] = {}
        self._limit = max(1, held)

    def __getitem__(self, key: DeviceHour) -> HourAggregates:
        wanted = _key(key)
        found = self._held.get(wanted)
        if found is not None:
            return found
        row = self._db.execute(
            "SELECT aggregates FROM hourly WHERE device = ? AND hour = ?", wanted
        ).fetchone()
        if row is None:
            raise KeyError(key)
        aggregates: HourAggregates = pickle.loads(row[0])  # our own private file
        return aggregates

    def __setitem__(self, key: DeviceHour, value: HourAggregates) -> None:
        wanted = _key(key)
        self._held.pop(wanted, None)
        self._held[wanted] = value
        self._write_oldest()

    def __delitem__(self, key: DeviceHour) -> None:
        wanted = _key(key)
        held = self._held.pop(wanted, None)
        gone = self._db.execute("DELETE FROM hourly WHERE device = ? AND hour = ?", wanted)
        if held is None and gone.rowcount == 0:
            raise KeyError(key)

    def __iter__(self) -> Iterator[DeviceHour]:
        spilled = self._db.execute("SELECT device, hour FROM hourly").fetchall()
        for device, hour in {*spilled, *self._held}:
            yield device, datetime.fromtimestamp(hour, UTC)

    def __len__(self) -> int:
        spilled = self._db.execute("SELECT device, hour FROM hourly").fetchall()
        return len({*spilled, *self._held})

    def setdefault(self, key: DeviceHour, default: HourAggregates | None = None) -> HourAggregates:
        """The device-hour's aggregates, held from now on (read back from the file when
        spilled), ``default`` when there are none."""
        wanted = _key(key)
        found = self._held.get(wanted)
        if found is not None:
            return found
        try:
            found = self[key]
        except KeyError:
            found = default if default is not None else {}
        self[key] = found
        return found

    def held(self) -> int:
        """Device-hours held as objects (at most the ``held`` given)."""
        return len(self._held)

    def close(self) -> None:
        """Delete the file (also done when the object is collected)."""
        self._db.close()

    def _write_oldest(self) -> None:
        if len(self._held) <= self._limit:
            return
        count = len(self._held) - self._limit // 2  # write half at once: one executemany
        oldest = list(self._held)[:count]
        rows = [
            (device, hour, pickle.dumps(self._held.pop((device, hour)), pickle.HIGHEST_PROTOCOL))
            for device, hour in oldest
        ]
        self._db.executemany("INSERT OR REPLACE INTO hourly VALUES (?, ?, ?)", rows)


def _key(key: DeviceHour) -> tuple[str, int]:
    device, hour = key
    return device, int(hour.timestamp())


def _frames(values: list[Measurement]) -> list[Frame]:
    """``values`` as frames: the fields a packet's values share once, then each value's own
    (pickling the shared datetimes, enum and strings per value was ~1 µs of the ~1.4 µs per
    value the spill cost). A new frame starts whenever a shared field differs, or a time's
    ``tzinfo`` is another object (equal instants in another offset stay as they were)."""
    frames: list[Frame] = []
    previous: tuple[Any, ...] = ()
    own: list[tuple[Any, ...]] = []
    for m in values:
        shared = _SHARED(m)
        if (
            shared != previous
            or shared[_START].tzinfo is not previous[_START].tzinfo
            or shared[_RECEIVED].tzinfo is not previous[_RECEIVED].tzinfo
        ):
            own = []
            frames.append((shared, own))
            previous = shared
        own.append(_OWN(m))
    return frames


def _measurements(frames: list[Frame]) -> list[Measurement]:
    found = []
    for shared, own in frames:
        common = dict(zip(_SHARED_FIELDS, shared, strict=True))
        for row in own:
            found.append(Measurement(**common, **dict(zip(_OWN_FIELDS, row, strict=True))))
    return found
