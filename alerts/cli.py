"""``greenwatch alerts``: the alert service and the people's commands around it.

Reads ``Settings`` from ``ctx.obj`` (the CLI root); the registry comes from ``--registry``,
else ``GREENWATCH_REGISTRY_FILE``, else the newest version loaded into the database; ``alerts
run`` without a file follows the registry topic instead (``alerts.registry_source``). Times
without a zone are China time (UTC+8).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from pydantic_core import to_jsonable_python

from alerts import admin
from alerts.errors import AlertsError
from alerts.model import AlertRecord, MaintenanceWindow, OrderAction
from alerts.registry_source import registry_for
from alerts.routing import CHINA_TIME, Audience, QuietHours
from alerts.service_cli import connect, notify_command, run_command, settings_of
from runtime.settings import Settings
from schemas.alert import AlertLevel
from schemas.registry import Registry, RegistryError

alerts_app = typer.Typer(
    help="Alerts: the enforcement ladder's state machine, notifications and regulator actions.",
    no_args_is_help=True,
)

RegistryOption = Annotated[
    Path | None, typer.Option("--registry", help="Registry YAML (default: settings, then DB).")
]
ByOption = Annotated[str, typer.Option("--by", help="Who acts (recorded as the actor).")]
OutletOption = Annotated[str | None, typer.Option("--outlet", help="Only this outlet.")]

alerts_app.command("run")(run_command)
alerts_app.command("notify")(notify_command)


class Level(StrEnum):
    DATA_QUALITY = "data_quality"
    WARNING = "warning"
    EXCEEDANCE = "exceedance"
    RESTRICT_PRODUCTION = "restrict_production"
    SUSPEND_FOR_RECTIFICATION = "suspend_for_rectification"

    @property
    def level(self) -> AlertLevel:
        return AlertLevel[self.name]


def _now() -> datetime:
    return datetime.now(UTC)


def _registry(settings: Settings, conn: psycopg.Connection[Any], path: Path | None) -> Registry:
    try:
        return registry_for(path or settings.registry_file, conn)
    except RegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _fail(exc: AlertsError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def parse_time(text: str) -> datetime:
    """ISO 8601; a time without a zone is China time (UTC+8)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TIME)


@alerts_app.command("ack")
def ack_command(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(help="Alert id, as `alerts list` shows it.")],
    by: ByOption,
    note: Annotated[str, typer.Option(help="Why / what is being done.")] = "",
    registry_file: RegistryOption = None,
) -> None:
    """Acknowledge an open alert: repeats stop until it escalates."""
    settings = settings_of(ctx)
    with connect(settings) as conn:
        registry = _registry(settings, conn, registry_file)
        try:
            record = admin.acknowledge(conn, registry, alert_id, by, note, _now())
        except AlertsError as exc:
            raise _fail(exc) from exc
    typer.echo(f"acknowledged {record.alert_id} ({record.state}) by {by}")


def _order(
    ctx: typer.Context,
    action: OrderAction,
    enterprise_id: str,
    outlet: str | None,
    by: str,
    reason: str,
    effective_from: str | None,
    registry_file: Path | None,
) -> None:
    settings = settings_of(ctx)
    now = _now()
    start = parse_time(effective_from) if effective_from else now
    with connect(settings) as conn:
        registry = _registry(settings, conn, registry_file)
        order = admin.new_order(enterprise_id, outlet, action, by, reason, start, now)
        try:
            stored = admin.issue_order(conn, registry, order, now)
        except AlertsError as exc:
            raise _fail(exc) from exc
    typer.echo(
        f"order {stored.order_id}: {action.value} {enterprise_id}"
        f"{'/' + outlet if outlet else ''} from {start.isoformat()} by {by}"
    )


@alerts_app.command("order-restrict")
def order_restrict_command(
    ctx: typer.Context,
    enterprise_id: Annotated[str, typer.Argument(help="Enterprise id.")],
    by: ByOption,
    outlet: OutletOption = None,
    reason: Annotated[str, typer.Option(help="Grounds of the decision.")] = "",
    effective_from: Annotated[
        str | None, typer.Option(help="In force from (ISO; default now).")
    ] = None,
    registry_file: RegistryOption = None,
) -> None:
    """Record a restriction order (限制生产, Order No. 30 Art. 5); exceedance afterwards
    escalates to a suspension recommendation (Art. 6(4))."""
    _order(
        ctx, OrderAction.RESTRICT, enterprise_id, outlet, by, reason, effective_from, registry_file
    )


@alerts_app.command("order-suspend")
def order_suspend_command(
    ctx: typer.Context,
    enterprise_id: Annotated[str, typer.Argument(help="Enterprise id.")],
    by: ByOption,
    outlet: OutletOption = None,
    reason: Annotated[str, typer.Option(help="Grounds of the decision.")] = "",
    effective_from: Annotated[
        str | None, typer.Option(help="In force from (ISO; default now).")
    ] = None,
    registry_file: RegistryOption = None,
) -> None:
    """Record a suspension order (停产整治, Order No. 30 Art. 6)."""
    _order(
        ctx, OrderAction.SUSPEND, enterprise_id, outlet, by, reason, effective_from, registry_file
    )


