"""``greenwatch alerts run`` and ``alerts notify``: the long-running alert processes.

Composition only: reads ``Settings`` from ``ctx.obj``, picks the service's registry
(``alerts.registry_source.service_registry``: a file read once, else the registry topic
followed for hot reload, starting from the database's newest when nothing is published),
builds the service and runs it until SIGTERM/SIGINT. ``alerts.cli`` registers these commands
on ``alerts_app``.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from kafka.errors import KafkaError

from alerts.notifier import Dispatcher, NotifierOptions
from alerts.registry_follow import RegistryFollowThread, RegistryInbox
from alerts.registry_source import service_registry
from alerts.service import AlertService, ServiceOptions
from runtime.db_connect import connect_or_exit
from runtime.kafka_access import Principal, kafka_access
from runtime.registry_topic import RegistrySource
from runtime.settings import DbLogin, Settings, database_dsn, registry_key
from schemas.registry import RegistryError
from schemas.topics import consumer_group


def settings_of(ctx: typer.Context) -> Settings:
    """The CLI root's settings."""
    settings: Settings = ctx.obj
    return settings


def connect(settings: Settings, command: str = "alerts") -> psycopg.Connection[Any]:
    """As the alert service's role ``gw_alerts``; exit 2 with one line when PostgreSQL does
    not answer or refuses the login (``runtime.db_connect``)."""
    return connect_or_exit(settings, DbLogin.ALERTS, command)


RunRegistryOption = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        help="Registry YAML (default: GREENWATCH_REGISTRY_FILE), read once at start: no hot "
        "reload. Without either, the service starts from the latest registry published on the "
        "topic PREFIX.registry (`greenwatch db load-registry`), or from the database's newest "
        "version when none is published yet, and swaps in every version published later, "
        "between two batches.",
    ),
]


def _service_registry(
    settings: Settings, conn: psycopg.Connection[Any], path: Path | None, wait_s: float
) -> RegistrySource:
    kafka = kafka_access(settings, Principal.ALERTS)
    try:
        return service_registry(
            path or settings.registry_file,
            conn,
            kafka,
            settings.topic_prefix,
            wait_s,
            key=registry_key(settings),
        )
    except RegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except KafkaError as exc:
        typer.echo(
            f"error: cannot read the registry topic at {kafka.bootstrap} ({exc!r});"
            " is the stack up? (or give --registry FILE)",
            err=True,
        )
        raise typer.Exit(2) from exc


def run_command(
    ctx: typer.Context,
    registry_file: RunRegistryOption = None,
    registry_wait: Annotated[
        float,
        typer.Option(
            help="Following the topic: seconds to wait for a first registry on it before "
            "starting from the database's."
        ),
    ] = 3.0,
    group: Annotated[
        str | None,
        typer.Option(help="Kafka consumer group (default: <GREENWATCH_TOPIC_PREFIX>-alerts)."),
    ] = None,
    tick_seconds: Annotated[float, typer.Option(help="Timer period (repeats, pending).")] = 5.0,
    notify: Annotated[bool, typer.Option(help="Run the outbox dispatcher too.")] = True,
    retry_base_seconds: Annotated[float, typer.Option(help="First retry delay.")] = 10.0,
    max_attempts: Annotated[int, typer.Option(help="Delivery attempts before giving up.")] = 8,
) -> None:
    """Run the alert service until SIGTERM/SIGINT: verdicts + quality signals → alerts."""
    settings = settings_of(ctx)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with connect(settings) as conn:
        source = _service_registry(settings, conn, registry_file, registry_wait)
    follows = source.updates()
    updates = None if follows is None else RegistryFollowThread(follows, RegistryInbox())
    group = group or consumer_group(settings.topic_prefix, "alerts")
    options = ServiceOptions(
        group_id=group,
        tick_s=tick_seconds,
        notify=notify,
        notifier=NotifierOptions(retry_base_s=retry_base_seconds, max_attempts=max_attempts),
    )
    service = AlertService(
        kafka_access(settings, Principal.ALERTS),
        settings.topic_prefix,
        database_dsn(settings, DbLogin.ALERTS),
        source.registry,
        options,
        updates=updates,
    )
    stop = _stop_on_signals()
    typer.echo(f"alerts: registry {source.registry.version} ({source.origin}), group {group}")
    try:
        service.run(stop)
    finally:
        source.close()
    typer.echo(f"alerts: stopped ({service.counters}, registry {service.registry.version})")


def notify_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option(help="One pass over due notices, then exit.")] = False,
    retry_base_seconds: Annotated[float, typer.Option(help="First retry delay.")] = 10.0,
    max_attempts: Annotated[int, typer.Option(help="Delivery attempts before giving up.")] = 8,
) -> None:
    """Run only the outbox dispatcher (delivers pending notices through Apprise)."""
    settings = settings_of(ctx)
    options = NotifierOptions(retry_base_s=retry_base_seconds, max_attempts=max_attempts)
    dispatcher = Dispatcher(lambda: connect(settings), options=options)
    if once:
        with connect(settings) as conn:
            typer.echo(f"notify: {dispatcher.dispatch_once(conn)} attempts")
        return
    dispatcher.run(_stop_on_signals())


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop
