"""``greenwatch gateway energy`` and ``gateway energy-key`` (registered on the gateway group)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from kafka.errors import KafkaError
from rich.console import Console

from ingest.energy.keys import key_digest, new_key
from ingest.energy.runner import ServeOptions, serve
from runtime.kafka_access import Principal, kafka_access
from runtime.registry_topic import (
    InvalidRegistryRecord,
    NoRegistryPublished,
    open_registry_source,
)
from runtime.settings import Settings, registry_key
from schemas.registry import RegistryError, load_registry

_err = Console(stderr=True)
NO_SECRET = (
    "GREENWATCH_ENERGY_KEY_SECRET is not set: the energy API checks enterprises' keys "
    "against HMAC digests under that server-side secret"
)


def gateway_energy(
    ctx: typer.Context,
    registry: Annotated[
        Path | None,
        typer.Option(
            help="Registry YAML (default: GREENWATCH_REGISTRY_FILE), read once. Without "
            "either, the API follows the registry topic PREFIX.registry (`greenwatch db "
            "load-registry`) and swaps in every version published."
        ),
    ] = None,
    registry_wait: Annotated[
        float, typer.Option(help="Following the topic: seconds to wait for a first registry.")
    ] = 30.0,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8212,
    max_body_bytes: Annotated[int, typer.Option(help="Larger bodies get 413.")] = 1_048_576,
    max_items: Annotated[int, typer.Option(help="More items in one request get 400.")] = 5_000,
) -> None:
    """Serve the energy HTTP API: POST /v1/readings and /v1/statistics into Kafka.

    Enterprises authenticate with their API key (Authorization: Bearer); each item is
    accepted (published to PREFIX.raw.energy, acknowledged by Kafka before the 202) or refused
    with its JSON path and reason (and sent to PREFIX.deadletter). OpenAPI at /openapi.json,
    Prometheus metrics at /metrics. Runs until SIGINT/SIGTERM.
    """
    settings: Settings = ctx.obj
    if settings.energy_key_secret is None:
        _err.print(f"[red]{NO_SECRET}[/red]", soft_wrap=True)
        raise typer.Exit(2)
    try:
        source = open_registry_source(
            registry or settings.registry_file,
            kafka_access(settings, Principal.ENERGY_GATEWAY),
            settings.topic_prefix,
            "greenwatch-energy-api-registry",
            registry_wait,
            key=registry_key(settings),
        )
    except (RegistryError, NoRegistryPublished, InvalidRegistryRecord) as error:
        _err.print(f"[red]no registry: {error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    except KafkaError as error:
        _err.print(f"[red]Kafka unavailable: {error}[/red]")
        raise typer.Exit(1) from None
    options = ServeOptions(
        kafka_access(settings, Principal.ENERGY_GATEWAY),
        settings.topic_prefix,
        host,
        port,
        max_body_bytes,
        max_items,
    )
    _err.print(
        f"gateway energy on http://{host}:{port} → {settings.topic_prefix}.raw.energy; "
        f"registry {source.registry.version} ({source.origin})",
        soft_wrap=True,
    )
    updates = source.updates()
    try:
        asyncio.run(serve(source.registry, settings.energy_key_secret, options, updates))
    except KafkaError as error:
        _err.print(f"[red]Kafka at {options.kafka.bootstrap} unavailable: {error}[/red]")
        raise typer.Exit(1) from None
    finally:
        source.close()


def gateway_energy_key(ctx: typer.Context) -> None:
    """Make a new API key for an enterprise: prints the key (give it to the enterprise, once)
    and the line for its registry entry (energy.api_key_hmac)."""
    settings: Settings = ctx.obj
    if settings.energy_key_secret is None:
        _err.print(f"[red]{NO_SECRET}[/red]", soft_wrap=True)
        raise typer.Exit(2)
    key = new_key()
    typer.echo(f"key: {key}")
    typer.echo(f"api_key_hmac: {key_digest(settings.energy_key_secret, key)}")


def simulate_energy_command(
    ctx: typer.Context,
    api: Annotated[str, typer.Option(help="Energy API base URL.")] = "http://127.0.0.1:8212",
    registry: Annotated[
        Path | None,
        typer.Option(
            help="Registry with the simulated energy sections (default: GREENWATCH_REGISTRY_FILE)."
        ),
    ] = None,
    start: Annotated[str, typer.Option(help="Simulated start, ISO 8601 with offset.")] = "",
    hours: Annotated[float, typer.Option(min=0.25, help="Simulated hours to post.")] = 24.0,
    speed: Annotated[float, typer.Option(min=0.001, help="Simulated seconds per second.")] = 1.0,
) -> None:
    """Post the simulated enterprises' energy data (meters every 15 simulated minutes, daily
    output) to the energy API with their demo keys (docs/simulator.md)."""
    import signal
    from datetime import datetime

    from ingest.simulator.energy import EPISODES, EnergySchedule, load_energy_plan
    from ingest.simulator.energy_poster import post_energy

    settings: Settings = ctx.obj
    path = registry or settings.registry_file
    if path is None or not start:
        _err.print("[red]give --registry (or GREENWATCH_REGISTRY_FILE) and --start[/red]")
        raise typer.Exit(2)
    try:
        loaded = load_registry(path)
        begin = datetime.fromisoformat(start)
    except RegistryError as error:
        _err.print(f"[red]registry {error.source}: {error.reason}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    except ValueError as error:
        _err.print(f"[red]--start: {error}[/red]")
        raise typer.Exit(2) from None
    if begin.tzinfo is None:
        _err.print("[red]--start needs a UTC offset (e.g. +08:00)[/red]")
        raise typer.Exit(2)
    schedule = EnergySchedule(loaded, begin, load_energy_plan())
    _err.print(f"simulate-energy → {api}: {EPISODES}", soft_wrap=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        stats = await post_energy(schedule, api, begin, hours, speed, stop)
        _err.print(
            f"simulate-energy done: {dict(stats.requests)} requests, {stats.items} items "
            f"accepted, {stats.refused} refused, {stats.resends} resends",
            soft_wrap=True,
        )

    asyncio.run(run())
