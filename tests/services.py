"""Where tests find Kafka and PostgreSQL, in the order of design.md:

1. explicit settings: ``GREENWATCH_KAFKA_BOOTSTRAP`` and ``GREENWATCH_DATABASE_URL`` (both set);
2. testcontainers (Kafka + ``timescale/timescaledb``) when a Docker engine answers a ping;
3. the local stack (``deploy.stack``): started if needed, and stopped at the end only if
   this session started it.

A service given by env is used as is even when the other one comes from step 2 or 3.
Set ``GREENWATCH_TEST_DOCKER=0`` to skip the Docker probe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from deploy import kafka_provision, stack
from deploy.processes import http_answers, wait_until
from runtime.kafka_access import KafkaAccess, Principal, kafka_access
from runtime.settings import Settings, database_dsn, kafka_servers

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
# The version and PostgreSQL major `make install` builds here (deploy/install_timescaledb.sh).
TIMESCALEDB_IMAGE = "timescale/timescaledb:2.28.3-pg15"
Origin = Literal["env", "testcontainers", "local"]


@dataclass(frozen=True, slots=True)
class Services:
    """Addresses of the services under test and where they came from.

    ``settings`` points at exactly these services (give it to CLI commands as ``obj``), and
    logs in to Kafka as the admin principal (the local stack's: the session exports
    ``GREENWATCH_KAFKA_USERNAME``/``_PASSWORD``, so CLI children run as the admin too; the
    per-service principals and their ACLs are tested in tests/integration/security).
    ``kafka`` is that login, for clients built in the test.
    """

    kafka_bootstrap: str
    database_url: str
    origin: Origin
    settings: Settings

    @property
    def kafka(self) -> KafkaAccess:
        return kafka_access(self.settings, Principal.ADMIN)


def admin_access(bootstrap: str) -> KafkaAccess:
    """The tests' Kafka login (``GREENWATCH_KAFKA_*`` of the environment, the admin's on the
    local stack) at ``bootstrap``."""
    return dataclasses.replace(kafka_access(Settings(), Principal.ADMIN), bootstrap=bootstrap)


def kafka_config(bootstrap: str) -> dict[str, Any]:
    """kafka-python keyword arguments of ``admin_access(bootstrap)``."""
    return admin_access(bootstrap).client_config()


@dataclass(frozen=True, slots=True)
class PgSchema:
    """A per-test schema; ``dsn`` connects with ``search_path`` = ``<name>, public``."""

    name: str
    dsn: str


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[Any], timeout_s: float = 60.0) -> None:
    """Block until ``url`` answers an HTTP GET (any status) from the service ``process`` runs.

    Raises AssertionError with the service's stderr (when piped) if the process exits first or
    ``timeout_s`` passes; a process still running then is killed, so its stderr ends.
    """
    if wait_until(lambda: process.poll() is not None or http_answers(url), timeout_s, 0.2):
        if process.poll() is None:
            return
    else:
        process.kill()
    _, stderr = process.communicate(timeout=30)
    raise AssertionError(f"{url} did not answer (exit {process.returncode}): {stderr}")


def as_service_role(env: dict[str, str], state_dir: Path, schema_dsn: str) -> dict[str, str]:
    """``env`` for a service process that must log in as its own role of the local stack
    whose state dir is ``state_dir`` (its passwords are there): no GREENWATCH_DATABASE_URL,
    and the schema of ``schema_dsn`` reached through libpq's PGOPTIONS."""
    options = conninfo_to_dict(schema_dsn).get("options") or ""
    env = {name: value for name, value in env.items() if name != "GREENWATCH_DATABASE_URL"}
    return env | {"GREENWATCH_STATE_DIR": str(state_dir), "PGOPTIONS": str(options)}


def sessions_as(dsn: str, login: str) -> int:
    """How many PostgreSQL sessions are logged in as ``login`` right now (on a worktree's
    private stack only the process under test uses a service role)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [login]
        ).fetchone()
    return int(row[0]) if row else 0


def record_writers(conn: psycopg.Connection[Any], tables: list[str]) -> None:
    """In the schema of ``conn`` (the owner's): a table ``writers`` that a trigger on each of
    ``tables`` fills with the login (``session_user``) of every INSERT or UPDATE statement,
    whatever role that login has; read it with ``writers``."""
    conn.execute("CREATE TABLE writers (login text, tbl text)")
    conn.execute(
        "CREATE FUNCTION record_writer() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS"
        " $$ BEGIN INSERT INTO writers VALUES (session_user, TG_TABLE_NAME); RETURN NULL; END $$"
    )
    for table in tables:
        conn.execute(
            sql.SQL(
                "CREATE TRIGGER record_writer AFTER INSERT OR UPDATE ON {}"
                " FOR EACH STATEMENT EXECUTE FUNCTION record_writer()"
            ).format(sql.Identifier(table))
        )


def writers(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(login, table) pairs ``record_writers`` saw, sorted by table."""
    rows = conn.execute("SELECT DISTINCT login, tbl FROM writers ORDER BY 2, 1").fetchall()
    return [(str(login), str(table)) for login, table in rows]


def _say(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr)


def docker_available(timeout_s: int = 2) -> bool:
    """True if a Docker engine answers a ping within ``timeout_s``; never raises."""
    if os.environ.get("GREENWATCH_TEST_DOCKER") == "0":
        return False
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=timeout_s)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # docker raises DockerException, requests errors, OSError
        return False


def base_settings() -> Settings:
    """Settings from the environment, with the state dir anchored at the repository root."""
    if "GREENWATCH_STATE_DIR" in os.environ:
        return Settings()
    return Settings(state_dir=REPO_ROOT / ".greenwatch")


@contextlib.contextmanager
def provide_services() -> Iterator[Services]:
    """Yield reachable services for the whole session; clean up only what was started here."""
    settings = base_settings()
    if settings.kafka_bootstrap and settings.database_url:
        yield Services(kafka_servers(settings), database_dsn(settings), "env", settings)
    elif docker_available():
        with _containers(settings) as services:
            yield services
    else:
        with _local_stack(settings) as services:
            yield services


@contextlib.contextmanager
def _local_stack(settings: Settings) -> Iterator[Services]:
    result = stack.up(settings, notify=_say)
    if not result.status.all_up:
        raise RuntimeError(f"local stack did not come up: {result.status.as_json()}")
    password = kafka_provision.local_passwords(settings)[Principal.ADMIN]
    exported = {"GREENWATCH_KAFKA_USERNAME": "admin", "GREENWATCH_KAFKA_PASSWORD": password}
    saved = {name: os.environ.get(name) for name in exported}
    os.environ.update(exported)
    admin = settings.model_copy(
        update={"kafka_username": "admin", "kafka_password": SecretStr(password)}
    )
    try:
        yield Services(kafka_servers(settings), database_dsn(settings), "local", admin)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if result.started:
            _say(f"stopping what this session started: {', '.join(sorted(result.started))}")
            stack.down(settings, notify=_say, services=result.started)


@contextlib.contextmanager
def _containers(settings: Settings) -> Iterator[Services]:
    """Start only the containers the environment did not provide."""
    with contextlib.ExitStack() as started:
        bootstrap = settings.kafka_bootstrap
        if bootstrap is None:
            kafka: Any = started.enter_context(_kafka_container())
            bootstrap = str(kafka.get_bootstrap_server())
        dsn = database_dsn(settings) if settings.database_url else None
        if dsn is None:
            postgres: Any = started.enter_context(_timescaledb_container())
            dsn = str(postgres.get_connection_url(driver=None))
        pointed = Settings(
            **{**settings.model_dump(), "kafka_bootstrap": bootstrap, "database_url": dsn}
        )
        yield Services(bootstrap, dsn, "testcontainers", pointed)


def _kafka_container() -> Any:
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:
        from testcontainers.kafka import KafkaContainer
    return KafkaContainer(KAFKA_IMAGE)


def _timescaledb_container() -> Any:
    try:
        from testcontainers.community.postgres import (
            PostgresContainer,
        )
    except ImportError:
        from testcontainers.postgres import PostgresContainer
    return PostgresContainer(
        TIMESCALEDB_IMAGE,
        username="greenwatch",
        password="greenwatch",
        dbname="greenwatch",
        driver=None,
    )