@alerts_app.command("lift")
def lift_command(
    ctx: typer.Context,
    enterprise_id: Annotated[str, typer.Argument(help="Enterprise id.")],
    by: ByOption,
    outlet: OutletOption = None,
    registry_file: RegistryOption = None,
) -> None:
    """Lift the orders in force for the enterprise (or that outlet)."""
    settings = settings_of(ctx)
    with connect(settings) as conn:
        registry = _registry(settings, conn, registry_file)
        try:
            lifted = admin.lift_orders(conn, registry, enterprise_id, outlet, by, _now())
        except AlertsError as exc:
            raise _fail(exc) from exc
    for order in lifted:
        typer.echo(f"lifted order {order.order_id} ({order.action.value}) by {by}")


def _alert_json(record: AlertRecord) -> dict[str, Any]:
    return {
        **record.to_alert().model_dump(mode="json"),
        "episode": record.episode,
        "basis": record.basis,
        "level_name": Level[record.level.name].value,
    }


def _json_line(row: dict[str, Any]) -> str:
    """One JSON line of a database row, times in ISO 8601 as ``alerts list --json`` writes."""
    return json.dumps(to_jsonable_python(row), ensure_ascii=False)


@alerts_app.command("list")
def list_command(
    ctx: typer.Context,
    enterprise: Annotated[str | None, typer.Option(help="Only this enterprise.")] = None,
    state: Annotated[str | None, typer.Option(help="pending|firing|escalated|resolved")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """List alerts (newest first)."""
    with connect(settings_of(ctx)) as conn:
        records = admin.list_alerts(conn, enterprise, state)
    for record in records:
        if as_json:
            typer.echo(json.dumps(_alert_json(record), ensure_ascii=False))
        else:
            typer.echo(
                f"{record.alert_id}  {record.state.value:<9} {Level[record.level.name].value:<25}"
                f" #{record.episode} {record.basis}"
                + (f"  acked by {record.acknowledged_by}" if record.acknowledged_by else "")
            )


@alerts_app.command("history")
def history_command(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(help="Alert id.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """An alert's append-only event log (what, when, who, evidence)."""
    with connect(settings_of(ctx)) as conn:
        rows = admin.alert_history(conn, alert_id)
    for row in rows:
        if as_json:
            typer.echo(_json_line(row))
        else:
            typer.echo(
                f"{row['at'].isoformat()} #{row['episode']} {row['kind']:<14} by {row['actor']}"
                f" level {row['level']} {row['state']}"
            )


@alerts_app.command("deliveries")
def deliveries_command(
    ctx: typer.Context,
    enterprise: Annotated[str | None, typer.Option(help="Only this enterprise.")] = None,
    limit: Annotated[int, typer.Option(help="Most recent N notices.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Recent notices with their delivery status (the delivery log)."""
    with connect(settings_of(ctx)) as conn:
        rows = admin.delivery_log(conn, enterprise, limit)
    for row in rows:
        if as_json:
            typer.echo(_json_line(row))
        else:
            typer.echo(
                f"{row['outbox_id']:>6} {row['status']:<8} x{row['attempts']}"
                f" {row['enterprise_id']} {row['kind']:<9} {row['title']}"
            )


@alerts_app.command("subscribe")
def subscribe_command(
    ctx: typer.Context,
    enterprise_id: Annotated[str, typer.Argument(help="Enterprise id ('*' for a regulator).")],
    channel: Annotated[str, typer.Option(help="Apprise URL (mailto://, json://, dingtalk://…).")],
    level: Annotated[Level, typer.Option(help="Lowest level to receive.")] = Level.DATA_QUALITY,
    audience: Annotated[Audience, typer.Option(help="enterprise or regulator.")] = (
        Audience.ENTERPRISE
    ),
    quiet: Annotated[
        str | None, typer.Option(help="Quiet hours HH:MM-HH:MM, China time (below exceedance).")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who subscribes.")] = "cli",
) -> None:
    """Subscribe a channel to an enterprise's notices."""
    try:
        quiet_hours = QuietHours.parse(quiet) if quiet else None
        with connect(settings_of(ctx)) as conn:
            sub = admin.subscribe(
                conn, enterprise_id, audience, channel, level.level, quiet_hours, by
            )
    except AlertsError as exc:
        raise _fail(exc) from exc
    typer.echo(
        f"subscription {sub.subscription_id}: {audience.value} {enterprise_id} ≥ {level.value}"
    )


@alerts_app.command("maintenance")
def maintenance_command(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Enterprise id or outlet id.")],
    start: Annotated[str, typer.Option("--from", help="Start (ISO; China time if no zone).")],
    end: Annotated[str, typer.Option("--to", help="End (ISO; China time if no zone).")],
    by: Annotated[str, typer.Option("--by", help="Who declares it.")] = "cli",
    reason: Annotated[str, typer.Option(help="What is maintained.")] = "",
    registry_file: RegistryOption = None,
) -> None:
    """Declare a maintenance window: notices are held back meanwhile (still recorded), and
    F/M/C/D/B flags within it are accepted if it is declared before they start."""
    settings = settings_of(ctx)
    with connect(settings) as conn:
        registry = _registry(settings, conn, registry_file)
        try:
            enterprise_id, outlet_id = admin.resolve_target(registry, target)
            window = admin.declare_maintenance(
                conn,
                MaintenanceWindow(
                    0, enterprise_id, outlet_id, parse_time(start), parse_time(end), by, reason
                ),
            )
        except AlertsError as exc:
            raise _fail(exc) from exc
    typer.echo(
        f"maintenance window {window.window_id}: {target}"
        f" {window.starts_at.isoformat()} – {window.ends_at.isoformat()}"
    )
