"""Versioned, idempotent SQL migrations (``greenwatch db migrate``).

Migrations are the files ``deploy/migrations/NNN_name[.flavor].sql``. A file without a flavor
runs everywhere; ``.plain.sql`` and ``.timescaledb.sql`` are the two variants of one step. A
flavored step may also have a shared file of the same number and name (``NNN_name.sql``, the
SQL both flavors run): the step is the flavor's file followed by it, one text, one
transaction, one checksum (so moving the common tail of two flavor files into a shared file
leaves the step's text, and its recorded checksum, byte for byte what it was). The runner
decides the flavor once per schema, before any step: the flavor already recorded in
the schema's ``schema_migrations``, else the one asked for, else TimescaleDB when the server can
run it (installed and preloaded, see ``deploy.timescaledb``) and plain PostgreSQL (native
partitioning, sink-maintained rollups) otherwise. It checks the TimescaleDB flavor can work and
creates the extension once per database in ``public`` before the first step, and refuses to mix
flavors in one schema. Applied steps are recorded in ``schema_migrations`` of the current schema
(``search_path``), so a second run does nothing and tests can migrate a private schema each.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import psycopg
from psycopg import sql

from deploy import timescaledb
from deploy.db_roles import apply_grants
from deploy.errors import DeployError
from deploy.timescaledb import Policies

_FILE = re.compile(
    r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+)(?:\.(?P<flavor>plain|timescaledb))?\.sql$"
)


class Flavor(StrEnum):
    PLAIN = "plain"
    TIMESCALEDB = "timescaledb"


class MigrationError(DeployError):
    """A migration file set is inconsistent or a step failed (carries the step)."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"migration {step}: {reason}")
        self.step = step
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Step:
    version: int
    name: str
    flavor: Flavor | None
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class MigrationReport:
    flavor: Flavor
    schema: str
    applied: tuple[str, ...]
    already: tuple[str, ...]
    partitions_created: int
    ungranted: tuple[str, ...] = ()
    """Tables deploy/grants.yaml does not name: no service role may touch them."""


def discover_steps(flavor: Flavor, source: Traversable | None = None) -> list[Step]:
    """Migration steps for ``flavor`` in version order, from the files of ``source`` (default:
    the ``deploy.migrations`` package).

    Raises MigrationError when a version has files of two names, or a flavor file without the
    other flavor's.
    """
    by_version: dict[int, dict[Flavor | None, tuple[str, str]]] = {}
    for entry in (source or resources.files("deploy.migrations")).iterdir():
        match = _FILE.match(entry.name)
        if match is None:
            continue
        files = by_version.setdefault(int(match["version"]), {})
        file_flavor = Flavor(match["flavor"]) if match["flavor"] else None
        if file_flavor in files:
            raise MigrationError(entry.name, f"two files for version {match['version']}")
        files[file_flavor] = (match["name"], entry.read_text("utf-8"))
    return [_step(version, by_version[version], flavor) for version in sorted(by_version)]


def _step(version: int, files: dict[Flavor | None, tuple[str, str]], flavor: Flavor) -> Step:
    """One version's step for ``flavor``: its flavor file (if the step has flavors), then its
    shared file (if any), as one text."""
    names = sorted({name for name, _ in files.values()})
    label = f"{version:03d}_{names[0]}"
    if len(names) > 1:
        raise MigrationError(label, f"files of two names for version {version:03d}: {names}")
    flavored = {f for f in files if f is not None}
    if flavored and flavored != set(Flavor):
        missing = sorted(f.value for f in set(Flavor) - flavored)
        raise MigrationError(label, f"has no .{missing[0]}.sql beside its other flavor")
    parts = [files[part][1] for part in (flavor, None) if part in files]
    return Step(version, names[0], flavor if flavored else None, "".join(parts))


def detect_flavor(conn: psycopg.Connection[Any]) -> Flavor:
    """TimescaleDB when the server can run it (installed and preloaded), else plain."""
    return Flavor.TIMESCALEDB if timescaledb.probe(conn).usable else Flavor.PLAIN


