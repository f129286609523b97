"""The replay's minute values outside memory, in a private temporary SQLite file (issue 15:
a province-day replay in bounded memory).

``greenwatch replay`` must answer every read the worker's ``PgStore`` would (late data for a
closed hour re-read its minutes however late they come), so nothing read is dropped: every
batch's minute values go here, one row per batch indexed by device-hour, and come back only
when asked for (the engine holds its open hours itself). The file is SQLite's private temporary
database (``connect("")``): nobody else can open it, and it is deleted when the connection
closes or the process ends.

A row holds a batch's values as one pickle of field tuples per device-hour (``attrgetter``
over the dataclass fields; a batch's devices, outlets and times are written once by pickle's
memo); a late read unpickles the batches that hold its hour. Pickle is safe here: the
process reads back only what it wrote to its own private file.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from schemas.measurement import Measurement
from streams.domain.store import DeviceHour


class SpilledHours:
    """``streams.domain.store.ColdHours`` in a private temporary SQLite database. Blocks on
    the local disk; raises ``sqlite3.Error`` when the disk is full. Not thread-safe."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE batches (id INTEGER PRIMARY KEY, hour_values BLOB)")
        self._db.execute("CREATE TABLE hours (device TEXT, hour INTEGER, batch INTEGER)")
        self._db.execute("CREATE INDEX hours_by_key ON hours (device, hour)")

    def append(self, hours: Mapping[DeviceHour, list[Measurement]]) -> None:
        keyed = {_key(key): [tuple(m) for m in values] for key, values in hours.items()}
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
            rows: dict[tuple[str, int], list[tuple[Any, ...]]] = pickle.loads(blob)
            for m in _measurements(rows[wanted]):
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


def _key(key: DeviceHour) -> tuple[str, int]:
    device, hour = key
    return device, int(hour.timestamp())


def _measurements(rows: list[tuple[Any, ...]]) -> list[Measurement]:
    return [Measurement._make(row) for row in rows]
