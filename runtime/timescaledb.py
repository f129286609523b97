"""Whether a database has TimescaleDB, as any service may ask it (read-only): ``probe``.

Creating the extension, its jobs and policies are deployment (``deploy.timescaledb``); the
question "does this database run TimescaleDB" is asked by services too (the dashboards' panel
check expands its macros by it), so it lives below them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg


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
