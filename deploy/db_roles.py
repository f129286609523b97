"""PostgreSQL least privilege (issue 11, item 3): the service roles and the table grants.

``deploy/grants.yaml`` is the data: each service role (login name, what it is) and, for every
table and view, which role may SELECT / INSERT / UPDATE / DELETE it. The owner role (the one
``greenwatch db migrate`` connects as) owns every object; nobody else may alter, drop,
truncate or disable a trigger, because none of that can be granted here.

- ``ensure_roles`` (``greenwatch stack up``, as the superuser): the LOGIN roles, with passwords
  generated into ``<state_dir>/secrets/postgres-<role>.password`` (0600), reset at each start.
- ``apply_grants`` (end of every ``migrate``, as the owner): in the current schema, REVOKE ALL
  from the service roles and PUBLIC, then the grants of the file (roles the server does not
  have are skipped). A table the file does not name gets no grant at all (deny by default)
  and is reported; tests/integration/security/test_db_roles.py fails on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import psycopg
import yaml
from psycopg import sql

from deploy.errors import DeployError
from runtime.settings import Settings, local_secret

PRIVILEGES: Final = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})


class GrantsError(DeployError):
    """``grants.yaml`` is malformed, or the schema has a table it does not name."""


@dataclass(frozen=True, slots=True)
class ServiceRole:
    """A key of ``grants.yaml`` (``worker``), its LOGIN role (``gw_worker``), what it is, and
    the NOLOGIN roles it may ``SET ROLE`` to (``member_of``; it then inherits nothing)."""

    key: str
    login: str
    description: str
    member_of: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Grants:
    roles: dict[str, ServiceRole]
    tables: dict[str, dict[str, frozenset[str]]]
    """table → role key → privileges."""

    def role(self, key: str) -> ServiceRole:
        return self.roles[key]


@cache
def load_grants() -> Grants:
    """``deploy/grants.yaml``, checked (known roles and privileges only)."""
    text = resources.files("deploy").joinpath("grants.yaml").read_text("utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    roles = {
        key: ServiceRole(
            key, str(spec["login"]), str(spec["is"]), tuple(map(str, spec.get("member_of", ())))
        )
        for key, spec in document["roles"].items()
    }
    tables: dict[str, dict[str, frozenset[str]]] = {}
    for table, by_role in document["tables"].items():
        tables[table] = {}
        for key, privileges in (by_role or {}).items():
            wrong = set(privileges) - PRIVILEGES
            if key not in roles or wrong:
                raise GrantsError(f"grants.yaml, {table}: unknown role {key!r} or {wrong}")
            tables[table][key] = frozenset(privileges)
    return Grants(roles, tables)


def schema_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """Tables, partitioned tables, views and materialized views of the current schema
    (partitions excluded: they are reached through their parent)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')"
        " AND NOT c.relispartition ORDER BY 1"
    ).fetchall()
    return [row[0] for row in rows]


def apply_grants(conn: psycopg.Connection[Any]) -> list[str]:
    """Make the current schema's privileges exactly ``grants.yaml``'s, in one transaction.
    Returns the tables the file does not name (they got no grant)."""
    grants = load_grants()
    tables = schema_tables(conn)
    logins = [role.login for role in grants.roles.values()]
    present = {
        row[0]
        for row in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [logins])
    }
    schema = sql.Identifier(conn.execute("SELECT current_schema()").fetchone()[0])  # type: ignore[index]
    with conn.transaction():
        _grant_memberships(conn, grants, present)
        for login in sorted(present):
            role = sql.Identifier(login)
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
            conn.execute(
                sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                    schema, role
                )
            )
        for table in tables:
            target = sql.Identifier(table)
            everyone = sql.SQL(", ").join(
                [sql.SQL("PUBLIC"), *map(sql.Identifier, sorted(present))]
            )
            conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(target, everyone))
            for key, privileges in sorted(grants.tables.get(table, {}).items()):
                login = grants.roles[key].login
                if login not in present:
                    continue
                conn.execute(
                    sql.SQL("GRANT {} ON {} TO {}").format(
                        sql.SQL(", ").join(sql.SQL(p) for p in sorted(privileges)),
                        target,
                        sql.Identifier(login),
                    )
                )
    return [table for table in tables if table not in grants.tables]


def _grant_memberships(conn: psycopg.Connection[Any], grants: Grants, present: set[str]) -> None:
    """Each present login with ``member_of``: NOINHERIT (the privileges of those roles are
    reached only by ``SET ROLE``, so their row-level security always applies), then a member
    of those of them that exist (the audit API's are made by migration 009). Needs the
    owner's CREATEROLE."""
    for role in grants.roles.values():
        if role.login not in present or not role.member_of:
            continue
        login = sql.Identifier(role.login)
        inherits = conn.execute(
            "SELECT rolinherit FROM pg_roles WHERE rolname = %s", [role.login]
        ).fetchone()
        if inherits is None or inherits[0]:  # only when needed: pg_authid rows are shared
            conn.execute(sql.SQL("ALTER ROLE {} NOINHERIT").format(login))
        missing = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)"
            " AND NOT pg_has_role(%s, oid, 'MEMBER') ORDER BY 1",
            [list(role.member_of), role.login],
        ).fetchall()
        for (name,) in missing:
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(name), login))


def local_db_passwords(settings: Settings) -> dict[str, str]:
    """The local stack's login roles (the owner ``greenwatch`` and every service role) and
    their passwords, generated into ``<state_dir>/secrets/postgres-<login>.password``."""
    logins = ["greenwatch", *(role.login for role in load_grants().roles.values())]
    return {
        login: local_secret(settings, f"postgres-{login}.password").decode("ascii")
        for login in logins
    }


def ensure_roles(
    superuser: psycopg.Connection[Any], passwords: Mapping[str, str], *, create: bool = True
) -> None:
    """Set the password of each login role of ``passwords`` (login → password), creating it
    first (``create``: NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS) when missing."""
    for login, password in sorted(passwords.items()):
        exists = superuser.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [login]).fetchone()
        if exists is None and create:
            superuser.execute(
                sql.SQL(
                    "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
                ).format(sql.Identifier(login))
            )
        superuser.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(login), sql.Literal(password)
            )
        )
