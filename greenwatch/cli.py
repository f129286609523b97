"""The ``greenwatch`` command: the composition root.

It reads settings once (``runtime.settings``) and hands them to the command groups that
each package contributes. Packages never read settings themselves.
"""

from __future__ import annotations

import typer
from pydantic import ValidationError

from alerts.cli import alerts_app
from audit.cli import api_app, audit_app
from deploy.archive_cli import archive_app
from deploy.db_cli import db_app
from deploy.stack_cli import stack_app
from grafana.cli import grafana_app
from greenwatch.demo import demo_command
from greenwatch.help_text import reflow_help
from ingest.cli import gateway_app, simulate_command
from ingest.energy.cli import simulate_energy_command
from ingest.hj212.cli import hj212_app
from runtime.settings import load_settings
from schemas.cli import schemas_app
from streams.cli import energy_worker_command, replay_command, worker_command
from streams.identical_job import identical_command
from streams.plan_cli import plan_app, report_app
from streams.surcharge_cli import energy_app

app = typer.Typer(
    name="greenwatch",
    help="Greenwatch: real-time enforcement of emission and energy provisions "
    "(HJ 212 ingest, Kafka streams, PostgreSQL/TimescaleDB, alerts).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(ctx: typer.Context) -> None:
    """Load settings (environment, prefix GREENWATCH_) once for every command.

    A caller that already holds settings (tests, the demo) passes them as ``obj``.
    """
    if ctx.obj is None:
        try:
            ctx.obj = load_settings()
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                name = ".".join(str(part) for part in error["loc"])
                typer.echo(f"error: setting GREENWATCH_{name.upper()}: {error['msg']}", err=True)
            raise typer.Exit(2) from None


app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
app.add_typer(grafana_app, name="grafana")
app.add_typer(schemas_app, name="schemas")
app.add_typer(hj212_app, name="hj212")
app.add_typer(gateway_app, name="gateway")
app.command("simulate")(simulate_command)
app.add_typer(alerts_app, name="alerts")
app.command("worker")(worker_command)
app.command("energy-worker")(energy_worker_command)
app.command("simulate-energy")(simulate_energy_command)
app.command("replay")(replay_command)
app.command("demo")(demo_command)
app.add_typer(plan_app, name="plan")
app.add_typer(report_app, name="report")
app.add_typer(energy_app, name="energy")
app.add_typer(api_app, name="api")
app.add_typer(audit_app, name="audit")
app.add_typer(archive_app, name="archive")
evasion_app = typer.Typer(
    help="Evasion rules over stored data that need several devices at once.",
    no_args_is_help=True,
)
evasion_app.command("identical")(identical_command)
app.add_typer(evasion_app, name="evasion")
reflow_help(app)
