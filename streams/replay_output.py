"""The replay's outputs outside memory, in the order ``greenwatch replay`` prints them (issue 15:
a province-day replay in bounded memory).

``greenwatch replay`` prints the **latest** revision of every hourly and daily aggregate and
verdict, sorted by period start, outlet, factor, kind and rule, then (``--quality``) every
quality signal sorted by observation time, device, factor, signal kind and state, in the
order they were issued among equals. A late line may revise any output however old, so
nothing can be printed before the input ends; but nothing has to stay in memory either:
``OutputSpill`` keeps at most ``PENDING`` outputs as objects, writes the others as the JSON
text they will be printed as into SQLite's private temporary database (``connect("")``:
nobody else can open it, deleted when the replay ends), keyed by their natural key (a later
revision replaces the row, as the sink's upsert does), and reads them back in print order from
the key's index (``rows()``), one at a time.

The print order is SQLite's order of the key columns: instants as integer microseconds since
the epoch (the order of aware datetimes), text by code point (SQLite's ``BINARY`` collation on
UTF-8, the order of Python's ``str``), a signal's ``active`` as 0/1, and the order of issue
(``seq``) among signals with equal keys (Python's sort is stable).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from schemas.alert import QualitySignal
from schemas.measurement import AggregateValue, PeriodKind
from schemas.verdict import Verdict
from streams.replay_spill import private_database

PENDING: Final = 2_000
"""Outputs held as objects before they are written as rows (bounds the replay's memory)."""
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_KIND_RANK: Final = {"hourly": 0, "daily": 1, "verdict": 2}

OutputKey = tuple[int, str, str, int, str]
"""Print order of an aggregate or verdict: (period start µs, outlet, factor, kind rank, rule)."""
SignalKey = tuple[int, str, str, str, int]
"""Print order of a quality signal: (observed µs, device, factor, signal kind, active)."""
Row = tuple[tuple[Any, ...], str, str]
"""(print-order key, the line's ``kind``, the JSON text printed)."""


def output_kind(output: AggregateValue | Verdict) -> str:
    """The ``kind`` of the printed line: ``hourly``, ``daily`` or ``verdict``."""
    if isinstance(output, Verdict):
        return "verdict"
    return "hourly" if output.period is PeriodKind.HOUR else "daily"


def output_text(output: AggregateValue | Verdict) -> str:
    """The printed JSON line of an aggregate or verdict (no newline)."""
    return json.dumps(
        {"kind": output_kind(output), **output.model_dump(mode="json")}, ensure_ascii=False
    )


def signal_text(signal: QualitySignal) -> str:
    """The printed JSON line of a quality signal: its ``kind`` printed as ``signal``."""
    fields = signal.model_dump(mode="json")
    fields["signal"] = fields.pop("kind")
    return json.dumps({"kind": "quality", **fields}, ensure_ascii=False)


def output_key(output: AggregateValue | Verdict) -> OutputKey:
    at = _micros(output.period_start)
    if isinstance(output, Verdict):
        return (at, output.outlet_id, output.factor, 2, output.rule.value)
    return (at, output.outlet_id, output.factor, _KIND_RANK[output_kind(output)], "")


def signal_key(signal: QualitySignal) -> SignalKey:
    return (
        _micros(signal.observed_at),
        signal.device_id,
        signal.factor or "",
        signal.kind.value,
        int(signal.active),
    )


class OutputSpill:
    """The latest outputs and every kept signal of one replay, in a private temporary SQLite
    database. Blocks on the local disk; raises ``sqlite3.Error`` when it is full. Not
    thread-safe."""

    def __init__(self, pending: int = PENDING) -> None:
        self._db = private_database()
        self._db.execute(
            "CREATE TABLE latest (at INTEGER, outlet TEXT, factor TEXT, rank INTEGER, "
            "rule TEXT, period TEXT, kind TEXT, line TEXT, "
            "PRIMARY KEY (at, outlet, factor, rank, rule, period)) WITHOUT ROWID"
        )
        self._db.execute(
            "CREATE TABLE signals (at INTEGER, device TEXT, factor TEXT, signal TEXT, "
            "active INTEGER, seq INTEGER, line TEXT, "
            "PRIMARY KEY (at, device, factor, signal, active, seq)) WITHOUT ROWID"
        )
        self._limit = pending
        self._latest: dict[tuple[Any, ...], AggregateValue | Verdict] = {}
        self._signals: list[QualitySignal] = []
        self._seq = 0

    def keep(self, output: AggregateValue | Verdict) -> None:
        """Hold ``output`` as the latest revision of its natural key."""
        if isinstance(output, Verdict):
            natural: tuple[Any, ...] = (
                "v",
                output.outlet_id,
                output.factor,
                output.rule,
                output.period_start,
            )
        else:
            natural = ("a", output.outlet_id, output.factor, output.period, output.period_start)
        self._latest[natural] = output
        if len(self._latest) >= self._limit:
            self._write_latest()

    def keep_signal(self, signal: QualitySignal) -> None:
        """Hold ``signal`` (every one is printed, in order of issue among equal keys)."""
        self._signals.append(signal)
        if len(self._signals) >= self._limit:
            self._write_signals()

    def keep_signals(self, signals: Iterable[QualitySignal]) -> None:
        for signal in signals:
            self.keep_signal(signal)

    def rows(self) -> Iterator[Row]:
        """The latest outputs in print order, then the signals in print order."""
        self._write_latest()
        self._write_signals()
        for at, outlet, factor, rank, rule, kind, line in self._db.execute(
            "SELECT at, outlet, factor, rank, rule, kind, line FROM latest "
            "ORDER BY at, outlet, factor, rank, rule, period"
        ):
            yield (at, outlet, factor, rank, rule), kind, line
        for at, device, factor, signal, active, line in self._db.execute(
            "SELECT at, device, factor, signal, active, line FROM signals "
            "ORDER BY at, device, factor, signal, active, seq"
        ):
            yield (at, device, factor, signal, active), "quality", line

    def close(self) -> None:
        """Delete the file (also done when the object is collected)."""
        self._db.close()

    def _write_latest(self) -> None:
        if not self._latest:
            return
        rows = []
        for output in self._latest.values():
            at, outlet, factor, rank, rule = output_key(output)
            period = "" if isinstance(output, Verdict) else output.period.value
            rows.append(
                (at, outlet, factor, rank, rule, period, output_kind(output), output_text(output))
            )
        self._db.executemany("INSERT OR REPLACE INTO latest VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self._latest = {}

    def _write_signals(self) -> None:
        if not self._signals:
            return
        rows = []
        for signal in self._signals:
            self._seq += 1
            rows.append((*signal_key(signal), self._seq, signal_text(signal)))
        self._db.executemany("INSERT INTO signals VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self._signals = []


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND
