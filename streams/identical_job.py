"""``greenwatch evasion identical``: the cross-device evasion step over stored values.

Reads a China day's stored real-time and minute values of the registry's devices from
PostgreSQL (as the worker's role ``gw_worker``, which writes them), applies
``streams.domain.identical`` (analyser values identical across two devices of one enterprise)
and prints the ``tampering`` signals as replay's quality lines; with ``--publish`` sends them
to ``<prefix>.quality`` as the Kafka principal ``worker`` (the quality topic's writer: no new
principal, ``runtime.kafka_acls``), key = MN, so the alert service raises
``<device>/<factor>/quality.tampering.day``. Run it once a day after midnight + grace (cron),
or again for a day with late data: the alert service ignores a signal it already applied.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import typer
from kafka import KafkaProducer
from kafka.errors import KafkaError

from runtime.db_connect import connect_or_exit
from runtime.kafka_access import Principal, kafka_access
from runtime.settings import DbLogin, Settings
from schemas.alert import QualitySignal
from schemas.registry import Registry, RegistryError, load_registry
from schemas.topics import Topic, topic_name
from streams.domain.identical import Series, identical_signals
from streams.domain.periods import DAY, day_start_of

_DAY_VALUES = """
SELECT device_id, factor, period_start, coalesce(avg, rtd)
  FROM measurements
 WHERE device_id = ANY(%(devices)s) AND period IN ('rtd', 'minute')
   AND period_start >= %(start)s AND period_start < %(end)s
   AND coalesce(avg, rtd) IS NOT NULL
 ORDER BY device_id, factor, period_start, period = 'minute'
"""


def stored_day_series(
    conn: psycopg.Connection[Any], registry: Registry, day: datetime
) -> dict[tuple[str, str], Series]:
    """The day's stored values by (device, factor) and time stamp, minute values over
    real-time ones at the same time stamp (as ``MemoryStore.day_series``)."""
    devices = sorted(d.mn for e in registry.enterprises for o in e.outlets for d in o.devices)
    found: dict[tuple[str, str], dict[datetime, float]] = {}
    params = {"devices": devices, "start": day, "end": day + DAY}
    for device, factor, start, value in conn.execute(_DAY_VALUES, params):
        found.setdefault((device, factor), {})[start.astimezone(day.tzinfo)] = float(value)
    return dict(found)


def identical_for_day(
    conn: psycopg.Connection[Any], registry: Registry, day: date
) -> list[QualitySignal]:
    """The signals of ``day`` over the stored values (blocks on PostgreSQL)."""
    start = day_start_of(day)
    series = stored_day_series(conn, registry, start)
    return identical_signals(registry, start, series, registry.policy.evasion)


def identical_command(
    ctx: typer.Context,
    registry: Path = typer.Option(..., "--registry", help="Registry YAML (who is monitored)."),
    day: str = typer.Option(..., "--day", help="China calendar day, YYYY-MM-DD."),
    publish: bool = typer.Option(
        False, "--publish", help="Also send the signals to the quality topic (alert service)."
    ),
) -> None:
    """Compare the stored values of every two devices of an enterprise reporting the same
    pollutant on DAY (evasion rule identical_devices, docs/processing.md §7a); print the
    tampering signals as JSON lines. Exit 2 for a bad registry or day or when PostgreSQL
    refuses the connection, 1 when a query or Kafka fails."""
    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    try:
        loaded = load_registry(registry)
        wanted = date.fromisoformat(day)
    except (RegistryError, OSError, ValueError) as error:
        typer.echo(f"evasion identical: {error}", err=True)
        raise typer.Exit(2) from None
    with connect_or_exit(settings, DbLogin.WORKER, "evasion identical") as conn:
        try:
            signals = identical_for_day(conn, loaded, wanted)
        except psycopg.Error as error:
            typer.echo(f"evasion identical: PostgreSQL: {error}", err=True)
            raise typer.Exit(1) from None
    for signal in signals:
        fields = signal.model_dump(mode="json")
        fields["signal"] = fields.pop("kind")
        typer.echo(json.dumps({"kind": "quality", **fields}, ensure_ascii=False))
    if publish and signals:
        try:
            _publish(settings, signals)
        except KafkaError as error:
            typer.echo(f"evasion identical: Kafka: {error}", err=True)
            raise typer.Exit(1) from None


def _publish(settings: Settings, signals: list[QualitySignal]) -> None:
    access = kafka_access(settings, Principal.WORKER)
    producer = KafkaProducer(**access.client_config(), acks="all", enable_idempotence=True)
    topic = topic_name(settings.topic_prefix, Topic.QUALITY)
    try:
        for signal in signals:
            value = signal.model_dump_json().encode()
            producer.send(topic, key=signal.device_id.encode(), value=value)
        producer.flush(timeout=timedelta(seconds=30).total_seconds())
    finally:
        producer.close(timeout=5)
