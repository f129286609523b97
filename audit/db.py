"""A request's database session: authenticate the token, then drop to the principal's role.

Each request runs in one transaction: the token is checked as the API's connection role
(the only one that can read ``api_tokens``), then ``SET LOCAL ROLE`` to the principal's
NOLOGIN role with its ``greenwatch.enterprise`` / ``greenwatch.regions`` set LOCAL, so every
query after that is under row-level security (migration 009), and nothing of it outlives the
transaction when the connection goes back to the pool. Blocks; raises Unauthenticated and
psycopg's errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from audit.principal import Principal
from audit.tokens import authenticate


def enter_scope(conn: psycopg.Connection[Any], principal: Principal) -> None:
    """Within the current transaction: become the principal's role, with its scope set."""
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(principal.db_role)))
    for name, value in principal.settings.items():
        conn.execute("SELECT set_config(%s, %s, true)", (name, value))


@contextmanager
def scoped_session(
    pool: ConnectionPool, token: str
) -> Iterator[tuple[psycopg.Connection[Any], Principal]]:
    """``(connection, principal)`` inside one read-only transaction under the principal's role."""
    with pool.connection() as conn, scoped_connection(conn, token) as principal:
        yield conn, principal


@contextmanager
def scoped_connection(conn: psycopg.Connection[Any], token: str) -> Iterator[Principal]:
    """On ``conn``: one read-only transaction under the principal of ``token``."""
    with conn.transaction():
        principal = authenticate(conn, token)
        conn.execute("SET TRANSACTION READ ONLY")
        enter_scope(conn, principal)
        yield principal
