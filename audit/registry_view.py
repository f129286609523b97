"""The registry as an auditor may see it: narrowed to the caller's regions, secrets removed.

A stored registry document (``registry_versions.document``) names every enterprise of the
deployment and the digests devices and energy systems authenticate with. The API shows a
regulator or auditor the enterprises of its regions only, and nobody any digest. Pure.
"""

from __future__ import annotations

import re
from typing import Any

from audit.principal import Principal

_SECRET = re.compile(r"password|digest|hmac|secret|api_key", re.IGNORECASE)


def redact(value: Any) -> Any:
    """``value`` without any mapping key that names a password, digest, HMAC or secret."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if not _SECRET.search(str(k))}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def scoped_document(document: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """The registry document with only the principal's enterprises, secrets removed."""
    enterprises = [
        e
        for e in document.get("enterprises", [])
        if isinstance(e, dict) and principal.covers_region(str(e.get("region_code", "")))
    ]
    narrowed: dict[str, Any] = redact({**document, "enterprises": enterprises})
    return narrowed
