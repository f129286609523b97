"""The local stack's Kafka: one broker+controller in KRaft mode, run from Maven-resolved jars.

Layout under ``<state_dir>/kafka``::

    libs/               jars fetched by `make install` (mvn, deploy/kafka/pom.xml)
    cluster.id          KRaft cluster id, generated once and kept
    server.properties   broker config, rewritten on every start from the settings
    log4j.properties    logging config
    data/               log.dirs (formatted once by kafka.tools.StorageTool)
    kafka.log           broker log (log4j, rolling)
    kafka.out           JVM stdout/stderr (crashes before log4j starts land here)
    kafka.pid           pid of the running broker
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from deploy import processes
from deploy.processes import Notify
from deploy.stack_errors import MissingDependency, PortInUse, ServiceStartFailed, ServiceStopFailed
from runtime.kafka_access import KafkaAccess

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
HEAP_OPTIONS = ("-Xms256m", "-Xmx512m")
_MAIN_CLASS = "kafka.Kafka"


@dataclass(frozen=True, slots=True)
class KafkaLayout:
    """Paths and ports of the local broker, derived from the settings."""

    home: Path
    port: int
    controller_port: int

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.home / "log4j.properties"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"

    @property
    def out_file(self) -> Path:
        return self.home / "kafka.out"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def cluster_id_file(self) -> Path:
        return self.home / "cluster.id"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


def layout(state_dir: Path, port: int, controller_port: int) -> KafkaLayout:
    """The broker's layout under ``state_dir`` (made absolute)."""
    return KafkaLayout(state_dir.resolve() / "kafka", port, controller_port)


def running_pid(kafka: KafkaLayout) -> int | None:
    """Pid of our broker if it runs; removes a stale pid file (and says so through ``notify``)."""
    pid = processes.read_pid(kafka.pid_file)
    if pid is not None and processes.is_running(pid, _MAIN_CLASS, str(kafka.properties)):
        return pid
    return None


def clean_stale_pid(kafka: KafkaLayout, notify: Notify) -> None:
    """Delete a pid file whose process is gone (a crash or a reboot), telling ``notify``."""
    pid = processes.read_pid(kafka.pid_file)
    if kafka.pid_file.exists() and running_pid(kafka) is None:
        notify(f"kafka: removing stale pid file {kafka.pid_file} (process {pid} is not running)")
        kafka.pid_file.unlink(missing_ok=True)


def start(
    kafka: KafkaLayout, notify: Notify, admin_password: str, baseline_port: int | None = None
) -> int:
    """Start the broker detached (own session) unless it runs; return its pid.
    ``admin_password``: the super user's (``deploy.kafka_provision.local_passwords``);
    ``baseline_port``: see ``server_properties`` (the authentication benchmark's only).

    Blocks until it started (not until healthy: see ``deploy.stack``). Raises
    ``MissingDependency`` (no java, no jars), ``PortInUse``, ``ServiceStartFailed``.
    """
    clean_stale_pid(kafka, notify)
    pid = running_pid(kafka)
    if pid is not None:
        notify(f"kafka: already running (pid {pid}) on {kafka.bootstrap}")
        return pid
    java = _java()
    if not any(kafka.libs.glob("kafka_*.jar")):
        raise MissingDependency(
            f"Kafka jars in {kafka.libs}", "run `make install` (it fetches them with Maven)"
        )
    for port, setting in (
        (kafka.port, "GREENWATCH_KAFKA_PORT"),
        (kafka.controller_port, "GREENWATCH_KAFKA_CONTROLLER_PORT"),
    ):
        if processes.port_in_use(port):
            raise PortInUse("kafka", port, setting)
    kafka.data.mkdir(parents=True, exist_ok=True)
    _write_config(kafka, server_properties(kafka, admin_password, baseline_port))
    _format_storage(kafka, java)
    return _launch(kafka, java, notify)


