"""The local stack: one Kafka broker and one PostgreSQL cluster under the state directory.

``up`` starts what is missing and waits until both answer, ``down`` stops what is ours,
``status`` probes whatever the settings point at. Services given explicitly by settings
(``GREENWATCH_KAFKA_BOOTSTRAP``, ``GREENWATCH_DATABASE_URL``) are external: probed, never
started or stopped. Messages go through ``notify`` (the CLI prints them); errors are
``deploy.stack_errors.StackError`` subclasses. Concurrent ``up``/``down`` calls on one state
directory are serialised by a file lock.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from deploy import db_roles, kafka_provision, kafka_service, postgres_service, processes
from deploy.processes import Notify
from deploy.stack_errors import ServiceStartFailed
from runtime.kafka_access import KafkaAccess, Principal, kafka_access
from runtime.settings import Settings, database_dsn, kafka_servers

Service = Literal["kafka", "postgres"]
ALL_SERVICES: frozenset[Service] = frozenset({"kafka", "postgres"})


@dataclass(frozen=True, slots=True)
class KafkaStatus:
    """Kafka as seen by ``status``: where it is, whether it answers, whether we run it."""

    bootstrap: str
    up: bool
    local: bool
    pid: int | None


@dataclass(frozen=True, slots=True)
class PostgresStatus:
    """PostgreSQL as seen by ``status``; ``timescaledb`` = the version of TimescaleDB the
    server can run (installed and preloaded), None for plain PostgreSQL."""

    dsn: str
    up: bool
    timescaledb: str | None
    local: bool
    pid: int | None


@dataclass(frozen=True, slots=True)
class StackStatus:
    """Both services; ``as_json`` is the stable shape printed by ``stack status --json``."""

    kafka: KafkaStatus
    postgres: PostgresStatus

    @property
    def all_up(self) -> bool:
        return self.kafka.up and self.postgres.up

    def as_json(self) -> dict[str, dict[str, str | bool | None]]:
        """The DSN with its password replaced by ``***`` (local: the owner's, which makes
        any shell that exports it the owner; the passwords are in ``<state_dir>/secrets``)."""
        dsn = redact_dsn(self.postgres.dsn)
        return {
            "kafka": {"bootstrap": self.kafka.bootstrap, "up": self.kafka.up},
            "postgres": {
                "dsn": dsn,
                "up": self.postgres.up,
                "timescaledb": self.postgres.timescaledb is not None,
                "timescaledb_version": self.postgres.timescaledb,
            },
        }


@dataclass(frozen=True, slots=True)
class UpResult:
    """What ``up`` did: the services it started now (others were running or external)."""

    status: StackStatus
    started: frozenset[Service]


def _quiet(message: str) -> None:
    """Default ``notify``: drop messages."""


def up(
    settings: Settings,
    notify: Notify = _quiet,
    timeout_s: float = kafka_service.START_TIMEOUT_S,
) -> UpResult:
    """Start the local services that are neither running nor external; wait until they answer.

    Blocks (cold start: about 10-20 s, mostly the JVM). Raises ``MissingDependency``,
    ``PortInUse`` or ``ServiceStartFailed`` (whose message names the log file).
    """
    kafka = _kafka_layout(settings)
    pg = _postgres_layout(settings)
    started: set[Service] = set()
    with _lock(settings.state_dir):
        if settings.kafka_bootstrap is None:
            was_running = kafka_service.running_pid(kafka) is not None
            admin_password = kafka_provision.local_passwords(settings)[Principal.ADMIN]
            kafka_pid = kafka_service.start(kafka, notify, admin_password)  # healthy later
            if not was_running:
                started.add("kafka")
        else:
            notify(f"kafka: external ({settings.kafka_bootstrap}), not started")
        if settings.database_url is None:
            was_running = postgres_service.running_pid(pg) is not None
            passwords = db_roles.local_db_passwords(settings)
            postgres_service.start(pg, notify, passwords)  # blocks until it accepts connections
            if not was_running:
                started.add("postgres")
        else:
            notify("postgres: external (GREENWATCH_DATABASE_URL), not started")
        if settings.kafka_bootstrap is None:
            _wait_for_kafka(kafka, kafka_pid, _admin(settings), timeout_s)
            created = kafka_provision.provision(settings, settings.topic_prefix)
            notify(
                f"kafka: SASL/SCRAM users and ACLs for prefix {settings.topic_prefix!r} in place"
                f" ({len(created)} topics created); credentials in {settings.state_dir}/secrets"
            )
        if settings.database_url is None and not postgres_service.is_healthy(
            database_dsn(settings), 10.0
        ):
            raise ServiceStartFailed(
                "postgres", "SELECT 1 failed after start", pg.log_file, processes.tail(pg.log_file)
            )
    return UpResult(status(settings), frozenset(started))


def down(
    settings: Settings, notify: Notify = _quiet, services: frozenset[Service] = ALL_SERVICES
) -> frozenset[Service]:
    """Stop the given local services if they run; return those that were stopped.

    External services are never touched. Blocks until the processes are gone (up to ~60 s each).
    """
    stopped: set[Service] = set()
    with _lock(settings.state_dir):
        if "kafka" in services and kafka_service.stop(_kafka_layout(settings), notify):
            stopped.add("kafka")
        if "postgres" in services and postgres_service.stop(_postgres_layout(settings), notify):
            stopped.add("postgres")
    return frozenset(stopped)


def status(settings: Settings) -> StackStatus:
    """Probe both services (metadata request; ``SELECT 1``). Blocks a few seconds at most."""
    bootstrap = kafka_servers(settings)
    dsn = database_dsn(settings)
    kafka_local = settings.kafka_bootstrap is None
    pg_local = settings.database_url is None
    pg_up = postgres_service.is_healthy(dsn)
    return StackStatus(
        kafka=KafkaStatus(
            bootstrap=bootstrap,
            up=kafka_service.is_healthy(_admin(settings)),
            local=kafka_local,
            pid=kafka_service.running_pid(_kafka_layout(settings)) if kafka_local else None,
        ),
        postgres=PostgresStatus(
            dsn=dsn,
            up=pg_up,
            timescaledb=postgres_service.timescaledb_version(dsn) if pg_up else None,
            local=pg_local,
            pid=postgres_service.running_pid(_postgres_layout(settings)) if pg_local else None,
        ),
    )


def redact_dsn(dsn: str) -> str:
    """``dsn`` with its password replaced by ``***`` (URL and key=value forms)."""
    dsn = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", dsn)


def log_files(settings: Settings) -> dict[Service, list[Path]]:
    """Where each local service logs (for messages and docs)."""
    kafka = _kafka_layout(settings)
    return {
        "kafka": [kafka.log_file, kafka.out_file],
        "postgres": [_postgres_layout(settings).log_file],
    }


def _kafka_layout(settings: Settings) -> kafka_service.KafkaLayout:
    return kafka_service.layout(
        settings.state_dir, settings.kafka_port, settings.kafka_controller_port
    )


def _postgres_layout(settings: Settings) -> postgres_service.PostgresLayout:
    return postgres_service.layout(settings.state_dir, settings.postgres_port)


def _admin(settings: Settings) -> KafkaAccess:
    """The admin's login: PLAIN on the local stack's broker, else from the settings."""
    if settings.kafka_bootstrap is None:
        return kafka_provision.bootstrap_admin(settings)
    return kafka_access(settings, Principal.ADMIN)


def _wait_for_kafka(
    kafka: kafka_service.KafkaLayout, pid: int, admin: KafkaAccess, timeout_s: float
) -> None:
    """Block until the broker answers; fail fast if its process exits."""

    def healthy_or_dead() -> bool:
        if not processes.is_running(pid, "kafka.Kafka"):
            return True  # stop waiting; reported below
        return kafka_service.is_healthy(admin, timeout_s=2.0)

    answered = processes.wait_until(healthy_or_dead, timeout_s, interval_s=0.5)
    if not processes.is_running(pid, "kafka.Kafka"):
        kafka.pid_file.unlink(missing_ok=True)
        raise ServiceStartFailed(
            "kafka", "the broker exited during start", kafka.log_file, _kafka_tail(kafka)
        )
    if not answered:
        raise ServiceStartFailed(
            "kafka",
            f"no answer on {kafka.bootstrap} within {timeout_s:.0f} s (pid {pid} still running)",
            kafka.log_file,
            _kafka_tail(kafka),
        )


def _kafka_tail(kafka: kafka_service.KafkaLayout) -> str:
    return "\n".join(
        part for part in (processes.tail(kafka.log_file), processes.tail(kafka.out_file)) if part
    )


@contextmanager
def _lock(state_dir: Path) -> Iterator[None]:
    """Serialise ``up``/``down`` across processes sharing ``state_dir`` (blocks while held)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "stack.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
