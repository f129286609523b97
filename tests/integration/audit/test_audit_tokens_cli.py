"""`greenwatch api token create | list | revoke`: the token is printed once and only its
digest stored; mistakes exit 2 with one line, never a traceback."""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
from typer.testing import CliRunner

from greenwatch.cli import app
from runtime.settings import Settings


def _token(pg_schema: Any, *args: str) -> Any:
    return CliRunner().invoke(
        app, ["api", "token", *args], obj=Settings(database_url=pg_schema.dsn)
    )


def test_create_list_revoke(audit_db: psycopg.Connection[Any], pg_schema: Any) -> None:
    made = _token(pg_schema, "create", "--role", "regulator", "--region", "52", "--label", "bureau")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    _, token_id, secret = token.split("_")
    stored = audit_db.execute(
        "SELECT digest, regions FROM api_tokens WHERE token_id = %s", (token_id,)
    ).fetchone()
    assert stored == (hashlib.sha256(secret.encode()).hexdigest(), ["52"])
    listed = _token(pg_schema, "list")
    assert token_id in listed.output and "bureau" in listed.output and secret not in listed.output
    assert _token(pg_schema, "revoke", token_id).exit_code == 0
    again = _token(pg_schema, "revoke", token_id)
    assert again.exit_code == 2 and "no unrevoked token" in again.output
    assert "revoked" in _token(pg_schema, "list").output


def test_mistakes_exit_2(audit_db: psycopg.Connection[Any], pg_schema: Any) -> None:
    cases = {
        "needs an enterprise id": ("create", "--role", "enterprise"),
        "is not in the registry": ("create", "--role", "enterprise", "--enterprise", "E-NOPE"),
        "not a GB/T 2260 code prefix": ("create", "--role", "auditor", "--region", "south"),
        "needs at least one region": ("create", "--role", "auditor"),
    }
    for needle, args in cases.items():
        result = _token(pg_schema, *args)
        assert result.exit_code == 2 and needle in result.output, (needle, result.output)
        assert "Traceback" not in result.output
