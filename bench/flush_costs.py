"""A sink flush's fixed cost: client CPU and round trips per batch (issue 15, batch slice).

Two shapes of ``PgSink.flush``, written by the real sink into a fresh migrated schema:

- **small**: a paced batch, 16 raw records of 8 factors = 128 new minute measurements;
- **closing**: the same plus what an hour that closes adds: 16 devices × 8 factors hourly
  values and verdicts (the trail trigger runs on each verdict) and the rollup refresh.

Per shape: the client thread's CPU per flush (``time.thread_time``: the database server's
CPU and the waits for it are left out) and the round trips of one flush, counted in libpq's
own protocol trace as the times the client, having sent, waits for the server's answer (a
run of frontend messages followed by a backend one). With ``--baseline DIR`` each round runs
the harness in two fresh processes, one over this tree and one over ``DIR``'s code
(alternating which goes first), and prints both with medians::

    python -m bench.flush_costs --baseline /work/base --rounds 4
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
DEVICES = 16
FACTORS = ("a21026", "a21002", "a34013", "a19001", "a01011", "a01012", "a01013", "a01014")
FLUSHES = 200
"""Timed flushes per shape (after 10 untimed ones)."""
SHAPES = ("small", "closing")
_HOUR0 = datetime(2026, 3, 1, tzinfo=UTC)
_SENT = re.compile(r"^([FB])\s", re.MULTILINE)


def round_trips(trace: str) -> int:
    """How often the client waited for the server in a libpq trace: runs of ``F`` lines
    followed by a ``B`` line."""
    waits, previous = 0, ""
    for match in _SENT.finditer(trace):
        side = match.group(1)
        waits += previous == "F" and side == "B"
        previous = side
    return waits


def _batch(hour: int, minute: int, closing: bool) -> object:
    from schemas.measurement import AggregateValue, Measurement, PeriodKind
    from schemas.verdict import Rule, Verdict, VerdictStatus
    from streams.sink import SinkBatch, SourcePosition

    start = _HOUR0 + timedelta(hours=hour)
    received = datetime.now(UTC)
    batch = SinkBatch()
    for device in range(DEVICES):
        position = SourcePosition("raw", 0, hour * 10_000 + minute * 100 + device)
        for factor in FACTORS:
            m = Measurement(
                device_id=f"FC{device:04d}", outlet_id=f"FC-O{device:04d}", factor=factor,
                factor_as_sent=factor, period=PeriodKind.MINUTE,
                period_start=start + timedelta(minutes=minute), avg=10.0 + device,
                flag="N", received_at=received,
            )  # fmt: skip
            batch.measurements.append(m)
            batch.sources[(m.device_id, m.factor, m.period, m.period_start)] = position
            if not closing:
                continue
            batch.aggregates.append(
                AggregateValue(outlet_id=m.outlet_id, device_id=m.device_id, factor=factor,
                               period=PeriodKind.HOUR, period_start=start, valid=True,
                               valid_count=60, invalid_count=0, flag_counts={"N": 60},
                               mean=20.0 + device % 7, registry_version="bench")
            )  # fmt: skip
            batch.verdicts.append(
                Verdict(enterprise_id="FC-E", outlet_id=m.outlet_id, factor=factor,
                        rule=Rule.HOURLY_CONCENTRATION, period=PeriodKind.HOUR,
                        period_start=start, value=20.0, limit=35.0, ratio=20.0 / 35.0,
                        status=VerdictStatus.COMPLIANT,
                        evidence={"valid_minutes": 60, "flags": {"N": 60}},
                        registry_version="bench")
            )  # fmt: skip
    return batch


def measure() -> dict[str, float]:
    """One run in this process: µs of client CPU per flush and round trips per flush."""
    from psycopg import pq

    from bench.db import migrated_schema, unreachable
    from runtime.settings import Settings, database_dsn
    from streams.sink import PgSink, SinkBatch, create_pool

    dsn = database_dsn(Settings())
    if missing := unreachable(dsn):
        raise SystemExit(missing[0])
    figures: dict[str, float] = {}
    with migrated_schema(dsn, "flushcost") as scoped, create_pool(scoped, max_size=1) as pool:
        pool.wait(timeout=30)
        sink = PgSink(pool)
        hour = 0
        for shape in SHAPES:
            closing = shape == "closing"
            batches: list[SinkBatch] = []
            for _ in range(FLUSHES + 11):
                hour += 1
                batches.append(_batch(hour, 59, closing))  # type: ignore[arg-type]
            for batch in batches[:10]:
                sink.flush(batch)
            started = time.thread_time()
            for batch in batches[10:-1]:
                sink.flush(batch)
            figures[f"{shape} CPU µs"] = (time.thread_time() - started) / FLUSHES * 1e6
            with tempfile.TemporaryDirectory() as tmp:
                trace = Path(tmp) / "flush.trace"
                with trace.open("w") as out:
                    with pool.connection() as conn:
                        conn.pgconn.trace(out.fileno())
                        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
                    try:
                        sink.flush(batches[-1])
                    finally:
                        with pool.connection() as conn:
                            conn.pgconn.untrace()
                figures[f"{shape} round trips"] = round_trips(trace.read_text(errors="replace"))
    return figures


def compare(baseline: Path | None, rounds: int) -> list[str]:
    """Rounds of this tree (and ``baseline``, alternating first) and the table of medians."""
    from bench.trees import child_figures  # here: a base tree's child may not have it

    trees = {"this": _ROOT} | ({"baseline": baseline.resolve()} if baseline else {})
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for round_ in range(max(rounds, 1)):
        order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
        for name in order:
            runs[name].append(child_figures(Path(__file__), trees[name], ["--child"]))
    lines = [
        f"sink flush, {DEVICES} raw records × {len(FACTORS)} factors per batch, {FLUSHES} "
        f"flushes per shape; median of {max(rounds, 1)} rounds (each round in brackets)",
        f"{'figure':<22}" + "".join(f"{name:>34}" for name in trees)
        + ("   ratio" if baseline else ""),
    ]  # fmt: skip
    for figure in runs["this"][0]:
        medians = {name: statistics.median(r[figure] for r in runs[name]) for name in trees}
        cells = "".join(
            f"{medians[name]:8.0f} ({', '.join(f'{r[figure]:.0f}' for r in runs[name])})".rjust(34)
            for name in trees
        )
        ratio = ""
        if baseline and medians["baseline"]:
            ratio = f"  ×{medians['this'] / medians['baseline']:.2f}"
        lines.append(f"{figure:<22}{cells}{ratio}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.flush_costs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs per tree (default 1)")
    parser.add_argument("--baseline", type=Path, help="a checkout to measure beside this tree")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline is not None and not (args.baseline / "streams" / "sink.py").is_file():
        parser.error(f"--baseline {args.baseline}: not a Greenwatch checkout")
    if args.child:
        print(json.dumps(measure()))
        return 0
    for line in compare(args.baseline, args.rounds):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
