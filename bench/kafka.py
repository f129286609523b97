"""The benchmarks' Kafka logins: the admin for the benchmark's own clients, and each service
principal (with its ACLs on the benchmark's prefix) for the services it starts, so the figures
are those of the authenticated, authorised pipeline (issue 11)."""

from __future__ import annotations

from deploy.kafka_provision import provision
from runtime.kafka_access import KafkaAccess, Principal, kafka_access, local_broker
from runtime.settings import Settings


def bench_kafka(settings: Settings, prefix: str) -> KafkaAccess:
    """The admin's login; on the local stack, the topics and ACLs of ``prefix`` are made
    first (the services then run as their own principals). Raises ``KafkaError``."""
    if local_broker(settings) and settings.kafka_username is None:
        provision(settings, prefix, users=False)
    return kafka_access(settings, Principal.ADMIN)


def service_env(settings: Settings, principal: Principal) -> dict[str, str]:
    """Environment for a child process running as ``principal`` (explicit credentials: the
    child may have a state directory of its own)."""
    access = kafka_access(settings, principal)
    env = {"GREENWATCH_KAFKA_BOOTSTRAP": access.bootstrap}
    env["GREENWATCH_KAFKA_SECURITY_PROTOCOL"] = access.protocol
    if access.username is not None and access.password is not None:
        env["GREENWATCH_KAFKA_USERNAME"] = access.username
        env["GREENWATCH_KAFKA_PASSWORD"] = access.password.get_secret_value()
        env["GREENWATCH_KAFKA_SASL_MECHANISM"] = access.mechanism or "SCRAM-SHA-512"
    if access.ca_file is not None:
        env["GREENWATCH_KAFKA_CA_FILE"] = str(access.ca_file)
    return env
