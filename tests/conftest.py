"""Shared fixtures: real Kafka and PostgreSQL for integration tests.

- ``services`` (session): ``kafka_bootstrap``, ``database_url``, ``origin``, ``settings``;
  resolved by ``tests/services.py`` (env → testcontainers → local stack). Requested lazily,
  so unit tests never start anything. Tests using it are marked ``integration``
  automatically (``pytest -m 'not integration'`` runs only the rest).
- ``kafka_topic_factory`` (function): ``make(hint="t", partitions=1) -> topic name``, a fresh
  topic per call, deleted after the test.
- ``pg_schema`` (function): a fresh schema; ``.name`` and ``.dsn`` (``search_path`` set to
  ``<schema>, public``); dropped after the test.
- ``db_conn`` (function): an autocommit psycopg connection on ``pg_schema.dsn``.

Subfolders may add their own ``conftest.py``; keep names distinct from these.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from deploy.timescaledb import drop_schema

try:  # tests/ is a rootdir-less folder (sys.path entry) or, if someone adds __init__, a package
    from services import PgSchema, Services, provide_services
except ImportError:  # pragma: no cover
    from tests.services import PgSchema, Services, provide_services


def pytest_configure(config: pytest.Config) -> None:
    # kafka-python reads its protocol schemas with importlib.resources' legacy API.
    for message in ("read_text is deprecated", "open_text is deprecated"):
        config.addinivalue_line("filterwarnings", f"ignore:{message}:DeprecationWarning")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "services" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    with provide_services() as found:
        yield found


TopicFactory = Callable[..., str]


@pytest.fixture
def kafka_topic_factory(
    services: Services, request: pytest.FixtureRequest
) -> Iterator[TopicFactory]:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(**services.kafka.client_config(), client_id="greenwatch-tests")
    created: list[str] = []
    test_slug = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:60]

    def make(hint: str = "t", partitions: int = 1) -> str:
        name = f"test.{test_slug}.{hint}.{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        created.append(name)
        return name

    yield make
    with contextlib.suppress(Exception):  # best effort: a leftover test topic harms nobody
        if created:
            admin.delete_topics(created)
    admin.close()


@pytest.fixture
def topic_prefix(services: Services) -> Iterator[str]:
    """A fresh topic prefix for commands that create their own topics; every topic under it
    is deleted after the test (best effort)."""
    from kafka import KafkaAdminClient

    name = f"test{uuid.uuid4().hex[:10]}"
    yield name
    admin = KafkaAdminClient(**services.kafka.client_config())
    with contextlib.suppress(Exception):  # best effort: a leftover test topic harms nobody
        mine = [t for t in admin.list_topics() if t.startswith(f"{name}.")]
        if mine:
            admin.delete_topics(mine)
    admin.close()


@pytest.fixture
def pg_schema(services: Services) -> Iterator[PgSchema]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    dsn = make_conninfo(services.database_url, options=f"-c search_path={name},public")
    yield PgSchema(name, dsn)
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        drop_schema(conn, name)


@pytest.fixture
def db_conn(pg_schema: PgSchema) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
        yield conn
