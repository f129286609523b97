"""Commands of the streams package (registered by the composition root, greenwatch/cli.py)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from schemas.registry import Registry, RegistryError, load_registry
from streams.app import WorkerTuning
from streams.energy_replay import replay_energy
from streams.replay import ReplayStats, replay_rows
from streams.replay_output import Row
from streams.replay_parallel import replay_file, usable_cores

_LISTED_MNS = 20
"""Unknown MNs named on stderr (all are counted)."""


def replay_command(
    ctx: typer.Context,
    registry: Path = typer.Option(
        ..., "--registry", help="Registry YAML (who is monitored, limits, quotas)."
    ),
    input: str | None = typer.Option(
        None,
        "--input",
        help="File of HJ 212 frames, one per line; '-' reads stdin (the default without --energy).",
    ),
    energy: Path | None = typer.Option(
        None,
        "--energy",
        help="File of energy records, one JSON per line: RawEnvelopes as on PREFIX.raw.energy "
        "or bare EnergyBatches / EnergyRecords. Prints energy_consumption, energy_intensity, "
        "energy_process_co2 and verdict lines.",
    ),
    quality: bool = typer.Option(
        False, "--quality", help="Also print the data-quality signals (kind 'quality')."
    ),
    jobs: int = typer.Option(
        usable_cores(),
        "--jobs",
        min=1,
        help="Processes replaying the HJ 212 input, each a partition of the enterprises; the "
        "output is the same for any number (default: the usable cores; 1: this process only). "
        "With more than one, stdin is first copied to a private temporary file.",
        show_default="usable cores",
    ),
) -> None:
    """Replay HJ 212 frames and/or energy records offline through the stream engines; print
    JSON lines.

    Prints the latest hourly and daily aggregates and verdicts ({"kind": "hourly" | "daily" |
    "verdict", ...}) sorted by period start, outlet, factor and rule; with --energy, then the
    latest energy consumption, intensities and energy verdicts; what was skipped
    (undecodable lines, unknown MNs) is counted on stderr. The outputs wait in a private
    temporary file until the input ends, not in memory. Exit code 2 when the registry or an
    input cannot be read.
    """
    try:
        loaded = load_registry(registry)
    except RegistryError as error:
        typer.echo(f"replay: {error}", err=True)
        raise typer.Exit(2) from None
    if input is None and energy is None:
        input = "-"
    out = sys.stdout
    kinds: Counter[str] = Counter()
    summary: list[str] = []
    try:
        if energy is not None:  # read first: an unreadable file stops the replay before output
            with open(energy, "rb") as lines:
                energy_rows, energy_stats = replay_energy(lines, loaded)
        if input is not None:
            with _hj212_rows(input, loaded, quality, jobs) as (rows, stats):
                for _, kind, text in rows:
                    out.write(text)
                    out.write("\n")
                    kinds[kind] += 1
            summary = _summary(stats, kinds)
        if energy is not None:
            for row in energy_rows:
                out.write(json.dumps(row, ensure_ascii=False))
                out.write("\n")
    except OSError as error:
        typer.echo(f"replay: cannot read input: {error}", err=True)
        raise typer.Exit(2) from None
    out.flush()
    for line in summary:
        typer.echo(f"replay: {line}", err=True)
    if energy is not None:
        typer.echo(
            f"replay: energy {energy_stats.lines} lines, {energy_stats.records} records, "
            f"{energy_stats.undecodable} undecodable",
            err=True,
        )


@contextmanager
def _hj212_rows(
    name: str, registry: Registry, quality: bool, jobs: int
) -> Iterator[tuple[Iterator[Row], ReplayStats]]:
    """The printed lines and counts of the HJ 212 input ``name`` ('-': stdin), replayed in
    ``jobs`` processes (stdin copied to a private temporary file first when more than one)."""
    if name != "-":
        replayed = replay_file(Path(name), registry, quality, jobs)
        yield replayed.rows, replayed.stats
        return
    if jobs == 1:
        yield replay_rows(sys.stdin.buffer, registry, quality)
        return
    with tempfile.TemporaryDirectory(prefix="gw-replay-stdin-") as directory:
        copy = Path(directory) / "input.hj212"
        with copy.open("wb") as spool:
            shutil.copyfileobj(sys.stdin.buffer, spool, 1 << 20)
        replayed = replay_file(copy, registry, quality, jobs)
        yield replayed.rows, replayed.stats


def _summary(stats: ReplayStats, kinds: Counter[str]) -> list[str]:
    undecodable = sum(stats.undecodable.values())
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(stats.undecodable.items()))
    lines = [
        f"{stats.lines} lines, {stats.decoded} decoded, {undecodable} undecodable"
        + (f" ({reasons})" if reasons else "")
    ]
    if stats.unknown_devices:
        packets = sum(stats.unknown_devices.values())
        names = ", ".join(sorted(stats.unknown_devices)[:_LISTED_MNS])
        if len(stats.unknown_devices) > _LISTED_MNS:
            names += ", …"
        lines.append(
            f"{packets} packets from {len(stats.unknown_devices)} unknown MNs skipped: {names}"
        )
    if stats.missing_data_time or stats.bad_receive_time:
        lines.append(
            f"{stats.missing_data_time} measurement packets without DataTime, "
            f"{stats.bad_receive_time} lines with a bad receive time skipped"
        )
    counted = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    lines.append(f"{stats.measurements} measurements → {kinds.total()} lines ({counted})")
    return lines


_WORKER = WorkerTuning()


def worker_command(
    ctx: typer.Context,
    batch_size: int = typer.Option(
        _WORKER.batch_size, min=1, help="Raw messages per batch (one database transaction)."
    ),
    batch_within: float = typer.Option(
        _WORKER.batch_within_s,
        min=0.01,
        help="Seconds a partial batch's first message waits before the batch is processed"
        " (a busy worker batches by size).",
    ),
    lane_depth: int = typer.Option(
        _WORKER.lane_depth,
        min=1,
        max=8,
        help="Batches prepared and not yet committed at most (1: the next batch is prepared"
        " only while one commits; each one more holds one more batch in memory).",
    ),
    tick_interval: float = typer.Option(
        _WORKER.tick_interval_s, min=0.1, help="Seconds between silence checks (Engine.tick)."
    ),
    commit_interval: float = typer.Option(
        _WORKER.commit_interval_s, min=0.1, help="Seconds between offset commits of acked batches."
    ),
    session_timeout: float = typer.Option(
        _WORKER.session_timeout_s,
        min=6.0,
        help="Seconds before a silent worker's partitions move to the others.",
    ),
    metrics_port: int = typer.Option(
        0, min=0, help="Serve Prometheus metrics on 127.0.0.1:PORT (0: off)."
    ),
    loglevel: str = typer.Option("info", help="faust/worker log level."),
    registry: Path | None = typer.Option(
        None,
        "--registry",
        help="Registry YAML (default: GREENWATCH_REGISTRY_FILE), read once: no hot reload. "
        "Without either, the worker follows the registry topic PREFIX.registry "
        "(`greenwatch db load-registry`) and swaps in every version published, between "
        "two batches.",
    ),
    registry_wait: float = typer.Option(
        30.0, min=0.0, help="Following the topic: seconds to wait for a first registry."
    ),
) -> None:
    """Run one stream worker: raw HJ 212 topic → measurements, aggregates and verdicts in
    PostgreSQL → hourly/verdicts/quality topics. Start several to share the partitions;
    stops on SIGTERM/SIGINT. Exit code 2 when it cannot start (invalid registry file, no
    registry published on the topic within --registry-wait, no Kafka)."""
    from streams.worker import WorkerError, WorkerOptions, run_worker  # kafka-python: slow import

    tuning = WorkerTuning(
        batch_size=batch_size,
        batch_within_s=batch_within,
        lane_depth=lane_depth,
        tick_interval_s=tick_interval,
        commit_interval_s=commit_interval,
        session_timeout_s=session_timeout,
    )
    options = WorkerOptions(tuning, metrics_port, loglevel, registry, registry_wait)
    from streams.worker_process import exec_worker, should_exec

    if should_exec(ctx.obj):  # without the other commands' modules (docs/perf.md, rss)
        exec_worker(options)
    try:
        run_worker(ctx.obj, options)
    except WorkerError as error:
        typer.echo(f"worker: {error.reason}", err=True)
        raise typer.Exit(2) from None


def energy_worker_command(
    ctx: typer.Context,
    registry: Path | None = typer.Option(
        None,
        "--registry",
        help="Registry YAML (default: GREENWATCH_REGISTRY_FILE), read once; without either, "
        "the version in force on PREFIX.registry, followed: each version published later is "
        "swapped in between two batches.",
    ),
    registry_wait: float = typer.Option(
        30.0, min=0.0, help="Reading the topic: seconds to wait for a registry."
    ),
    batch_size: int = typer.Option(2_000, min=1, help="Raw messages per transaction."),
) -> None:
    """Run the energy stream: PREFIX.raw.energy → readings, consumption by hour/day/month,
    tce and CO2, rolling intensities and energy verdicts in PostgreSQL (migration 005) and
    verdicts on PREFIX.verdicts for the alert service. Offsets are committed after the
    database commit. Stops on SIGTERM/SIGINT; exit code 2 when it cannot start."""
    import signal
    import threading

    from runtime.kafka_access import Principal, kafka_access
    from runtime.registry_topic import (
        InvalidRegistryRecord,
        NoRegistryPublished,
        open_registry_source,
    )
    from runtime.settings import DbLogin, Settings, database_dsn, registry_key
    from streams.energy_worker import EnergyWorkerOptions, run_energy_worker
    from streams.sink import create_pool

    settings: Settings = ctx.obj
    try:
        source = open_registry_source(
            registry or settings.registry_file,
            kafka_access(settings, Principal.ENERGY_WORKER),
            settings.topic_prefix,
            "greenwatch-energy-registry",
            registry_wait,
            key=registry_key(settings),
        )
    except (RegistryError, NoRegistryPublished, InvalidRegistryRecord) as error:
        typer.echo(f"energy-worker: no registry: {error}", err=True)
        raise typer.Exit(2) from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    options = EnergyWorkerOptions(
        kafka_access(settings, Principal.ENERGY_WORKER),
        settings.topic_prefix,
        batch_size=batch_size,
    )
    pool = create_pool(database_dsn(settings, DbLogin.ENERGY_WORKER), name="greenwatch-energy")
    typer.echo(
        f"energy-worker: {settings.topic_prefix}.raw.energy, registry "
        f"{source.registry.version} ({source.origin})",
        err=True,
    )
    updates = source.updates()
    try:
        run_energy_worker(source.registry, pool, options, stop, updates)
    finally:
        pool.close()
        source.close()
