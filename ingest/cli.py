"""``greenwatch gateway hj212`` and ``greenwatch simulate``: the ingest composition roots.

They read ``Settings`` from ``ctx.obj`` (Kafka bootstrap, topic prefix, registry file), load the
registry (a file, or the registry topic followed for hot reload), and hand plain config objects
to ``ingest.gateway`` and ``ingest.simulator``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from kafka.errors import KafkaError
from rich.console import Console

from ingest.energy.cli import gateway_energy, gateway_energy_key
from ingest.gateway.config import GatewayConfig
from ingest.gateway.publisher import ProducerOptions
from ingest.gateway.runner import RunOptions, serve
from ingest.hj212 import CHINA_TZ
from ingest.simulator.episodes import Episode, EpisodeSpecError
from ingest.simulator.fleet import FleetConfig, FleetStats
from ingest.simulator.province import Province, build_province
from ingest.simulator.session import (
    SimulationOptions,
    choose_episodes,
    default_start,
    simulate,
    write_registry,
)
from runtime.kafka_access import Principal, kafka_access
from runtime.registry_topic import (
    NO_REGISTRY_HINT,
    InvalidRegistryRecord,
    NoRegistryPublished,
    RegistrySource,
    open_registry_source,
)
from runtime.settings import Settings, device_key, registry_key
from schemas.registry import RegistryError
from schemas.topics import Topic, topic_name

gateway_app = typer.Typer(
    help="Device-facing gateways: HJ 212 over TCP, energy JSON over HTTP, into Kafka.",
    no_args_is_help=True,
)
gateway_app.command("energy")(gateway_energy)
gateway_app.command("energy-key")(gateway_energy_key)
_err = Console(stderr=True)
_GC_YOUNG_THRESHOLD = 50_000


def _summary(line: str) -> None:
    """A summary line on stderr, never wrapped (rich colours it on a terminal)."""
    _err.print(line, soft_wrap=True, highlight=sys.stderr.isatty())


def _registry_source(settings: Settings, path: Path | None, wait_s: float) -> RegistrySource:
    try:
        return open_registry_source(
            path or settings.registry_file,
            kafka_access(settings, Principal.GATEWAY),
            settings.topic_prefix,
            "greenwatch-gateway-registry",
            wait_s,
            key=registry_key(settings),
        )
    except RegistryError as error:
        _err.print(f"[red]registry {error.source}: {error.reason}[/red]")
        raise typer.Exit(2) from None
    except (NoRegistryPublished, InvalidRegistryRecord) as error:
        _refuse_to_start(error, wait_s)
        raise


def _refuse_to_start(error: NoRegistryPublished | InvalidRegistryRecord, wait_s: float) -> None:
    """Exit 2 with the reason when the registry topic has no usable registry."""
    if isinstance(error, NoRegistryPublished):
        _err.print(
            f"[red]no registry published on {error.topic} (waited {wait_s:g} s): "
            f"{NO_REGISTRY_HINT}[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    _err.print(
        f"[red]{error}: publish a valid one with `greenwatch db load-registry`[/red]",
        soft_wrap=True,
    )
    raise typer.Exit(2) from None


def _log_to_stderr(*names: str) -> None:
    """Registry swaps and follower warnings as timestamped lines on stderr (once per logger,
    however often the command runs in one process)."""
    handler = _StderrLines(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in names:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        if not any(isinstance(known, _StderrLines) for known in logger.handlers):
            logger.addHandler(handler)


class _StderrLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The CLI's own log handler (recognised so that it is added once)."""


