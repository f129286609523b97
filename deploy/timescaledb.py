"""TimescaleDB as the database sees it: usable or not, the extension, jobs, policies.

TimescaleDB is usable in a database when the server offers the extension *and* preloads its
library (``shared_preload_libraries``); available but not preloaded, every TimescaleDB call
after ``CREATE EXTENSION`` fails, so that case counts as unusable. The extension is created
once per database, in ``public``, never inside a per-schema migration (a schema that owned it
would take it away from every other schema when dropped).

Errors: ``TimescaleUnusable`` (why the server cannot run the TimescaleDB flavor), raised by
``ensure_extension``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import sql

from greenwatch.settings import Settings

EXTENSION_SCHEMA = "public"
#: One advisory-lock key for creating the extension, so concurrent migrators of different
#: schemas do not race on ``CREATE EXTENSION`` (an arbitrary constant: "ts" + 212).
_EXTENSION_LOCK = 0x7473_0212


class TimescaleUnusable(Exception):
    """The server cannot run the TimescaleDB flavor; ``reason`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TimescaleProbe:
    """What a connection sees: ``available`` = version the server offers (None: not
    installed), ``preloaded`` = in ``shared_preload_libraries``, ``created_in`` = schema the
    extension was created in for this database (None: not created)."""

    available: str | None
    preloaded: bool
    created_in: str | None

    @property
    def usable(self) -> bool:
        return self.available is not None and self.preloaded

    def why_unusable(self) -> str | None:
        """None when usable, else the reason and the remedy, for error messages."""
        if self.available is None:
            return (
                "the server has no timescaledb extension (run `make install`, or install "
                "Timescale's package for this PostgreSQL)"
            )
        if not self.preloaded:
            return (
                f"timescaledb {self.available} is installed but not preloaded: set "
                "shared_preload_libraries = 'timescaledb' and restart the server (the local "
                "stack: `greenwatch stack down && greenwatch stack up`)"
            )
        return None


def probe(conn: psycopg.Connection[Any]) -> TimescaleProbe:
    """Ask the server; never raises for a missing extension (raises ``psycopg.Error`` only
    when the connection fails)."""
    available = conn.execute(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    # shared_preload_libraries is readable by superusers only; the preloaded library's
    # postmaster-context settings are visible to everyone (a placeholder never has that context).
    loaded = conn.execute(
        "SELECT 1 FROM pg_settings"
        " WHERE name = 'timescaledb.max_background_workers' AND context = 'postmaster'"
    ).fetchone()
    created = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'timescaledb'"
    ).fetchone()
    return TimescaleProbe(
        available=str(available[0]) if available else None,
        preloaded=loaded is not None,
        created_in=str(created[0]) if created else None,
    )


def ensure_extension(conn: psycopg.Connection[Any]) -> TimescaleProbe:
    """Create the extension in ``public`` unless this database has it; check it is reachable.

    Runs in its own transaction under an advisory lock (call it outside other transactions).
    Raises ``TimescaleUnusable`` when not installed or not preloaded, when the role may not
    create it, or when the schema it lives in is not on ``search_path``.
    """
    found = probe(conn)
    reason = found.why_unusable()
    if reason is not None:
        raise TimescaleUnusable(reason)
    if found.created_in is None:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_EXTENSION_LOCK,))
                conn.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS timescaledb WITH SCHEMA {}").format(
                        sql.Identifier(EXTENSION_SCHEMA)
                    )
                )
        except psycopg.errors.InsufficientPrivilege as exc:
            raise TimescaleUnusable(
                f"this role may not create the timescaledb extension ({exc}); ask the "
                f"database owner to run CREATE EXTENSION timescaledb WITH SCHEMA "
                f"{EXTENSION_SCHEMA}"
            ) from exc
        found = probe(conn)
    on_path = conn.execute("SELECT %s = ANY(current_schemas(false))", (found.created_in,))
    row = on_path.fetchone()
    if row is None or not row[0]:
        raise TimescaleUnusable(
            f"the timescaledb extension lives in schema {found.created_in}, which is not on "
            "search_path: add it (e.g. search_path=<schema>,public)"
        )
    return found


def _schema_job_ids(conn: psycopg.Connection[Any], schema: str) -> list[int]:
    """Background jobs (policies) of the hypertables and continuous aggregates in ``schema``."""
    rows = conn.execute(
        """SELECT j.id
             FROM _timescaledb_config.bgw_job j
             JOIN _timescaledb_catalog.hypertable h ON h.id = j.hypertable_id
             LEFT JOIN _timescaledb_catalog.continuous_agg c ON c.mat_hypertable_id = h.id
            WHERE h.schema_name = %s OR c.user_view_schema = %s""",
        (schema, schema),
    ).fetchall()
    return [int(row[0]) for row in rows]


def drop_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """``DROP SCHEMA schema CASCADE``, removing its TimescaleDB jobs first.

    A continuous-aggregate refresh or compression job running while its schema is dropped
    deadlocks with the drop, which then fails (``tuple concurrently updated/deleted``). So the
    schema's jobs are deleted, a run of one already under way is ended
    (``pg_terminate_backend`` on the job's worker, which runs as the job's owner) and waited
    for, and only then is the schema dropped. No-op for a missing schema. Call on an
    autocommit connection; blocks up to ``_JOB_STOP_TIMEOUT_S``; raises ``psycopg.Error``.
    """
    if probe(conn).created_in is not None:
        with conn.transaction():
            job_ids = _schema_job_ids(conn, schema)
            for job_id in job_ids:
                conn.execute("SELECT delete_job(%s)", (job_id,))
        _stop_running_jobs(conn, job_ids)
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


_JOB_STOP_TIMEOUT_S = 30.0


def _stop_running_jobs(conn: psycopg.Connection[Any], job_ids: list[int]) -> None:
    """End the background workers running any of ``job_ids`` and wait until they are gone.

    TimescaleDB names a job's worker ``<kind> [<job id>]`` (``application_name``)."""
    if not job_ids:
        return
    names = [f"% [{job_id}]" for job_id in job_ids]
    running = """SELECT pid FROM pg_stat_activity
                  WHERE backend_type <> 'client backend' AND application_name LIKE ANY(%s)"""
    deadline = time.monotonic() + _JOB_STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        pids = [int(row[0]) for row in conn.execute(running, (names,)).fetchall()]
        if not pids:
            return
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.05)


@dataclass(frozen=True, slots=True)
class Policies:
    """Data-lifecycle policies of the TimescaleDB flavor (``db migrate`` applies them).

    ``compress_after``: measurements older than this are compressed. ``raw_retention``:
    chunks of ``measurements`` (what devices sent: real-time, minute, hour and day values)
    older than this are dropped; the computed ``aggregates`` and ``verdicts`` stay. None keeps
    them forever (the default: auditors need the history).
    """

    compress_after: timedelta = timedelta(days=30)
    raw_retention: timedelta | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Policies:
        """``GREENWATCH_COMPRESS_AFTER_DAYS`` / ``GREENWATCH_RAW_RETENTION_DAYS``."""
        days = settings.raw_retention_days
        return cls(
            timedelta(days=settings.compress_after_days),
            timedelta(days=days) if days is not None else None,
        )


def apply_policies(conn: psycopg.Connection[Any], policies: Policies) -> None:
    """Replace the compression and retention policies of the current schema's measurements.

    Idempotent; one transaction. Raises ``psycopg.Error``.
    """
    with conn.transaction():
        conn.execute("SELECT remove_compression_policy('measurements', if_exists => TRUE)")
        conn.execute(
            "SELECT add_compression_policy('measurements', %s::interval)",
            (policies.compress_after,),
        )
        conn.execute("SELECT remove_retention_policy('measurements', if_exists => TRUE)")
        if policies.raw_retention is not None:
            conn.execute(
                "SELECT add_retention_policy('measurements', %s::interval)",
                (policies.raw_retention,),
            )
