"""The pipeline benchmark's drain clock: which stretch of a drain a throughput figure covers.

The workers start on a backlog already in the raw topic and are scraped every ~0.1 s
(committed ``measurements`` rows and assigned raw partitions, per worker). Two clocks:

- **first row** (the figure until issue 15's fifth slice): from the last scrape without a
  committed row to the end. With two workers it includes one worker draining alone while the
  other still reads its registry, then the rebalance when the second joins (seen: 4–5 s of a
  ~14 s drain), so it is not what "two workers" claims.
- **steady**: from the first scrape at which *every* worker owns partitions (the group is
  settled) — or the last scrape without a row, when that is later — to the end. Rows committed
  before it are reported apart (``rows_before``).

Both are computed from the same scrapes (pure code, unit-tested); a worker's start (spawned →
partitions assigned) comes from the same scrapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Scrape(Generic[T]):
    """One poll of every worker: monotonic time, committed rows and assigned raw partitions
    per worker, and whatever the caller attaches (a CPU sample); ``batches`` and ``batched``
    are each worker's processed batches and raw messages in them so far (when scraped)."""

    at: float
    rows: tuple[float, ...]
    assigned: tuple[float, ...]
    extra: T
    batches: tuple[float, ...] = ()
    batched: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Window(Generic[T]):
    """A clock's stretch: rows and seconds between its start and end scrapes."""

    start: Scrape[T]
    end: Scrape[T]

    @property
    def rows(self) -> float:
        return sum(self.end.rows) - sum(self.start.rows)

    @property
    def seconds(self) -> float:
        return self.end.at - self.start.at

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("nan")

    def batch_sizes(self) -> tuple[tuple[float, float], ...]:
        """Per worker: (batches, raw messages per batch on average) within the window."""
        counts = [b - a for a, b in zip(self.start.batches, self.end.batches, strict=True)]
        sizes = [b - a for a, b in zip(self.start.batched, self.end.batched, strict=True)]
        return tuple(
            (count, size / count if count else float("nan"))
            for count, size in zip(counts, sizes, strict=True)
        )


@dataclass(frozen=True, slots=True)
class Drain(Generic[T]):
    """Both clocks of one drain, and each worker's start (s from ``spawned`` to its first
    scrape with partitions assigned; None if it never reported any)."""

    first_row: Window[T]
    steady: Window[T]
    starts: tuple[float | None, ...]

    @property
    def rows_before(self) -> float:
        """Rows committed before the steady clock started."""
        return sum(self.steady.start.rows)


def drain(scrapes: Sequence[Scrape[T]], spawned: float) -> Drain[T]:
    """The clocks of ``scrapes`` (in time order; the last one ends both); raises ValueError
    when no row was committed."""
    if not scrapes or sum(scrapes[-1].rows) <= 0:
        raise ValueError("no committed row in the drain")
    last_empty = 0
    for index, scrape in enumerate(scrapes):
        if sum(scrape.rows) > 0:
            break
        last_empty = index
    settled = next(
        (i for i, s in enumerate(scrapes) if all(a > 0 for a in s.assigned)), len(scrapes) - 1
    )
    workers = len(scrapes[0].assigned)
    starts = tuple(
        next((s.at - spawned for s in scrapes if s.assigned[w] > 0), None) for w in range(workers)
    )
    end = scrapes[-1]
    return Drain(
        first_row=Window(scrapes[last_empty], end),
        steady=Window(scrapes[max(last_empty, settled)], end),
        starts=starts,
    )
