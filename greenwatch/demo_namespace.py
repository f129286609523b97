"""Each demo run in a namespace of its own: a PostgreSQL schema and a Kafka topic prefix.

The simulator is deterministic (same seed, same simulated span on the same day), so a second
``make demo`` on a shared database would send the frames the first one sent: the upserts would
change nothing, the alerts would already exist, and the live summary would look dead. A run
therefore gets the schema ``demo_<YYYYmmddHHMMSS>`` (``GREENWATCH_DATABASE_SCHEMA``: every
connection, each as its own role, uses ``search_path`` = ``<schema>, public``) and the topic
prefix ``<prefix>.demo<YYYYmmddHHMMSS>``. The newest runs are kept for inspection; older ones
are dropped (schema and topics) by ``prune``.

``greenwatch demo --in-place`` skips all this and uses the configured database and prefix.
Errors: ``psycopg.Error`` from the database, ``kafka.errors.KafkaError`` from the broker.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg
from kafka import KafkaAdminClient
from psycopg import sql

from deploy.timescaledb import drop_schema
from runtime.db_connect import connect_or_exit
from runtime.kafka_access import Principal, kafka_access
from runtime.settings import DbLogin, Settings

SCHEMA_PATTERN: Final = re.compile(r"^demo_(\d{14})$")
"""Schemas this module creates (and the only ones ``prune`` drops)."""


@dataclass(frozen=True, slots=True)
class DemoNamespace:
    """Where one demo run writes: ``settings`` point at ``schema`` and ``prefix``."""

    run_id: str
    schema: str
    prefix: str
    settings: Settings

    def environment(self) -> str:
        """How to point other ``greenwatch`` commands at this run: its schema and topic
        prefix, never a DSN (each command logs in as its own role, or with the configured
        GREENWATCH_DATABASE_URL)."""
        return f"GREENWATCH_DATABASE_SCHEMA={self.schema} GREENWATCH_TOPIC_PREFIX={self.prefix}"


def create(settings: Settings, now: datetime) -> DemoNamespace:
    """Create the schema of a run started at ``now`` and return settings pointing at it.

    Blocks on one database round trip; raises ``psycopg.Error``."""
    run_id = f"{now:%Y%m%d%H%M%S}"
    schema = f"demo_{run_id}"
    with owner_connection(settings, "create") as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                sql.Identifier(schema), sql.Literal(_comment(settings, run_id))
            )
        )
    prefix = f"{settings.topic_prefix}.demo{run_id}"
    run_settings = settings.model_copy(update={"database_schema": schema, "topic_prefix": prefix})
    return DemoNamespace(run_id, schema, prefix, run_settings)


def prune(settings: Settings, keep: int, notify: Callable[[str], None]) -> list[str]:
    """Drop the schemas and topics of all but the newest ``keep`` demo runs made with this
    topic prefix; return the run ids dropped. Only ``demo_<14 digits>`` schemas that ``create``
    marked (schema comment) for ``settings.topic_prefix``, and the topics under their prefix,
    are touched. Blocks; raises ``psycopg.Error`` or ``KafkaError``."""
    with owner_connection(settings, "prune") as conn:
        rows = conn.execute(
            "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace"
        ).fetchall()
        runs = sorted(
            m.group(1)
            for name, comment in rows
            if (m := SCHEMA_PATTERN.match(name)) and comment == _comment(settings, m.group(1))
        )
        dropped = runs[: max(0, len(runs) - keep)]
        for run_id in dropped:
            drop_schema(conn, f"demo_{run_id}")
    if dropped:
        _delete_topics(settings, dropped)
        notify(f"dropped {len(dropped)} earlier demo run(s): {', '.join(dropped)}")
    return dropped


def owner_connection(settings: Settings, step: str) -> psycopg.Connection[Any]:
    """The demo's schema work (create, migrate, prune) as the owner, the only role that may
    create or drop; named ``greenwatch demo <step>`` in pg_stat_activity. Everything else the
    demo runs logs in as its own role. A server down or a refused login: exit 2, one line."""
    return connect_or_exit(settings, DbLogin.OWNER, f"demo {step}")


def _comment(settings: Settings, run_id: str) -> str:
    return f"greenwatch demo run; topics {settings.topic_prefix}.demo{run_id}.*"


def _delete_topics(settings: Settings, run_ids: list[str]) -> None:
    prefixes = tuple(f"{settings.topic_prefix}.demo{run_id}." for run_id in run_ids)
    admin = KafkaAdminClient(
        **kafka_access(settings, Principal.ADMIN).client_config(), client_id="greenwatch-demo-prune"
    )
    try:
        doomed = [topic for topic in admin.list_topics() if topic.startswith(prefixes)]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()
