"""Wait until the broker's authorizer serves the ACLs just created (issue 11 follow-up).

``CreateAcls`` returns once the KRaft controller has committed the ACLs; the broker's
authorizer applies them a moment later. A producer that writes in that moment is refused
(``TopicAuthorizationFailedError``) and loses its first records. ``wait_for_acls`` polls
``describe_acls`` (answered by the broker from its authorizer) until every ACL asked for is
there, so ``deploy.kafka_provision.provision`` returns only when the grants are in force.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePatternFilter,
    ResourceType,
)
from kafka.errors import KafkaError

EVERY_ACL = ACLFilter(
    None,
    None,
    ACLOperation.ANY,
    ACLPermissionType.ANY,
    ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
)


class AclsNotInForce(KafkaError):  # type: ignore[misc]  # kafka-python is untyped
    """The broker did not show every ACL within the deadline; carries the ones missing."""

    def __init__(self, missing: list[ACL], deadline_s: float) -> None:
        shown = ", ".join(sorted(_describe(acl) for acl in missing[:5]))
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        super().__init__(
            f"the broker does not show {len(missing)} ACL(s) {deadline_s:g} s after they were "
            f"created: {shown}{more}"
        )
        self.missing = missing


def _describe(acl: ACL) -> str:
    pattern = acl.resource_pattern
    return (
        f"{acl.principal} {acl.operation.name} {pattern.resource_type.name}:"
        f"{pattern.resource_name} ({pattern.pattern_type.name})"
    )


def missing_acls(admin: Any, wanted: Iterable[ACL]) -> list[ACL]:
    """Those of ``wanted`` the broker's authorizer does not show now (one DescribeAcls)."""
    shown, _ = admin.describe_acls(EVERY_ACL)
    present = set(shown)
    return [acl for acl in wanted if acl not in present]


def wait_for_acls(
    admin: Any,
    wanted: Iterable[ACL],
    *,
    deadline_s: float = 30.0,
    poll_s: float = 0.05,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Block until ``admin`` (a ``KafkaAdminClient``) sees every ACL of ``wanted``, polling
    every ``poll_s`` seconds. Raises ``AclsNotInForce`` (a ``KafkaError``) naming the ACLs
    still missing after ``deadline_s`` seconds, or the ``KafkaError`` of a refused
    DescribeAcls."""
    wanted = list(wanted)
    ends = clock() + deadline_s
    while True:
        missing = missing_acls(admin, wanted)
        if not missing:
            return
        if clock() >= ends:
            raise AclsNotInForce(missing, deadline_s)
        sleep(poll_s)
