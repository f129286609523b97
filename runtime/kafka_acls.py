"""Who may read and write which topic: the Kafka ACLs of every principal (issue 11, item 1).

Least privilege per service, for the topics under one prefix (``schemas.topics``). Applied by
``deploy.kafka_provision`` with the admin principal (``greenwatch stack up`` for the
configured prefix, ``greenwatch stack provision --prefix P`` for another one). The broker runs
KRaft's ``StandardAuthorizer`` with ``allow.everyone.if.no.acl.found=false``: what is not
granted here is refused. Pure data: no Kafka client here.

Consumer groups: each consumer principal may use the groups whose names start with
``<prefix>-`` (``schemas.topics.consumer_group``: ``<prefix>-streams``, ``<prefix>-alerts``,
``<prefix>-energy``), so a deployment's groups are its own: ``gw-`` does not match the groups
of ``gw.demo…`` (the demo's prefixes), which their own provisioning grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from runtime.kafka_access import Principal
from schemas.topics import Topic, group_prefix, topic_name

Operation = Literal["READ", "WRITE"]


@dataclass(frozen=True, slots=True)
class TopicRights:
    """What one principal may do: topics it reads, topics it writes, whether it joins groups."""

    reads: frozenset[Topic] = frozenset()
    writes: frozenset[Topic] = frozenset()
    assigns_by_hand: bool = False
    """Reads its partitions by assignment, never in a consumer group (no group ACL)."""

    @property
    def consumes_in_groups(self) -> bool:
        if self.assigns_by_hand:
            return False
        return bool(self.reads - {Topic.REGISTRY})  # the registry follower assigns by hand


RIGHTS: Final[dict[Principal, TopicRights]] = {
    Principal.GATEWAY: TopicRights(  # raw.energy: the i3… (energy) factors of HJ 212 frames
        reads=frozenset({Topic.REGISTRY}),
        writes=frozenset({Topic.RAW_HJ212, Topic.RAW_ENERGY, Topic.DEADLETTER}),
    ),
    Principal.ENERGY_GATEWAY: TopicRights(
        reads=frozenset({Topic.REGISTRY}),
        writes=frozenset({Topic.RAW_ENERGY, Topic.DEADLETTER}),
    ),
    Principal.WORKER: TopicRights(  # it stores every service's dead letters, too
        reads=frozenset({Topic.RAW_HJ212, Topic.DEADLETTER, Topic.REGISTRY}),
        writes=frozenset(
            {Topic.DEADLETTER, Topic.MEASUREMENTS, Topic.HOURLY, Topic.VERDICTS, Topic.QUALITY}
        ),
    ),
    Principal.ENERGY_WORKER: TopicRights(
        reads=frozenset({Topic.RAW_ENERGY, Topic.REGISTRY}),
        writes=frozenset({Topic.DEADLETTER, Topic.VERDICTS}),
    ),
    Principal.ALERTS: TopicRights(
        reads=frozenset({Topic.VERDICTS, Topic.QUALITY, Topic.REGISTRY}),
        writes=frozenset({Topic.ALERT_EVENTS, Topic.DEADLETTER}),
    ),
    Principal.REGISTRY: TopicRights(writes=frozenset({Topic.REGISTRY})),
    Principal.PLAN: TopicRights(writes=frozenset({Topic.VERDICTS})),
    Principal.ARCHIVER: TopicRights(  # archive raw: resumes from its manifest, not a group
        reads=frozenset({Topic.RAW_HJ212, Topic.RAW_ENERGY}), assigns_by_hand=True
    ),
}
"""Every principal but the admin (a super user). Only ``REGISTRY`` writes the registry topic;
only ``WORKER`` and ``ARCHIVER`` read the raw HJ 212 topic (it holds the frames as received);
``ARCHIVER`` reads nothing else and writes nothing."""


@dataclass(frozen=True, slots=True)
class TopicGrant:
    """``User:<principal>`` may ``operation`` the topic ``topic`` (a literal name)."""

    principal: Principal
    operation: Operation
    topic: str


def topic_grants(prefix: str) -> list[TopicGrant]:
    """The topic ACLs of every principal for the topics under ``prefix``."""
    grants = []
    for principal, rights in RIGHTS.items():
        grants += [
            TopicGrant(principal, "READ", topic_name(prefix, t)) for t in sorted(rights.reads)
        ]
        grants += [
            TopicGrant(principal, "WRITE", topic_name(prefix, t)) for t in sorted(rights.writes)
        ]
    return grants


def group_grants(prefix: str) -> list[tuple[Principal, str]]:
    """(principal, group-name prefix) pairs: who may join consumer groups named how."""
    return [
        (principal, group_prefix(prefix))
        for principal, rights in RIGHTS.items()
        if rights.consumes_in_groups
    ]
