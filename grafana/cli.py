"""``greenwatch grafana``: export the dashboards as JSON, publish them by API, check their SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from grafana.check import check_dashboard
from grafana.dashboards import DASHBOARDS, FOLDER_TITLE, FOLDER_UID, export_dashboards
from grafana.macros import QueryContext
from grafana.publish import DEFAULT_TIMEOUT_S, PublishError, connect, publish
from runtime import timescaledb
from runtime.db_connect import connect_or_exit
from runtime.settings import DbLogin, Settings

grafana_app = typer.Typer(
    help="Grafana dashboards as code: export JSON, publish by API, check panel SQL."
)


@grafana_app.command("export")
def export_command(
    directory: Annotated[Path, typer.Argument(help="Directory to write <uid>.json into.")],
) -> None:
    """Write every dashboard's JSON into DIRECTORY (the committed copy is grafana/dashboards)."""
    try:
        paths = export_dashboards(directory)
    except OSError as exc:
        typer.echo(f"error: cannot write {directory}: {exc}", err=True)
        raise typer.Exit(1) from exc
    for path in paths:
        typer.echo(str(path))


@grafana_app.command("publish")
def publish_command(
    url: Annotated[
        str,
        typer.Option(
            envvar="GREENWATCH_GRAFANA_URL",
            help="Grafana base URL, e.g. https://grafana.example.gov.cn/grafana",
        ),
    ],
    token: Annotated[
        str,
        typer.Option(
            envvar="GREENWATCH_GRAFANA_TOKEN",
            help="Service account token (Editor); or env GREENWATCH_GRAFANA_TOKEN.",
            show_default=False,
        ),
    ],
    folder_uid: Annotated[str, typer.Option(help="Folder uid (created if missing).")] = FOLDER_UID,
    folder_title: Annotated[str, typer.Option(help="Title of a new folder.")] = FOLDER_TITLE,
    message: Annotated[str, typer.Option(help="Version message.")] = "greenwatch grafana publish",
    timeout: Annotated[float, typer.Option(help="Per-request timeout, s.")] = DEFAULT_TIMEOUT_S,
) -> None:
    """Create the folder if missing and upsert every dashboard into it (overwrite)."""
    try:
        api = connect(url, token, timeout)
        report = publish(
            api, DASHBOARDS, folder_uid=folder_uid, folder_title=folder_title, message=message
        )
    except PublishError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if report.folder_created:
        typer.echo(f"folder {report.folder_uid} created")
    for item in report.dashboards:
        typer.echo(f"{item.uid}\tversion {item.version}\t{item.url or ''}\t{item.title}")


@grafana_app.command("check")
def check_command(
    ctx: typer.Context,
    hours: Annotated[int, typer.Option(min=1, help="Time range: the last HOURS hours.")] = 24,
) -> None:
    """Run every panel's SQL against the configured database (read-only); exit 1 on errors.

    Macros are expanded as the provisioned datasource does for this database: $__timeGroup as
    time_bucket() when it has TimescaleDB, floor(extract(epoch ...)) otherwise.
    """
    settings: Settings = ctx.obj
    end = datetime.now(UTC)
    failures = 0
    with connect_or_exit(settings, DbLogin.READER, "grafana check") as conn:
        with_timescaledb = timescaledb.probe(conn).created_in is not None
        typer.echo(f"database: {'TimescaleDB' if with_timescaledb else 'plain PostgreSQL'}")
        context = QueryContext(
            start=end - timedelta(hours=hours), end=end, timescaledb=with_timescaledb
        )
        for dashboard in DASHBOARDS:
            for outcome in check_dashboard(conn, dashboard, context):
                status = f"{outcome.rows} rows" if outcome.error is None else "ERROR"
                typer.echo(f"{outcome.dashboard_uid}\t{status}\t{outcome.panel_title}")
                if outcome.error is not None:
                    failures += 1
                    typer.echo(f"  {outcome.error}", err=True)
    if failures:
        raise typer.Exit(1)