@gateway_app.command("hj212")
def gateway_hj212(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="TCP port devices connect to.")] = 9212,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    registry: Annotated[
        Path | None,
        typer.Option(
            help="Registry YAML (default: GREENWATCH_REGISTRY_FILE), read once: no hot reload. "
            "Without either, the gateway follows the registry topic PREFIX.registry "
            "(`greenwatch db load-registry`) and swaps in every version published."
        ),
    ] = None,
    registry_wait: Annotated[
        float,
        typer.Option(help="Following the topic: seconds to wait for a first registry."),
    ] = 30.0,
    metrics_port: Annotated[
        int | None, typer.Option(help="Prometheus /metrics port (none if not given).")
    ] = None,
    max_frame_bytes: Annotated[int, typer.Option(help="Largest frame, CR LF included.")] = 8192,
    first_frame_timeout: Annotated[
        float, typer.Option(help="Close a connection without a complete frame this many s in.")
    ] = 60.0,
    idle_timeout: Annotated[
        float, typer.Option(help="Close after this many s without a complete frame.")
    ] = 600.0,
    max_connections: Annotated[int, typer.Option(help="Refuse connections beyond.")] = 10_000,
    max_connections_per_peer: Annotated[
        int, typer.Option(help="Refuse connections beyond this many from one IP (0: no cap).")
    ] = 256,
    deadletters_per_peer: Annotated[
        int,
        typer.Option(help="Dead letters per peer and reason per minute in full (0: no bound)."),
    ] = 100,
    max_inflight_per_connection: Annotated[
        int, typer.Option(help="Unacknowledged Kafka records per connection before pausing it.")
    ] = 256,
    max_inflight: Annotated[
        int, typer.Option(help="Unacknowledged Kafka records in all before pausing reads.")
    ] = 50_000,
    max_auth_failures: Annotated[
        int, typer.Option(help="Consecutive auth failures that close a connection (0: never).")
    ] = 5,
    max_garbage_bytes: Annotated[
        int, typer.Option(help="Garbage bytes without a frame that close it (0: never).")
    ] = 64 * 1024,
    clock_skew_seconds: Annotated[
        float | None,
        typer.Option(help="Tolerated device clock error (default: registry policy; 0: off)."),
    ] = None,
    split_timeout: Annotated[
        float, typer.Option(help="Seconds before a split packet counts incomplete.")
    ] = 600.0,
    linger_ms: Annotated[int, typer.Option(help="Kafka producer linger.")] = 5,
    reuse_port: Annotated[
        bool, typer.Option(help="SO_REUSEPORT: several gateway processes share the port.")
    ] = False,
    summary_interval: Annotated[
        float | None,
        typer.Option(help="Seconds between summary lines (default: 10 when interactive)."),
    ] = None,
) -> None:
    """Accept HJ 212 devices over TCP and publish their frames to Kafka (raw + dead letters).

    Runs until SIGINT/SIGTERM, then drains records in flight and exits.
    """
    settings: Settings = ctx.obj
    config = GatewayConfig(
        raw_topic=topic_name(settings.topic_prefix, Topic.RAW_HJ212),
        deadletter_topic=topic_name(settings.topic_prefix, Topic.DEADLETTER),
        energy_topic=topic_name(settings.topic_prefix, Topic.RAW_ENERGY),
        host=host,
        port=port,
        max_frame_bytes=max_frame_bytes,
        first_frame_timeout_s=first_frame_timeout,
        idle_timeout_s=idle_timeout,
        max_connections=max_connections,
        max_connections_per_peer=max_connections_per_peer,
        deadletters_per_peer=deadletters_per_peer,
        max_inflight_per_connection=max_inflight_per_connection,
        max_inflight_total=max_inflight,
        max_auth_failures=max_auth_failures,
        max_garbage_bytes=max_garbage_bytes,
        clock_skew_limit_s=clock_skew_seconds,
        split_timeout_s=split_timeout,
        reuse_port=reuse_port,
        device_key=device_key(settings),
    )
    if summary_interval is None and sys.stderr.isatty():
        summary_interval = 10.0
    options = RunOptions(metrics_port=metrics_port, summary_interval_s=summary_interval)
    producer = ProducerOptions(kafka_access(settings, Principal.GATEWAY), linger_ms=linger_ms)
    _log_to_stderr("ingest.gateway", "runtime.registry_topic")
    source = None
    try:
        source = _registry_source(settings, registry, registry_wait)
        asyncio.run(_serve_until_signal(config, source, producer, options))
    except KafkaError as error:
        _err.print(f"[red]Kafka at {producer.kafka.bootstrap} unavailable: {error}[/red]")
        raise typer.Exit(1) from None
    except OSError as error:
        _err.print(f"[red]cannot listen on {host}:{port}: {error}[/red]")
        raise typer.Exit(1) from None
    finally:
        if source is not None:
            source.close()


async def _serve_until_signal(
    config: GatewayConfig, source: RegistrySource, producer: ProducerOptions, options: RunOptions
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Per frame the gateway allocates a few dozen short-lived objects: collect the young
    # generation less often, and keep what exists at start-up (registry, modules) out of
    # full collections. Measured: fewer latency spikes in bench/bench_gateway.py.
    gc.freeze()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, 20, 20)

    def ready(gateway: object) -> None:
        _err.print(
            f"gateway hj212 listening on {config.host}:{config.port} → {config.raw_topic} "
            f"(dead letters {config.deadletter_topic}); registry {source.registry.version} "
            f"({source.origin})",
            soft_wrap=True,
        )

    stats = await serve(
        config, source.registry, producer, stop, options, _summary, ready, updates=source.updates()
    )
    _err.print(
        f"gateway stopped: {stats.bytes_received:,} bytes received, "
        f"{stats.frames_total:,} frames, {dict(stats.frames)}",
        soft_wrap=True,
    )


def _parse_start(text: str | None) -> datetime:
    """``None``/``today``: today 00:00 China time; ``now``; or an ISO date-time (China time
    when it carries no offset)."""
    if text in (None, "today"):
        return default_start()
    if text == "now":
        return datetime.now(CHINA_TZ).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected today, now or an ISO date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)


