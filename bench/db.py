"""A fresh migrated schema for a benchmark, dropped at the end (its TimescaleDB jobs first)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from deploy.migrate import Flavor, migrate
from deploy.timescaledb import drop_schema
from runtime.settings import Settings


def unreachable(dsn: str) -> list[str]:
    """The benchmark's report lines when PostgreSQL at ``dsn`` does not answer within 5 s,
    else ``[]`` (the benchmark runs)."""
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.OperationalError:
        return [f"PostgreSQL not reachable at {dsn}: run `greenwatch stack up` first"]
    return []


@contextlib.contextmanager
def migrated_schema(dsn: str, prefix: str, flavor: Flavor | None = None) -> Iterator[str]:
    """Yield the DSN (``search_path`` = schema, public) of a new schema ``<prefix>_<random>``
    migrated under ``flavor`` (None: detected); drop it on exit. Raises ``psycopg.Error``."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        scoped = make_conninfo(dsn, options=f"-c search_path={name},public")
        with psycopg.connect(scoped, autocommit=True) as conn:
            migrate(conn, flavor)
        yield scoped
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            drop_schema(conn, name)


def service_db_env(settings: Settings, scoped: str) -> dict[str, str]:
    """Environment of a service process measured in the schema of ``scoped`` (a DSN of
    ``migrated_schema``): on the local stack no DSN, so the service logs in as its own role
    (``gw_alerts``, ``gw_api``, ...; passwords in the state dir) with
    ``GREENWATCH_DATABASE_SCHEMA``; with a configured GREENWATCH_DATABASE_URL, that DSN's
    schema-scoped form. Merge it over ``os.environ`` minus ``GREENWATCH_DATABASE_URL``."""
    if settings.database_url is not None:
        return {"GREENWATCH_DATABASE_URL": scoped}
    options = str(conninfo_to_dict(scoped).get("options") or "")
    schema = options.removeprefix("-c search_path=").split(",")[0]
    return {
        "GREENWATCH_STATE_DIR": str(settings.state_dir.resolve()),
        "GREENWATCH_DATABASE_SCHEMA": schema,
    }
