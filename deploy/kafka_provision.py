"""Principals, credentials, topics and ACLs of a Kafka cluster (issue 11, item 1).

``local_passwords`` makes (once) and reads the local stack's per-principal passwords under
``<state_dir>/secrets`` (0600, directory 0700, never in the repository). ``provision`` logs in
as the admin and makes the cluster ready for the topics under one prefix: SCRAM-SHA-512 users
(upserted: a rotated password file is taken over), the catalogue's topics, and the ACLs of
``runtime.kafka_acls`` (idempotent: the broker keeps one copy of an ACL given twice).
Called by ``greenwatch stack up`` for the configured prefix, by ``greenwatch kafka provision``
and the demo for theirs. Raises ``kafka.errors.KafkaError`` when the broker refuses.
"""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from kafka.errors import KafkaError
from pydantic import SecretStr

from deploy.kafka_acl_wait import wait_for_acls
from runtime.kafka_access import KafkaAccess, Principal, local_broker, password_file_name
from runtime.kafka_acls import group_grants, topic_grants
from runtime.raw_retention import apply_raw_retention
from runtime.registry_topic import registry_topic
from runtime.settings import Settings, kafka_servers, local_secret
from runtime.topics import catalogue_topics, ensure_topics


def local_passwords(settings: Settings) -> dict[Principal, str]:
    """Every principal's local-stack password, generated into the state dir on first use."""
    return {
        principal: local_secret(settings, password_file_name(principal)).decode("ascii")
        for principal in Principal
    }


def bootstrap_admin(settings: Settings) -> KafkaAccess:
    """The admin's PLAIN login to the local broker (works before any SCRAM user exists)."""
    password = local_passwords(settings)[Principal.ADMIN]
    return KafkaAccess(
        kafka_servers(settings),
        "SASL_PLAINTEXT",
        "PLAIN",
        Principal.ADMIN.value,
        SecretStr(password),
    )


def acl_bindings(prefix: str) -> list[ACL]:
    """The ACLs of ``runtime.kafka_acls`` for ``prefix``, as kafka-python objects."""
    acls = [
        ACL(
            f"User:{grant.principal.value}",
            "*",
            ACLOperation[grant.operation],
            ACLPermissionType.ALLOW,
            ResourcePattern(ResourceType.TOPIC, grant.topic, ACLResourcePatternType.LITERAL),
        )
        for grant in topic_grants(prefix)
    ]
    acls += [
        ACL(
            f"User:{principal.value}",
            "*",
            ACLOperation.READ,
            ACLPermissionType.ALLOW,
            ResourcePattern(ResourceType.GROUP, name, ACLResourcePatternType.PREFIXED),
        )
        for principal, name in group_grants(prefix)
    ]
    return acls


def provision(settings: Settings, prefix: str, *, users: bool = True) -> list[str]:
    """As the local admin: upsert every principal's SCRAM user (``users``), create the
    catalogue's topics under ``prefix``, set the raw topics' retention
    (``raw_topic_retention_days``) and grant the ACLs. Returns the topics created.

    Only for the local stack's broker (its admin password is in the state dir); a production
    cluster is provisioned by its operators from ``runtime.kafka_acls`` (docs/security.md).
    Returns once the broker's authorizer shows every ACL (``deploy.kafka_acl_wait``), so a
    principal may write at once. Blocks a few seconds (at most 30 s for the ACLs); raises
    ``KafkaError`` (``AclsNotInForce`` when the ACLs do not show in time).
    """
    if not local_broker(settings):
        raise ValueError("provision() manages the local stack's broker only")
    admin_access = bootstrap_admin(settings)
    admin = KafkaAdminClient(**admin_access.client_config(), client_id="greenwatch-provision")
    try:
        if users:
            upserts = [
                UserScramCredentialUpsertion(
                    principal.value, ScramMechanism.SCRAM_SHA_512, password, iterations=8192
                )
                for principal, password in local_passwords(settings).items()
            ]
            failed = {u: e for u, e in admin.alter_user_scram_credentials(upserts).items() if e}
            if failed:
                raise KafkaError(f"SCRAM users not made: {failed}")
        registry = registry_topic(prefix)  # compacted, with its large-record limit
        topics = [
            t
            for t in catalogue_topics(prefix, raw_retention_days=settings.raw_topic_retention_days)
            if t.name != registry.name
        ] + [registry]
        created = ensure_topics(admin_access, topics, client_id="greenwatch-provision")
        apply_raw_retention(  # new and existing raw topics alike (runtime.raw_retention)
            admin_access,
            prefix,
            settings.raw_topic_retention_days,
            client_id="greenwatch-provision",
        )
        acls = acl_bindings(prefix)
        result = admin.create_acls(acls)
        if result["failed"]:
            raise KafkaError(f"ACLs not made: {result['failed']}")
        wait_for_acls(admin, acls)  # in force before a service writes (deploy.kafka_acl_wait)
        return created
    finally:
        admin.close()
