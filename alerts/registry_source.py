"""Which registry the alert commands use.

The people's commands (``ack``, orders, ``maintenance``) use ``registry_for``: a YAML file if
given, else the newest version loaded into the database (``greenwatch db load-registry``).

The service (``alerts run``) uses ``service_registry``: the platform's one registry source
(``runtime.registry_topic.open_registry_source``, as the gateway and the worker) with the
database's newest version as its fallback when nothing has been published on the topic yet;
every version published later is swapped in (``alerts.registry_follow``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from runtime.kafka_access import KafkaAccess
from runtime.registry_store import latest_stored_registry
from runtime.registry_topic import (
    NO_REGISTRY_HINT,
    InvalidRegistryRecord,
    RegistrySource,
    open_registry_source,
    registry_topic,
)
from schemas.registry import Registry, RegistryError, load_registry


def registry_for(file: Path | None, conn: psycopg.Connection[Any]) -> Registry:
    """``file`` if given, else the database's latest; raises RegistryError."""
    return load_registry(file) if file is not None else latest_stored_registry(conn)


def service_registry(
    file: Path | None,
    conn: psycopg.Connection[Any],
    kafka: KafkaAccess,
    prefix: str,
    wait_s: float,
    *,
    key: bytes,
) -> RegistrySource:
    """The alert service's starting registry and its follower (see the module doc).

    Blocks up to ``wait_s`` seconds on an empty topic (then takes the database's) and up to
    30 s when Kafka does not answer. Raises ``RegistryError`` for an unreadable file, an invalid
    latest record on the topic, or no registry anywhere; ``KafkaError`` when Kafka is down.
    """

    def stored() -> Registry:
        try:
            return latest_stored_registry(conn)
        except RegistryError:
            raise RegistryError(
                registry_topic(prefix).name,
                f"no registry published and none in the database: {NO_REGISTRY_HINT}",
            ) from None

    try:
        return open_registry_source(
            file,
            kafka,
            prefix,
            "greenwatch-alerts-registry",
            wait_s,
            stored,
            "database",
            key=key,
        )
    except InvalidRegistryRecord as error:
        raise RegistryError(
            f"{error.topic}@{error.offset}",
            f"not a valid registry ({error.reason}); publish a valid one with "
            "`greenwatch db load-registry FILE`",
        ) from None
