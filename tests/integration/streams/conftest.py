"""Fixtures of the worker reliability tests: isolated deployments on the shared services.

``stream_stack_factory(dsn=None)`` returns a ``StreamStack`` with a fresh topic prefix (so
its own consumer group and topics, created as the worker creates them), a freshly migrated
schema (or the schema behind ``dsn``, e.g. a TCP proxy in front of one) and the test
registry. Workers still running at the end are stopped; schemas and topics are dropped.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool
from services import admin_access
from stream_dataset import write_registry
from worker_harness import StreamStack

from deploy.migrate import Flavor, migrate
from deploy.timescaledb import drop_schema
from runtime.registry_store import store_registry
from schemas.registry import load_registry
from streams.sink import create_pool
from streams.worker import ensure_topics

StackFactory = Callable[..., StreamStack]


@pytest.fixture
def stream_stack_factory(services: Any, tmp_path: Path) -> Iterator[StackFactory]:
    stacks: list[StreamStack] = []
    schemas: list[str] = []
    registry = write_registry(tmp_path / "registry.yaml")

    def make(schema_dsn: Callable[[str], str] | None = None) -> StreamStack:
        name = f"test_streams_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        schemas.append(name)
        dsn = make_conninfo(services.database_url, options=f"-c search_path={name},public")
        with psycopg.connect(dsn, autocommit=True) as conn:
            migrate(conn)
            store_registry(conn, load_registry(registry))
        workdir = tmp_path / name
        workdir.mkdir()
        stack = StreamStack(
            bootstrap=services.kafka_bootstrap,
            dsn=schema_dsn(dsn) if schema_dsn else dsn,
            prefix=f"t{uuid.uuid4().hex[:12]}",
            registry=registry,
            workdir=workdir,
            direct_dsn=dsn,
        )
        ensure_topics(admin_access(stack.bootstrap), stack.prefix)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop_all()
        stack.delete_topics()
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        for name in schemas:
            with contextlib.suppress(psycopg.Error):
                drop_schema(conn, name)


@pytest.fixture
def sink_pool(db_conn: psycopg.Connection[Any], pg_schema: Any) -> Iterator[ConnectionPool]:
    """A psycopg pool on a freshly migrated private schema (for sink and store tests)."""
    migrate(db_conn)
    pool = create_pool(pg_schema.dsn)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def flavored_pool(
    db_conn: psycopg.Connection[Any], pg_schema: Any, flavor: Flavor
) -> Iterator[ConnectionPool]:
    """A psycopg pool on a private schema migrated with ``flavor`` (plain and TimescaleDB)."""
    migrate(db_conn, flavor)
    pool = create_pool(pg_schema.dsn)
    try:
        yield pool
    finally:
        pool.close()
