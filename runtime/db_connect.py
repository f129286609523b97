"""The one way a CLI command connects to PostgreSQL: as its role, or exit 2 with one line.

Every command that connects (``db``, ``plan``, ``report``, ``energy surcharge``, ``alerts``,
``api``, ``audit``, ``grafana check``, ``evasion identical``) calls ``connect_or_exit`` with the
``DbLogin`` it runs as on the local stack (ignored when GREENWATCH_DATABASE_URL is set: that
DSN is the login) and its own name. A server that does not answer, a refused login or a DSN
libpq refuses is the user's to fix, not a bug: one line on stderr naming the command and the
role, exit code 2, never a traceback. libpq's messages carry host and port, never the password.
"""

from __future__ import annotations

from typing import Any

import psycopg
import typer

from runtime.settings import DbLogin, Settings, database_dsn

CONNECT_TIMEOUT_S = 10


def connection_failure(command: str, login: str, error: psycopg.Error) -> str:
    """The one-line message of a failed connection (libpq's first line, which names the
    server and the reason, and a hint)."""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return (
        f"{command}: cannot connect to PostgreSQL as {login}: {reason}"
        " (is the stack up? `greenwatch stack up`; or check GREENWATCH_DATABASE_URL)"
    )


def connect_or_exit(
    settings: Settings, login: DbLogin, command: str, *, autocommit: bool = True
) -> psycopg.Connection[Any]:
    """An open connection as ``login`` (the local stack's role; GREENWATCH_DATABASE_URL when
    set), named ``greenwatch <command>`` in ``pg_stat_activity``. Blocks up to 10 s; on any
    connection error prints ``connection_failure`` to stderr and raises ``typer.Exit(2)``."""
    shown = login.value if settings.database_url is None else "the configured user"
    try:
        return psycopg.connect(
            database_dsn(settings, login),
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=f"greenwatch {command}"[:63],
        )
    except psycopg.Error as exc:
        typer.echo(connection_failure(command, shown, exc), err=True)
        raise typer.Exit(2) from None
