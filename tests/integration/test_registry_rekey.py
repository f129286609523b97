"""`greenwatch db rekey-passwords`: registry versions stored with unkeyed device digests are
migrated in the database, without the passwords, and the gateway's check still holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from typer.testing import CliRunner

try:
    from services import record_writers, writers
except ImportError:  # pragma: no cover
    from tests.services import record_writers, writers

from deploy.migrate import migrate
from greenwatch.cli import app
from runtime.registry_store import store_registry
from runtime.settings import Settings, device_key
from schemas.registry import load_registry, parse_registry

EXAMPLE = Path(__file__).parents[2] / "schemas" / "examples" / "demo-province.yaml"


def test_stored_unkeyed_digests_are_rekeyed_in_place(
    services: Any, pg_schema: Any, tmp_path: Path
) -> None:
    settings = Settings(database_url=pg_schema.dsn, state_dir=tmp_path)
    if services.origin == "local":  # as it runs by default: the registry loader's role
        settings = Settings(
            state_dir=services.settings.state_dir,
            postgres_port=services.settings.postgres_port,
            database_schema=pg_schema.name,
        )
    legacy = load_registry(EXAMPLE)
    with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
        migrate(conn)
        store_registry(conn, legacy)  # as an older load-registry did
        record_writers(conn, ["registry_versions"])
    result = CliRunner().invoke(app, ["db", "rekey-passwords"], obj=settings)
    assert result.exit_code == 0, result.output
    if services.origin == "local":  # not the owner (issue 11): gw_registry may do it
        with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
            assert writers(conn) == [("gw_registry", "registry_versions")]
    assert "rekeyed the device digests of 1 versions: demo-province-2026.1" in result.output
    with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
        (document,) = conn.execute("SELECT document FROM registry_versions").fetchone() or ()
    text = str(document)
    devices = [d for e in legacy.enterprises for o in e.outlets for d in o.devices]
    assert all(d.password_sha256 and d.password_sha256 not in text for d in devices)
    document.pop("standards_version")
    stored = parse_registry(document)
    found = stored.device("DEMO-TP01-G1")
    assert found is not None and found.device.password_matches("123456", device_key(settings))
    again = CliRunner().invoke(app, ["db", "rekey-passwords"], obj=settings)
    assert "no stored version holds unkeyed device digests" in again.output
