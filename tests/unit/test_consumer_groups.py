"""Consumer groups per topic prefix (issue 11): every deployment's alert service, energy
worker and stream worker use groups of their own prefix, and the Kafka ACLs grant a prefix's
principals exactly the groups of that prefix."""

from __future__ import annotations

import pytest

from runtime.kafka_access import Principal
from runtime.kafka_acls import RIGHTS, group_grants
from runtime.settings import Settings
from schemas.topics import consumer_group
from streams.app import group_id


@pytest.mark.parametrize("service", ["alerts", "energy", "streams"])
def test_two_prefixes_never_share_a_group(service: str) -> None:
    assert consumer_group("gw", service) == f"gw-{service}"
    assert consumer_group("gw", service) != consumer_group("gw.demo20261206101500", service)
    assert consumer_group("", service) == f"greenwatch-{service}"


def test_the_worker_takes_its_prefix_group() -> None:
    assert group_id(Settings(topic_prefix="prov52")) == "prov52-streams"


def test_a_prefix_acl_covers_its_groups_and_not_another_prefixes() -> None:
    grants = group_grants("gw")
    consumers = {p for p, rights in RIGHTS.items() if rights.consumes_in_groups}
    assert {principal for principal, _ in grants} == consumers
    assert Principal.ALERTS in consumers
    for _, prefix in grants:
        assert consumer_group("gw", "alerts").startswith(prefix)
        assert not consumer_group("gw.demo20261206101500", "alerts").startswith(prefix)
        assert not "greenwatch-alerts".startswith(prefix)
