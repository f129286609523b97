"""``greenwatch db``: migrations and registry loading against the configured PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import psycopg
import typer

from deploy.migrate import Flavor, MigrationError, migrate
from deploy.registry_store import store_registry
from greenwatch.settings import Settings, database_dsn
from schemas.registry import RegistryError, load_registry

db_app = typer.Typer(help="Database: versioned migrations and registry loading.")


def _connect(settings: Settings) -> psycopg.Connection[tuple[object, ...]]:
    dsn = database_dsn(settings)
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        typer.echo(f"error: cannot connect to PostgreSQL ({exc}).", err=True)
        typer.echo("Is the stack up? Run: greenwatch stack up", err=True)
        raise typer.Exit(2) from exc


@db_app.command("migrate")
def migrate_command(
    ctx: typer.Context,
    flavor: Annotated[
        Flavor | None,
        typer.Option(help="Force plain or timescaledb; default: detect the extension."),
    ] = None,
) -> None:
    """Apply pending SQL migrations (idempotent: a second run applies nothing)."""
    settings: Settings = ctx.obj
    with _connect(settings) as conn:
        try:
            report = migrate(conn, flavor)
        except MigrationError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(
        f"schema {report.schema} ({report.flavor}): applied {len(report.applied)}"
        f" {list(report.applied)}, already {len(report.already)},"
        f" partitions created {report.partitions_created}"
    )


@db_app.command("load-registry")
def load_registry_command(
    ctx: typer.Context,
    registry_file: Annotated[Path, typer.Argument(help="Registry YAML file.")],
) -> None:
    """Validate REGISTRY_FILE and store it as a registry version (upsert)."""
    settings: Settings = ctx.obj
    try:
        registry = load_registry(registry_file)
    except RegistryError as exc:
        typer.echo(f"error: invalid registry: {exc}", err=True)
        raise typer.Exit(2) from exc
    with _connect(settings) as conn:
        store_registry(conn, registry)
    outlets = sum(len(e.outlets) for e in registry.enterprises)
    typer.echo(
        f"registry {registry.version}: {len(registry.enterprises)} enterprises,"
        f" {outlets} outlets stored"
    )
