"""``greenwatch archive ...``: the raw record beyond Kafka's retention (issue 13, item 1).

``archive raw`` copies the raw topics to day files with a SHA-256 manifest, resumably
(``deploy.raw_archive``, as the ``archiver`` principal); ``archive verify`` checks an archive
directory; ``archive retention`` shows (and with ``--apply`` sets, as the admin) the raw
topics' retention (``runtime.raw_retention``). docs/operations-archive.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from kafka.errors import KafkaError

from deploy.archive_manifest import ArchiveError, manifest_digest, verify
from deploy.raw_archive import archive_raw
from runtime.kafka_access import Principal, kafka_access
from runtime.raw_retention import (
    RAW_TOPICS,
    apply_raw_retention,
    describe_days,
    raw_retention,
    retention_ms,
)
from runtime.settings import Settings
from schemas.topics import Topic, topic_name

archive_app = typer.Typer(
    help="The raw record beyond Kafka's retention: archive the raw topics to day files with "
    "a SHA-256 manifest, verify an archive, show or set the raw topics' retention.",
    no_args_is_help=True,
)

TOPIC_CHOICES = {"hj212": (Topic.RAW_HJ212,), "energy": (Topic.RAW_ENERGY,), "all": RAW_TOPICS}


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    if not isinstance(settings, Settings):  # called without the root callback (tests)
        settings = Settings()
        ctx.obj = settings
    return settings


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@archive_app.command("raw")
def raw_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Archive directory (made if missing).")],
    topic: Annotated[str, typer.Option(help="Which raw topic: hj212, energy or all.")] = "all",
    prefix: Annotated[
        str | None, typer.Option(help="Topic prefix (default: GREENWATCH_TOPIC_PREFIX).")
    ] = None,
    max_records: Annotated[int, typer.Option(min=1, help="Records per file at most.")] = 100_000,
) -> None:
    """Copy the raw topics' records (value and key bytes, headers, partition, offset,
    timestamp) to gzip JSON-lines files per topic, China day and partition under OUT, with
    OUT/manifest.json (SHA-256 of each file). Resumes from the manifest's last archived
    offsets; records deleted by retention before they were archived are reported as a gap.
    Reads as the `archiver` Kafka principal (the raw topics only). Prints the manifest's
    SHA-256: keep it where the archive's custodian cannot write. Exit 1 when Kafka cannot be
    read, 2 for a bad option or an unreadable manifest."""
    settings = _settings(ctx)
    chosen = TOPIC_CHOICES.get(topic)
    if chosen is None:
        raise _fail(f"--topic {topic!r}: expected one of {', '.join(TOPIC_CHOICES)}", 2)
    names = [topic_name(prefix if prefix is not None else settings.topic_prefix, t) for t in chosen]
    try:
        run = archive_raw(
            kafka_access(settings, Principal.ARCHIVER), names, out, max_records=max_records
        )
    except ArchiveError as error:
        raise _fail(str(error), 2) from None
    except KafkaError as error:
        raise _fail(f"Kafka: {error}", 1) from None
    for gap in run.gaps:
        typer.echo(
            f"warning: {gap['topic']}[{gap['partition']}] offsets {gap['from']}..{gap['to']} "
            "were deleted by retention before they were archived",
            err=True,
        )
    typer.echo(f"archived {run.records} records in {run.files} files to {out}")
    typer.echo(f"manifest sha256 {run.manifest_sha256}")


@archive_app.command("verify")
def verify_command(
    directory: Annotated[Path, typer.Argument(help="Archive directory (with manifest.json).")],
) -> None:
    """Recompute the SHA-256 and size of every file the manifest lists; name each file that
    is changed, missing or not listed. Exit 0 when all match, 2 otherwise."""
    try:
        manifest, problems = verify(directory)
    except ArchiveError as error:
        raise _fail(str(error), 2) from None
    for problem in problems:
        typer.echo(f"error: {problem.path}: {problem.reason}", err=True)
    if problems:
        raise typer.Exit(2)
    records = sum(f.records for f in manifest.files)
    typer.echo(f"ok: {len(manifest.files)} files, {records} records")
    typer.echo(f"manifest sha256 {manifest_digest(directory)}")
    for gap in manifest.gaps:
        typer.echo(
            f"gap: {gap['topic']}[{gap['partition']}] offsets {gap['from']}..{gap['to']} "
            "not archived (deleted by retention first)"
        )


@archive_app.command("retention")
def retention_command(
    ctx: typer.Context,
    apply: Annotated[
        bool, typer.Option("--apply", help="Set GREENWATCH_RAW_TOPIC_RETENTION_DAYS first.")
    ] = False,
    prefix: Annotated[
        str | None, typer.Option(help="Topic prefix (default: GREENWATCH_TOPIC_PREFIX).")
    ] = None,
) -> None:
    """Show the raw topics' retention on the broker beside the setting
    (GREENWATCH_RAW_TOPIC_RETENTION_DAYS); --apply sets it on the topics that exist. As the
    admin principal. Exit 1 when Kafka cannot be asked."""
    settings = _settings(ctx)
    chosen = prefix if prefix is not None else settings.topic_prefix
    access = kafka_access(settings, Principal.ADMIN)
    days = settings.raw_topic_retention_days
    try:
        if apply:
            current = apply_raw_retention(access, chosen, days)
        else:
            current = raw_retention(access, chosen)
    except KafkaError as error:
        raise _fail(f"Kafka: {error}", 1) from None
    wanted = retention_ms(days)
    typer.echo(f"setting   GREENWATCH_RAW_TOPIC_RETENTION_DAYS={days} ({describe_days(wanted)})")
    if not current:
        typer.echo(f"no raw topics under prefix {chosen!r} yet")
    for name, ms in sorted(current.items()):
        mark = "" if ms == wanted else "  (differs from the setting: --apply)"
        typer.echo(f"{name:30} retention.ms={ms} ({describe_days(ms)}){mark}")
