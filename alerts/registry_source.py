"""Which registry the alert commands use: a YAML file if given, else the newest version loaded
into the database (``greenwatch db load-registry``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from schemas.registry import Registry, RegistryError, load_registry, parse_registry


def latest_stored_registry(conn: psycopg.Connection[Any]) -> Registry:
    """The most recently loaded registry version; raises RegistryError when there is none."""
    row = conn.execute(
        "SELECT version, document FROM registry_versions ORDER BY loaded_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        raise RegistryError("database", "no registry loaded (greenwatch db load-registry FILE)")
    document = dict(row[1])
    document.pop("standards_version", None)
    return parse_registry(document, f"database:{row[0]}")


def registry_for(file: Path | None, conn: psycopg.Connection[Any]) -> Registry:
    """``file`` if given, else the database's latest; raises RegistryError."""
    return load_registry(file) if file is not None else latest_stored_registry(conn)