def stop(kafka: KafkaLayout, notify: Notify) -> bool:
    """Stop our broker (SIGTERM, wait, SIGKILL as last resort). Returns True if it was running.

    Blocks up to ``STOP_TIMEOUT_S``; raises ``ServiceStopFailed`` if it survives.
    """
    clean_stale_pid(kafka, notify)
    pid = running_pid(kafka)
    if pid is None:
        return False
    notify(f"kafka: stopping (pid {pid})")
    if not processes.terminate(pid, STOP_TIMEOUT_S):
        raise ServiceStopFailed("kafka", pid, kafka.log_file)
    kafka.pid_file.unlink(missing_ok=True)
    return True


def new_cluster_id() -> str:
    """A random KRaft cluster id: 22-char base64url of 16 random bytes, never starting with ``-``.

    Kafka's own ``Uuid.randomUuid`` redraws ids that start with ``-`` because command lines
    would read them as an option; we do the same (1 draw in 64 would otherwise break
    ``kafka-storage format``).
    """
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def cluster_id(kafka: KafkaLayout) -> str:
    """The KRaft cluster id kept in the state dir, generated on first use."""
    if kafka.cluster_id_file.exists():
        return kafka.cluster_id_file.read_text().strip()
    new_id = new_cluster_id()
    kafka.home.mkdir(parents=True, exist_ok=True)
    kafka.cluster_id_file.write_text(new_id + "\n")
    return new_id


def server_properties(
    kafka: KafkaLayout, admin_password: str, baseline_port: int | None = None
) -> str:
    """The broker config: single node, both roles, replication factor 1 everywhere.

    Authenticated and authorised (issue 11): the client listener speaks SASL_PLAINTEXT on
    127.0.0.1 with SCRAM-SHA-512 (the services' users, made by ``deploy.kafka_provision``) and
    PLAIN for the one static ``admin`` user (so the admin can log in before any SCRAM user
    exists, e.g. on a cluster formatted before authentication); the controller listener takes
    PLAIN ``admin`` only. KRaft's StandardAuthorizer refuses whatever no ACL allows; ``admin``
    is the super user. The file holds the admin password: it is written mode 0600.

    ``baseline_port``: a second client listener ``BASELINE``, PLAINTEXT on 127.0.0.1, whose
    anonymous clients are super users (no login, no ACL lookup). Only for the private broker
    of ``bench.bench_authcost``, which measures what authentication and ACLs cost on one
    broker; the local stack never opens it (``deploy.stack`` never passes a port).
    """
    plain_jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="{admin_password}" user_admin="{admin_password}";'
    )
    scram_jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="admin" password="{admin_password}";'
    )
    listeners = _secured_listeners(kafka, plain_jaas, scram_jaas)
    if baseline_port is not None:
        listeners = _with_baseline(listeners, baseline_port)
    return _properties(kafka, listeners)


def _with_baseline(listeners: dict[str, str], port: int) -> dict[str, str]:
    """``listeners`` plus the open ``BASELINE`` listener on ``port`` (benchmark only)."""
    endpoint = f"BASELINE://127.0.0.1:{port}"
    return {
        **listeners,
        "listeners": f"{listeners['listeners']},{endpoint}",
        "advertised.listeners": f"{listeners['advertised.listeners']},{endpoint}",
        "listener.security.protocol.map": (
            f"{listeners['listener.security.protocol.map']},BASELINE:PLAINTEXT"
        ),
        "super.users": f"{listeners['super.users']};User:ANONYMOUS",
    }


def _secured_listeners(kafka: KafkaLayout, plain_jaas: str, scram_jaas: str) -> dict[str, str]:
    return {
        "listeners": (
            f"SASL_PLAINTEXT://127.0.0.1:{kafka.port},"
            f"CONTROLLER://127.0.0.1:{kafka.controller_port}"
        ),
        "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{kafka.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.sasl_plaintext.sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": plain_jaas,
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": scram_jaas,
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": plain_jaas,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin",
        "allow.everyone.if.no.acl.found": "false",
    }


