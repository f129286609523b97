"""Which registry the alert commands use.

The people's commands (``ack``, orders, ``maintenance``) use ``registry_for``: a YAML file if
given, else the newest version loaded into the database (``greenwatch db load-registry``).

The service (``alerts run``) uses ``service_registry``: a file is read once (no hot reload);
without one it starts from the registry topic's latest snapshot (``<prefix>.registry``,
``runtime.registry_topic``), or from the database's newest version when nothing has been
published on the topic yet, and in both cases keeps the topic's follower so that every version
published later is swapped in (``alerts.registry_follow``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from runtime.registry_topic import (
    NO_REGISTRY_HINT,
    InvalidRegistryRecord,
    NoRegistryPublished,
    RegistryFollower,
    registry_topic,
)
from schemas.registry import Registry, RegistryError, load_registry, parse_registry


def latest_stored_registry(conn: psycopg.Connection[Any]) -> Registry:
    """The most recently loaded registry version; raises RegistryError when there is none."""
    row = conn.execute(
        "SELECT version, document FROM registry_versions ORDER BY loaded_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        raise RegistryError("database", "no registry loaded (greenwatch db load-registry FILE)")
    document = dict(row[1])
    document.pop("standards_version", None)
    return parse_registry(document, f"database:{row[0]}")


def registry_for(file: Path | None, conn: psycopg.Connection[Any]) -> Registry:
    """``file`` if given, else the database's latest; raises RegistryError."""
    return load_registry(file) if file is not None else latest_stored_registry(conn)


@dataclass(frozen=True, slots=True)
class ServiceRegistry:
    """The registry the service starts with, where it came from (for the start line), and the
    topic's follower positioned after it (None: a file, no hot reload). The caller owns the
    follower (``close`` it when not handing it to the service)."""

    registry: Registry
    origin: str
    follower: RegistryFollower | None = None


def service_registry(
    file: Path | None,
    conn: psycopg.Connection[Any],
    bootstrap: str,
    prefix: str,
    wait_s: float,
) -> ServiceRegistry:
    """The alert service's starting registry (see the module doc).

    Blocks up to ``wait_s`` seconds on an empty topic (then takes the database's) and up to
    30 s when Kafka does not answer. Raises ``RegistryError`` for an unreadable file, an invalid
    latest record on the topic, or no registry anywhere; ``KafkaError`` when Kafka is down.
    """
    if file is not None:
        return ServiceRegistry(load_registry(file), f"file {file} (read once, no hot reload)")
    topic = registry_topic(prefix)
    follower = RegistryFollower(bootstrap, topic, client_id="greenwatch-alerts-registry")
    try:
        return _from_topic_or_database(follower, conn, wait_s)
    except BaseException:
        follower.close()
        raise


def _from_topic_or_database(
    follower: RegistryFollower, conn: psycopg.Connection[Any], wait_s: float
) -> ServiceRegistry:
    topic = follower.topic
    try:
        record = follower.latest(wait_s)
    except InvalidRegistryRecord as error:
        raise RegistryError(
            f"{error.topic}@{error.offset}",
            f"not a valid registry ({error.reason}); publish a valid one with "
            "`greenwatch db load-registry FILE`",
        ) from None
    except NoRegistryPublished:
        try:
            registry = latest_stored_registry(conn)
        except RegistryError:
            raise RegistryError(
                topic,
                f"no registry published and none in the database: {NO_REGISTRY_HINT}",
            ) from None
        origin = f"database (nothing published on {topic} yet; following it)"
        return ServiceRegistry(registry, origin, follower)
    origin = f"topic {topic}@{record.offset} (following it)"
    return ServiceRegistry(record.registry, origin, follower)
