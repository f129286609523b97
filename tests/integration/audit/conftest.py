"""Fixtures of the audit API tests: a migrated private schema holding the demo registry and
``audit_data``'s two enterprises, a pool on it, the app, and tokens per role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from audit_data import OURS, issue, load_demo_registry, seed
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from audit.api import create_app
from audit.principal import Principal, Role
from deploy.migrate import Flavor, migrate


@pytest.fixture
def audit_db(db_conn: psycopg.Connection[Any], flavor: Flavor) -> psycopg.Connection[Any]:
    """Migrated in both flavors: row-level security differs on TimescaleDB (no RLS on a
    compressed hypertable: measurements goes through a scoped view in both)."""
    migrate(db_conn, flavor)
    load_demo_registry(db_conn)
    seed(db_conn)
    return db_conn


@pytest.fixture
def audit_pool(audit_db: psycopg.Connection[Any], pg_schema: Any) -> Iterator[ConnectionPool]:
    with ConnectionPool(pg_schema.dsn, min_size=1, max_size=4) as pool:
        yield pool


@pytest.fixture
def client(audit_pool: ConnectionPool) -> Iterator[TestClient]:
    with TestClient(create_app(audit_pool)) as test_client:
        yield test_client


@pytest.fixture
def tokens(audit_db: psycopg.Connection[Any]) -> dict[Role, str]:
    """One token per role, each scoped to "our" enterprise (E-TP-01) or its region (5201)."""
    return {
        Role.ENTERPRISE: issue(audit_db, Principal(Role.ENTERPRISE, OURS["enterprise"])),
        Role.REGULATOR: issue(audit_db, Principal(Role.REGULATOR, regions=("5201",))),
        Role.AUDITOR: issue(audit_db, Principal(Role.AUDITOR, regions=("5201",))),
    }