def _parse_gateway(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter(f"{text!r}: expected HOST:PORT")
    return host, int(port)


def _for_accelerated_time(province: Province) -> Province:
    """The registry of a run faster than real time. Every frame's DataTime then runs away
    from its arrival, so the clock-skew check is off (``clock_skew_seconds: 0``).

    Data-quality alerts fire and clear at once (``quality_pending_minutes: 0``,
    ``quality_resolve_minutes: 0``). Still needed, although the alert service applies a
    signal at its own ``observed_at`` (alerts/machine.py): that holds only until the service's
    wall-clock tick touches the alert. A ``flagged`` or ``flatline`` episode (calibration,
    maintenance: 2 simulated hours are 4 s at 1800×) is raised at its simulated start; a tick
    fires it (pending over) or repeats its notice at wall-clock now; the clear stamped at the
    episode's simulated end is then clamped to that tick, so with production durations the
    alert would resolve ``quality_resolve_minutes`` of wall time later, after the demo.
    Simulated time past the wall clock (``--start now``) is applied at now, so there every
    duration is wall-clock minutes. Only the event-time ``silent`` pair (one batch, no tick
    between) would do without this. Pinned by tests/unit/alerts/test_alerts_machine.py
    ``test_in_accelerated_time_a_tick_between_a_pair_puts_its_clearing_on_the_wall_clock``."""
    accelerated = {
        "clock_skew_seconds": 0,
        "quality_pending_minutes": 0,
        "quality_resolve_minutes": 0,
    }
    policy = province.registry.policy.model_copy(update=accelerated)
    registry = province.registry.model_copy(update={"policy": policy})
    return dataclasses.replace(province, registry=registry)


def simulate_command(
    ctx: typer.Context,
    gateway: Annotated[str, typer.Option(help="Gateway HOST:PORT.")] = "127.0.0.1:9212",
    enterprises: Annotated[int, typer.Option(min=1, help="Enterprises to invent.")] = 12,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same province and data.")] = 1,
    speed: Annotated[
        float, typer.Option(min=0.001, help="Simulated seconds per real second.")
    ] = 1.0,
    hours: Annotated[
        float | None, typer.Option(help="Simulated hours to send (default: until Ctrl-C).")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="Simulated start: today (00:00 China time, default), now, or ISO."),
    ] = None,
    registry_out: Annotated[
        Path | None,
        typer.Option(help="Where to write the registry (default: STATE_DIR/simulator/…)."),
    ] = None,
    write_registry_only: Annotated[
        bool, typer.Option("--write-registry-only", help="Write the registry and exit.")
    ] = False,
    episodes: Annotated[
        str,
        typer.Option(
            help="auto (seeded plan), none, or KIND@TARGET+START/DURATION[:PARAM];… "
            "(docs/simulator.md)."
        ),
    ] = "auto",
    ack_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Devices sending Flag=5 (want 9014).")
    ] = 0.3,
    realtime_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Devices also sending CN 2011.")
    ] = 0.2,
    realtime_interval: Annotated[int, typer.Option(help="Seconds between CN 2011 frames.")] = 30,
    summary_interval: Annotated[
        float | None,
        typer.Option(help="Seconds between summary lines (default: 5 when interactive)."),
    ] = None,
) -> None:
    """Simulate a province of monitored enterprises sending HJ 212 data to the gateway."""
    settings: Settings = ctx.obj
    province = build_province(enterprises, seed, ack_fraction, realtime_fraction)
    if speed != 1.0:
        province = _for_accelerated_time(province)
    path = (
        registry_out or settings.state_dir / "simulator" / f"registry-s{seed}-n{enterprises}.yaml"
    )
    write_registry(province, path)
    _err.print(
        f"registry {province.registry.version}: {len(province.registry.enterprises)} enterprises, "
        f"{len(province.devices)} devices → {path}"
    )
    if write_registry_only:
        return
    host, port = _parse_gateway(gateway)
    try:
        chosen = choose_episodes(episodes, province, hours)
    except EpisodeSpecError as error:
        raise typer.BadParameter(str(error), param_hint="--episodes") from None
    for episode in chosen:
        _err.print(f"episode {episode.spec()}")
    if summary_interval is None and sys.stderr.isatty():
        summary_interval = 5.0
    config = FleetConfig(host, port, _parse_start(start), speed=speed, hours=hours)
    options = SimulationOptions(realtime_interval, summary_interval)
    stats = asyncio.run(_simulate_until_signal(province, chosen, config, options))
    _err.print(
        f"simulation done: {stats.frames_sent:,} frames sent {dict(stats.sent)}, "
        f"re-sent after a comm_loss {dict(stats.backfilled)}, {stats.acks:,} acks, "
        f"answers {dict(stats.answers)}, corrupted {dict(stats.corrupted)}"
    )


async def _simulate_until_signal(
    province: Province, episodes: list[Episode], config: FleetConfig, options: SimulationOptions
) -> FleetStats:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return await simulate(province, episodes, config, options, _summary, stop)
