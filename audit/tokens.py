"""API tokens: ``gwa_<id>_<secret>``, only the sha256 of the secret stored (``api_tokens``,
migration 009), with an expiry and revocation (``greenwatch api token create|list|revoke``).

The secret is 32 random bytes, so a plain sha256 (not a slow password hash) is enough: it
cannot be guessed, and the digest is useless to whoever reads the table. Comparison is in
constant time. Functions taking a connection block and raise psycopg's errors.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from audit.errors import BadQuery, Unauthenticated
from audit.principal import Principal, Role

PREFIX = "gwa"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    """The whole token, shown once; never stored."""
    token_id: str
    expires_at: datetime


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str]:
    """``(token_id, secret)``; raises Unauthenticated when it is not a token of ours."""
    parts = token.strip().split("_")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        raise Unauthenticated("not a Greenwatch API token (expected gwa_<id>_<secret>)")
    return parts[1], parts[2]


def create_token(
    conn: psycopg.Connection[Any],
    principal: Principal,
    expires_at: datetime,
    created_by: str,
    label: str = "",
) -> IssuedToken:
    """Store a new token for ``principal``; returns it (the only time the secret is seen).
    Raises BadQuery when the enterprise is not in the registry or the expiry is past."""
    if principal.enterprise_id is not None:
        found = conn.execute(
            "SELECT 1 FROM enterprises WHERE enterprise_id = %s", (principal.enterprise_id,)
        ).fetchone()
        if found is None:
            raise BadQuery(f"enterprise {principal.enterprise_id!r} is not in the registry")
    now = conn.execute("SELECT now()").fetchone()
    if now is not None and expires_at <= now[0]:
        raise BadQuery("the expiry is in the past")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32).replace("_", "-")
    conn.execute(
        "INSERT INTO api_tokens (token_id, digest, principal, enterprise_id, regions, label,"
        " created_by, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            token_id,
            digest(secret),
            principal.role.value,
            principal.enterprise_id,
            list(principal.regions),
            label,
            created_by,
            expires_at,
        ),
    )
    return IssuedToken(f"{PREFIX}_{token_id}_{secret}", token_id, expires_at)


def authenticate(conn: psycopg.Connection[Any], token: str) -> Principal:
    """The principal of a valid token; raises Unauthenticated (unknown, wrong secret, expired,
    revoked: the message says which of expired/revoked, never whether the id exists)."""
    token_id, secret = split_token(token)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT digest, principal, enterprise_id, regions, revoked_at,"
            " expires_at <= now() AS expired FROM api_tokens WHERE token_id = %s",
            (token_id,),
        ).fetchone()
    if row is None or not hmac.compare_digest(row["digest"], digest(secret)):
        raise Unauthenticated("unknown token")
    if row["revoked_at"] is not None:
        raise Unauthenticated("this token was revoked")
    if row["expired"]:
        raise Unauthenticated("this token has expired")
    return Principal(Role(row["principal"]), row["enterprise_id"], tuple(row["regions"]), token_id)


def list_tokens(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Every token's metadata (never a digest), newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT token_id, principal, enterprise_id, regions, label, created_at, created_by,"
            " expires_at, revoked_at FROM api_tokens ORDER BY created_at DESC, token_id"
        ).fetchall()


def revoke_token(conn: psycopg.Connection[Any], token_id: str) -> bool:
    """Revoke; False when no such (unrevoked) token exists."""
    cur = conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_id = %s AND revoked_at IS NULL",
        (token_id,),
    )
    return cur.rowcount == 1
