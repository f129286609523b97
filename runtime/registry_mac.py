"""Proof that a registry record came from the database path (issue 11, item 2).

``greenwatch db load-registry`` (the registry publisher) signs each snapshot record with an
HMAC-SHA256 over its key and value, keyed with the registry key (``runtime.settings
.registry_key``: a setting, or the local stack's ``<state_dir>/secrets/registry.key``), and
sends the MAC in the record header ``MAC_HEADER``. Followers (gateway, workers, alert
service) hold the same key and refuse a record whose MAC is missing or wrong, whoever wrote
it: Kafka ACLs decide who may write the topic, the MAC decides what a follower believes.

Pure: no Kafka here. ``runtime.registry_topic`` moves the bytes, logs and counts refusals.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Final

MAC_HEADER: Final = "greenwatch-registry-mac"
"""Kafka record header carrying the MAC (``hmac-sha256:<hex>``)."""
_SCHEME: Final = b"hmac-sha256:"


def registry_mac(key: bytes, record_key: bytes | None, value: bytes) -> bytes:
    """The header value for a record with ``record_key`` and ``value`` (both bound: a signed
    snapshot cannot be replayed under another region's key)."""
    message = (record_key or b"") + b"\x00" + value
    return _SCHEME + hmac.new(key, message, hashlib.sha256).hexdigest().encode("ascii")


def mac_refusal(
    key: bytes,
    record_key: bytes | None,
    value: bytes,
    headers: Iterable[tuple[str, bytes | None]] | None,
) -> str | None:
    """Why a record must be refused (``"unsigned"``, ``"bad MAC"``), or None when its MAC is
    right. Compares in constant time."""
    found = [mac for name, mac in headers or () if name == MAC_HEADER]
    if not found or found[0] is None:
        return "unsigned"
    if len(found) > 1 or not hmac.compare_digest(found[0], registry_mac(key, record_key, value)):
        return "bad MAC"
    return None
