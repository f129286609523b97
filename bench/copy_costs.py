"""PostgreSQL's CPU per measurement of the drain's COPY (issue 15, seventh slice).

The one-worker drain writes its minutes as batches of ~1 463 raw records × 8 factors, each
a binary ``COPY`` straight into ``measurements`` (``streams.upserts.copy_new_measurements``)
and a ``COMMIT``. This harness writes the drain's 480 000 measurements (``DEVICES`` devices ×
``MINUTES`` minutes × 8 factors, every key new) in that shape into a fresh migrated schema and
reads the server backend's CPU (``/proc/<backend pid>/stat``, user + system) around each
statement: PostgreSQL's own CPU, without the client's or the waits. Variants, each in a
schema of its own, alternating over ``--rounds``:

- ``stored``: the schema as migrated (primary key + ``measurements_outlet_time_idx``);
- ``no-outlet-index``: the same without ``measurements_outlet_time_idx`` (what that index
  costs a write; the audit API's and panels' reads by outlet use it, so it stays);
- ``sorted``: rows in primary-key order within each batch;

on the detected flavor, and on plain PostgreSQL with ``--plain``. Needs the local stack
(server on this machine: ``/proc`` of its backend)::

    python -m bench.copy_costs --rounds 2 --plain
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg

from bench.cpu_budget import cpu_seconds
from bench.db import migrated_schema, unreachable
from deploy.migrate import Flavor
from runtime.settings import Settings, database_dsn
from streams.upserts import copy_new_measurements, prepare_connection

DEVICES = 10_000
MINUTES = 6
PER_BATCH = 1_463
"""Raw records per batch, as the one-worker drain's batches average."""
FACTORS = ("a21026", "a21002", "a34013", "a19001", "a01011", "a01012", "a01013", "a01014")
VARIANTS = ("stored", "no-outlet-index", "sorted")
_T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

Row = tuple[object, ...]


def drain_batches(sort: bool) -> list[list[Row]]:
    """The drain's rows (``streams.upserts`` column order) cut in its batches: device after
    device as the partitions deliver them, each device's minutes in time order."""
    received = datetime.now(UTC)
    rows: list[Row] = [
        (f"D{d:05d}", f, "minute", _T0 + timedelta(minutes=d % 60 + minute), f"O{d:05d}", f,
         None, 1.5, 1.0, 2.0, None, None, None, "N", received, None)
        for minute in range(MINUTES) for d in range(DEVICES) for f in FACTORS
    ]  # fmt: skip
    size = PER_BATCH * len(FACTORS)
    batches = [rows[i : i + size] for i in range(0, len(rows), size)]
    return [sorted(b, key=lambda r: r[:4]) for b in batches] if sort else batches


def measure(dsn: str, variant: str, flavor: Flavor | None) -> tuple[float, float]:
    """(server CPU µs per measurement of the COPYs, of the COMMITs) for ``variant``."""
    with migrated_schema(dsn, "bench_copy", flavor) as scoped:
        with psycopg.connect(scoped) as conn:
            prepare_connection(conn)
            if variant == "no-outlet-index":
                conn.execute("DROP INDEX measurements_outlet_time_idx")
                conn.commit()
            batches = drain_batches(sort=variant == "sorted")
            pid = conn.info.backend_pid
            copy_s = commit_s = 0.0
            for batch in batches:
                before = cpu_seconds(pid)
                with conn.cursor() as cur:
                    copy_new_measurements(cur, batch)
                middle = cpu_seconds(pid)
                conn.commit()
                copy_s += middle - before
                commit_s += cpu_seconds(pid) - middle
        count = sum(len(b) for b in batches)
        return copy_s / count * 1e6, commit_s / count * 1e6


def report(dsn: str, rounds: int, flavors: Sequence[Flavor | None]) -> list[str]:
    lines = [
        f"drain-shaped COPY: {DEVICES} devices × {MINUTES} minutes × 8 factors, batches of "
        f"{PER_BATCH} records; PostgreSQL backend CPU, µs per measurement (median of {rounds})"
    ]
    for flavor in flavors:
        figures: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
        for n in range(rounds):
            order = VARIANTS if n % 2 == 0 else tuple(reversed(VARIANTS))
            for variant in order:
                figures[variant].append(measure(dsn, variant, flavor))
        name = flavor.value if flavor is not None else "detected flavor"
        for variant, values in figures.items():
            copy = statistics.median(v[0] for v in values)
            commit = statistics.median(v[1] for v in values)
            each = ", ".join(f"{v[0] + v[1]:.2f}" for v in values)
            lines.append(
                f"  {name:<16} {variant:<16} COPY {copy:5.2f} + COMMIT {commit:4.2f}"
                f" = {copy + commit:5.2f}  ({each})"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.copy_costs", description=__doc__)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--plain", action="store_true", help="also on plain PostgreSQL")
    args = parser.parse_args(argv)
    dsn = database_dsn(Settings())
    problems = unreachable(dsn)
    if problems:
        print("\n".join(problems))
        return 1
    flavors: list[Flavor | None] = [None, Flavor.PLAIN] if args.plain else [None]
    print("\n".join(report(dsn, args.rounds, flavors)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
