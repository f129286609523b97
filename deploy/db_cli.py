"""``greenwatch db``: migrations and registry loading against the configured PostgreSQL (and
the registry's publication to its Kafka topic, ``runtime.registry_topic``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploy.migrate import Flavor, MigrationError, migrate
from deploy.timescaledb import Policies
from runtime.db_connect import connect_or_exit
from runtime.registry_store import rekey_stored_registries, store_registry
from runtime.registry_topic import RegistryPublishError, publish_as_publisher, registry_topic
from runtime.settings import DbLogin, Settings, device_key
from schemas.registry import Registry, RegistryError, load_registry

db_app = typer.Typer(help="Database: versioned migrations and registry loading.")


@db_app.command("migrate")
def migrate_command(
    ctx: typer.Context,
    flavor: Annotated[
        Flavor | None,
        typer.Option(
            help="Force plain or timescaledb for a new schema; default: the schema's recorded "
            "flavor, else timescaledb when the server preloads it."
        ),
    ] = None,
) -> None:
    """Apply pending SQL migrations (idempotent: a second run applies nothing).

    The schema's flavor is decided once (recorded, --flavor, else TimescaleDB when the server
    preloads it); on TimescaleDB the compression and retention policies follow
    GREENWATCH_COMPRESS_AFTER_DAYS and GREENWATCH_RAW_RETENTION_DAYS.
    """
    settings: Settings = ctx.obj
    with connect_or_exit(settings, DbLogin.OWNER, "db migrate") as conn:
        try:
            report = migrate(conn, flavor, Policies.from_settings(settings))
        except MigrationError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(
        f"schema {report.schema} ({report.flavor}): applied {len(report.applied)}"
        f" {list(report.applied)}, already {len(report.already)},"
        f" partitions created {report.partitions_created}"
    )
    if report.ungranted:
        typer.echo(
            f"warning: no role but the owner may use {', '.join(report.ungranted)}:"
            " add them to deploy/grants.yaml",
            err=True,
        )


@db_app.command("load-registry")
def load_registry_command(
    ctx: typer.Context,
    registry_file: Annotated[Path, typer.Argument(help="Registry YAML file.")],
    publish: Annotated[
        bool,
        typer.Option(
            "--publish/--no-publish",
            help="After storing, publish the snapshot to the compacted topic PREFIX.registry "
            "(gateways, workers and the alert service following it swap it in). "
            "--no-publish: database only.",
        ),
    ] = True,
    publish_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for Kafka (connect, then acknowledge).")
    ] = 30.0,
) -> None:
    """Validate REGISTRY_FILE, store it as a registry version (upsert), then publish it.

    Device password digests are stored and published keyed (HMAC with the device key): a
    file's legacy ``password_sha256`` digests are converted first, never stored as such.

    The database comes first: it is the auditors' record, so no version is ever in force on
    the topic without being stored. If publishing fails the version stays stored, the command
    exits 1 and running it again (idempotent) publishes it.
    """
    settings: Settings = ctx.obj
    try:
        registry = load_registry(registry_file).with_keyed_passwords(device_key(settings))
    except RegistryError as exc:
        typer.echo(f"error: invalid registry: {exc}", err=True)
        raise typer.Exit(2) from exc
    with connect_or_exit(settings, DbLogin.REGISTRY, "db load-registry") as conn:
        store_registry(conn, registry)
    outlets = sum(len(e.outlets) for e in registry.enterprises)
    typer.echo(
        f"registry {registry.version}: {len(registry.enterprises)} enterprises,"
        f" {outlets} outlets stored"
    )
    if publish:
        _publish(settings, registry, publish_timeout)


def _publish(settings: Settings, registry: Registry, timeout_s: float) -> None:
    topic = registry_topic(settings.topic_prefix)
    try:
        record = publish_as_publisher(settings, registry, timeout_s)
    except RegistryPublishError as exc:
        typer.echo(
            f"error: registry {registry.version} is stored in the database but NOT published:"
            f" {exc}. Gateways following {topic.name} keep their current version;"
            " run this command again once Kafka is reachable.",
            err=True,
        )
        raise typer.Exit(1) from exc
    typer.echo(f"registry {registry.version} published to {record.topic} (offset {record.offset})")


@db_app.command("rekey-passwords")
def rekey_passwords_command(ctx: typer.Context) -> None:
    """Migrate stored device password digests to keyed ones (HMAC with the device key).

    Registry versions loaded before keyed digests hold unkeyed sha256(MN:PW) digests, which a
    6-digit PW does not survive. This rewrites them in every stored version, without needing
    the passwords. Then run `greenwatch db load-registry FILE` once to publish the version in
    force with keyed digests (it converts the file's legacy digests the same way).
    """
    settings: Settings = ctx.obj
    key = device_key(settings)
    # the registry loader's role: rekeying rewrites the stored registry versions, nothing else
    with connect_or_exit(settings, DbLogin.REGISTRY, "db rekey-passwords") as conn:
        changed = rekey_stored_registries(conn, key)
    if changed:
        typer.echo(f"rekeyed the device digests of {len(changed)} versions: {', '.join(changed)}")
    else:
        typer.echo("no stored version holds unkeyed device digests")
