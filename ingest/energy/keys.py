"""Per-enterprise API keys of the energy API, stored only as a keyed digest.

The registry holds ``energy.api_key_hmac`` = hex HMAC-SHA256 of the key under the server's
secret (``GREENWATCH_ENERGY_KEY_SECRET``, a ``SecretStr``): a leaked registry gives neither
the keys nor a way to test guesses offline without the secret. Keys and the secret are never
logged. ``new_key`` makes a key for an enterprise (``greenwatch gateway energy-key``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from pydantic import SecretStr


def key_digest(secret: SecretStr, api_key: str) -> str:
    """The registry form of ``api_key``: hex HMAC-SHA256 under ``secret``."""
    return hmac.new(
        secret.get_secret_value().encode(), api_key.encode(), hashlib.sha256
    ).hexdigest()


def new_key() -> str:
    """A fresh random API key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None."""
    if not authorization:
        return None
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()