def _properties(kafka: KafkaLayout, listeners: dict[str, str]) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{kafka.controller_port}",
        **listeners,
        "log.dirs": str(kafka.data),
        "num.partitions": "4",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.retention.hours": "168",
        "log.segment.bytes": str(256 * 1024 * 1024),
    }
    lines = ["# Written by `greenwatch stack up` on every start; edit deploy/kafka_service.py."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def _log4j_properties(kafka: KafkaLayout) -> str:
    return "\n".join(
        [
            "log4j.rootLogger=INFO, file",
            "log4j.appender.file=org.apache.log4j.RollingFileAppender",
            f"log4j.appender.file.File={kafka.log_file}",
            "log4j.appender.file.MaxFileSize=10MB",
            "log4j.appender.file.MaxBackupIndex=3",
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
            "log4j.logger.kafka=INFO",
            "log4j.logger.org.apache.kafka=INFO",
            "log4j.logger.kafka.request.logger=WARN",
            "log4j.logger.state.change.logger=WARN",
            "",
        ]
    )


def _write_config(kafka: KafkaLayout, properties: str) -> None:
    fd = os.open(kafka.properties, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file may have been world-readable
    with os.fdopen(fd, "w") as out:
        out.write(properties)
    kafka.log4j.write_text(_log4j_properties(kafka))


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home, "bin", "java") if java_home else None
    if candidate is not None and candidate.exists():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise MissingDependency("java (JRE 17+)", "run `make install` or install openjdk-17")
    return found


def _java_command(kafka: KafkaLayout, java: str, main: str, *args: str) -> list[str]:
    return [
        java,
        *HEAP_OPTIONS,
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{kafka.log4j}",
        f"-Dkafka.logs.dir={kafka.home}",
        "-cp",
        f"{kafka.libs}/*",
        main,
        *args,
    ]


def _format_storage(kafka: KafkaLayout, java: str) -> None:
    """Format ``log.dirs`` once (``meta.properties`` marks it formatted)."""
    if (kafka.data / "meta.properties").exists():
        return
    command = _java_command(
        kafka,
        java,
        "kafka.tools.StorageTool",
        "format",
        # '=' form: a cluster id kept from an older state dir may start with '-'
        f"--cluster-id={cluster_id(kafka)}",
        "-c",
        str(kafka.properties),
        "--ignore-formatted",
    )
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        kafka.out_file.write_text(result.stdout + result.stderr)
        raise ServiceStartFailed(
            "kafka",
            "formatting the KRaft storage failed",
            kafka.out_file,
            processes.tail(kafka.out_file),
        )


def _launch(kafka: KafkaLayout, java: str, notify: Notify) -> int:
    command = _java_command(kafka, java, _MAIN_CLASS, str(kafka.properties))
    with kafka.out_file.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=kafka.home,
        )
    kafka.pid_file.write_text(f"{process.pid}\n")
    notify(f"kafka: started (pid {process.pid}), log {kafka.log_file}")
    return process.pid


def is_healthy(access: KafkaAccess, timeout_s: float = 5.0) -> bool:
    """True if a broker at ``access.bootstrap`` answers a metadata request (as ``access``'s
    principal) with at least one broker.

    Blocks up to about ``timeout_s``. Never raises for an unreachable broker.
    """
    host, _, port = access.bootstrap.split(",")[0].rpartition(":")
    if not processes.port_answers(int(port), host or "127.0.0.1", timeout_s=min(timeout_s, 1.0)):
        return False
    from kafka import KafkaAdminClient  # lazy: kafka-python is slow to import

    timeout_ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(
            **access.client_config(),
            client_id="greenwatch-stack-health",
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
        )
    except Exception:  # kafka-python raises assorted KafkaError subclasses and OSErrors
        return False
    try:
        cluster = admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            admin.close()
