"""How every Kafka client of Greenwatch connects and who it is (issue 11, item 1).

Each process is a principal; ``kafka_access(settings, principal)`` is the one place that turns
settings into a client's connection: bootstrap servers, security protocol, SASL mechanism,
username and password (``SecretStr``), CA file. ``KafkaAccess.client_config()`` gives the
keyword arguments kafka-python's ``KafkaProducer``/``KafkaConsumer``/``KafkaAdminClient`` take;
``streams.app`` turns the same object into faust's ``broker_credentials``.

Whose credentials:

- ``GREENWATCH_KAFKA_USERNAME``/``_PASSWORD`` set (a production cluster, or tests running as
  the admin): every client of the process uses them, with ``GREENWATCH_KAFKA_SASL_MECHANISM``
  and ``GREENWATCH_KAFKA_SECURITY_PROTOCOL`` (SASL_SSL when ``GREENWATCH_KAFKA_CA_FILE`` is set);
- else, on the local stack's broker: the principal's own SCRAM-SHA-512 credentials, generated
  by ``greenwatch stack up`` into ``<state_dir>/secrets/kafka-<principal>.password`` (0600);
- else PLAINTEXT (a cluster without authentication).

The principals and what each may do are ``runtime.kafka_acls``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr

from runtime.settings import Settings, kafka_servers, read_local_secret

LOCAL_MECHANISM: Final = "SCRAM-SHA-512"
"""The local stack's SASL mechanism for every principal."""


class Principal(StrEnum):
    """The services as Kafka principals (``User:<value>``)."""

    ADMIN = "admin"
    """Creates topics and ACLs, runs tests and benchmarks (super user)."""
    GATEWAY = "gateway"
    ENERGY_GATEWAY = "energy-gateway"
    WORKER = "worker"
    ENERGY_WORKER = "energy-worker"
    ALERTS = "alerts"
    REGISTRY = "registry"
    """``db load-registry``: the only writer of the registry topic."""
    PLAN = "plan"
    """``plan progress --publish``: ``plan_progress`` verdicts to the alert service."""
    ARCHIVER = "archiver"
    """``archive raw``: reads the raw topics (only them) to copy them to archive files."""


def password_file_name(principal: Principal) -> str:
    """The local stack's password file of ``principal`` under ``<state_dir>/secrets``."""
    return f"kafka-{principal.value}.password"


@dataclass(frozen=True, slots=True)
class KafkaAccess:
    """Where a Kafka client connects and as whom; ``repr`` never shows the password."""

    bootstrap: str
    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL")

    def client_config(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients (``bootstrap_servers`` included)."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.protocol,
        }
        if self.sasl:
            config["sasl_mechanism"] = self.mechanism or LOCAL_MECHANISM
            config["sasl_plain_username"] = self.username
            config["sasl_plain_password"] = (
                self.password.get_secret_value() if self.password is not None else None
            )
        if self.ca_file is not None:
            config["ssl_cafile"] = str(self.ca_file)
        return config


def local_broker(settings: Settings) -> bool:
    """True when the settings point at the local stack's broker."""
    return kafka_servers(settings) == f"127.0.0.1:{settings.kafka_port}"


def kafka_access(settings: Settings, principal: Principal) -> KafkaAccess:
    """The connection of ``principal``'s clients (see the module doc for whose credentials).
    Reads the local password file when it applies; never raises for a missing one (the
    broker then refuses the client, and says so)."""
    bootstrap, ca = kafka_servers(settings), settings.kafka_ca_file
    if settings.kafka_username is not None:
        protocol = settings.kafka_security_protocol or ("SASL_SSL" if ca else "SASL_PLAINTEXT")
        return KafkaAccess(
            bootstrap,
            protocol,
            settings.kafka_sasl_mechanism,
            settings.kafka_username,
            settings.kafka_password,
            ca,
        )
    if settings.kafka_security_protocol is None and local_broker(settings):
        password = read_local_secret(settings, password_file_name(principal))
        if password is not None:
            return KafkaAccess(
                bootstrap, "SASL_PLAINTEXT", LOCAL_MECHANISM, principal.value, SecretStr(password)
            )
    return KafkaAccess(bootstrap, settings.kafka_security_protocol or "PLAINTEXT", ca_file=ca)