def recorded_flavor(conn: psycopg.Connection[Any]) -> Flavor | None:
    """The flavor the current schema was migrated under; None for a fresh schema.

    Raises MigrationError when ``schema_migrations`` already mixes flavors.
    """
    table = conn.execute(
        "SELECT to_regclass(format('%I.schema_migrations', current_schema()))::text"
    ).fetchone()
    if table is None or table[0] is None:  # only this schema's table: not one further on the path
        return None
    rows = conn.execute(
        sql.SQL("SELECT DISTINCT flavor FROM {}.schema_migrations").format(
            sql.Identifier(_current_schema(conn))
        )
    ).fetchall()
    found = {str(row[0]) for row in rows}
    if len(found) > 1:
        raise MigrationError("000", f"schema_migrations mixes flavors {sorted(found)}")
    return Flavor(found.pop()) if found else None


def _current_schema(conn: psycopg.Connection[Any]) -> str:
    current = conn.execute("SELECT current_schema()").fetchone()
    if current is None or current[0] is None:
        raise MigrationError("000", "no current schema: check search_path")
    return str(current[0])


def choose_flavor(conn: psycopg.Connection[Any], asked: Flavor | None) -> Flavor:
    """Decide the flavor of the current schema once, before any step, and check it can work.

    Raises MigrationError when ``asked`` differs from the recorded flavor, or when the
    TimescaleDB flavor is chosen but the server cannot run it (not installed, not preloaded,
    extension not creatable or not on ``search_path``). Creates the extension (in ``public``)
    when the TimescaleDB flavor is chosen and the database lacks it.
    """
    recorded = recorded_flavor(conn)
    if recorded is not None and asked is not None and asked is not recorded:
        raise MigrationError("000", f"schema migrated as {recorded}, this run asks for {asked}")
    chosen = recorded or asked or detect_flavor(conn)
    if chosen is Flavor.TIMESCALEDB:
        try:
            timescaledb.ensure_extension(conn)
        except timescaledb.TimescaleUnusable as exc:
            raise MigrationError("000", f"TimescaleDB flavor cannot run: {exc.reason}") from exc
    return chosen


def migrate(
    conn: psycopg.Connection[Any],
    flavor: Flavor | None = None,
    policies: Policies | None = None,
) -> MigrationReport:
    """Apply pending steps in one transaction per step, under an advisory lock per schema.

    The flavor is decided first (``choose_flavor``); on TimescaleDB ``policies`` (default
    ``Policies()``) are applied after the steps. Call on an autocommit connection. Blocks
    while another migrator holds the lock. Raises MigrationError when the flavor cannot be
    used or a step fails (that step is rolled back; earlier ones stay applied).
    """
    schema = _current_schema(conn)
    chosen = choose_flavor(conn, flavor)
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY, name text NOT NULL, flavor text NOT NULL,
                   checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""
        )
    applied: list[str] = []
    already: list[str] = []
    for step in discover_steps(chosen):
        label = f"{step.version:03d}_{step.name}"
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
            row = conn.execute(
                "SELECT flavor FROM schema_migrations WHERE version = %s", (step.version,)
            ).fetchone()
            if row is not None:
                if row[0] != chosen.value:
                    raise MigrationError(label, f"applied as {row[0]}, this run is {chosen}")
                already.append(label)
                continue
            try:
                conn.execute(step.text.encode())
            except psycopg.Error as exc:
                raise MigrationError(label, str(exc).strip()) from exc
            conn.execute(
                "INSERT INTO schema_migrations (version, name, flavor, checksum)"
                " VALUES (%s, %s, %s, %s)",
                (step.version, step.name, chosen.value, step.checksum),
            )
            applied.append(label)
    if chosen is Flavor.TIMESCALEDB:
        timescaledb.apply_policies(conn, policies or Policies())
    with conn.transaction():
        row = conn.execute(
            "SELECT gw_ensure_measurement_partitions(now() - interval '13 months',"
            " now() + interval '3 months')"
        ).fetchone()
    created = int(row[0]) if row else 0
    ungranted = apply_grants(conn)  # after every run: grants.yaml is the whole truth
    return MigrationReport(
        chosen, schema, tuple(applied), tuple(already), created, tuple(ungranted)
    )
