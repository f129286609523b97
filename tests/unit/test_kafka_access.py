"""Issue 11, item 1 (pure parts): whose Kafka login a client gets from the settings, the
broker's secured configuration, the ACL table, and the table grants data."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy import kafka_service
from deploy.db_roles import PRIVILEGES, load_grants
from runtime.kafka_access import KafkaAccess, Principal, kafka_access, password_file_name
from runtime.kafka_acls import RIGHTS, group_grants, topic_grants
from runtime.settings import Settings
from schemas.topics import Topic


@pytest.fixture(autouse=True)
def _no_kafka_login_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The integration session exports the admin's login (tests/services.py): not here."""
    for name in ("USERNAME", "PASSWORD", "SECURITY_PROTOCOL", "SASL_MECHANISM", "CA_FILE"):
        monkeypatch.delenv(f"GREENWATCH_KAFKA_{name}", raising=False)


def _local(tmp_path: Path, principal: Principal, password: str) -> Settings:
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / password_file_name(principal)).write_text(password + "\n")
    return Settings(state_dir=tmp_path, kafka_port=29092)


def test_on_the_local_broker_each_service_logs_in_as_its_own_principal(tmp_path: Path) -> None:
    settings = _local(tmp_path, Principal.WORKER, "s3cret")
    access = kafka_access(settings, Principal.WORKER)
    assert access.client_config() == {
        "bootstrap_servers": "127.0.0.1:29092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "worker",
        "sasl_plain_password": "s3cret",
    }
    assert "s3cret" not in repr(access)
    # no password file for this principal: PLAINTEXT, and the broker refuses it
    assert kafka_access(settings, Principal.GATEWAY).protocol == "PLAINTEXT"


def test_explicit_settings_configure_a_production_cluster(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        kafka_bootstrap="kafka-1.example:9093,kafka-2.example:9093",
        kafka_username="gw-gateway",
        kafka_password="pw",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_ca_file=tmp_path / "ca.pem",
    )
    config = kafka_access(settings, Principal.GATEWAY).client_config()
    assert config["security_protocol"] == "SASL_SSL"
    assert (config["sasl_mechanism"], config["sasl_plain_username"]) == (
        "SCRAM-SHA-256",
        "gw-gateway",
    )
    assert config["ssl_cafile"] == str(tmp_path / "ca.pem")
    plain = Settings(state_dir=tmp_path, kafka_bootstrap="elsewhere:9092")
    assert kafka_access(plain, Principal.ADMIN) == KafkaAccess("elsewhere:9092")


def test_the_local_broker_accepts_only_authenticated_clients_and_authorizes() -> None:
    layout = kafka_service.KafkaLayout(Path("/tmp/k"), 29092, 29093)
    properties = kafka_service.server_properties(layout, "adminpw")
    assert "PLAINTEXT://" not in properties.replace("SASL_PLAINTEXT://", "")
    assert "listeners=SASL_PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093" in properties
    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in (
        properties
    )
    assert "allow.everyone.if.no.acl.found=false" in properties
    assert "super.users=User:admin\n" in properties


def test_only_the_publisher_writes_the_registry_and_only_worker_and_archiver_read_raw() -> None:
    grants = topic_grants("gw")
    writers = {g.principal for g in grants if g.topic == "gw.registry" and g.operation == "WRITE"}
    readers = {g.principal for g in grants if g.topic == "gw.raw.hj212" and g.operation == "READ"}
    assert (writers, readers) == ({Principal.REGISTRY}, {Principal.WORKER, Principal.ARCHIVER})
    assert Principal.ADMIN not in RIGHTS  # the super user needs no ACL
    assert Topic.RAW_HJ212 in RIGHTS[Principal.GATEWAY].writes


def test_grants_name_only_plain_privileges_and_known_roles() -> None:
    grants = load_grants()
    assert all(
        privileges <= PRIVILEGES and key in grants.roles
        for table in grants.tables.values()
        for key, privileges in table.items()
    )
    assert "worker" not in grants.tables["alert_events"]
    assert grants.tables["alert_events"]["alerts"] == {"SELECT", "INSERT"}  # append-only


@pytest.mark.parametrize("principal", list(Principal))
def test_every_principal_has_a_password_file_name(principal: Principal) -> None:
    assert password_file_name(principal) == f"kafka-{principal.value}.password"


def test_the_archiver_reads_the_raw_topics_only_and_joins_no_group() -> None:
    grants = [g for g in topic_grants("gw") if g.principal is Principal.ARCHIVER]
    assert {(g.operation, g.topic) for g in grants} == {
        ("READ", "gw.raw.hj212"),
        ("READ", "gw.raw.energy"),
    }
    assert all(p is not Principal.ARCHIVER for p, _ in group_grants("gw"))
