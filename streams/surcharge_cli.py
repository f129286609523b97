"""``greenwatch energy surcharge``: an enterprise's electricity surcharges of a pricing year,
computed line by line from the stored figures (registered by the composition root).

Figures: the energy stream's year-to-date unit consumption per product (``energy_intensities``,
window ``ytd``, unit kWh/t): its last row of the previous year (the tiered price's basis) and
of the pricing year so far (the punitive price's, and the electricity billed). Rules:
``schemas/reference/electricity_surcharges.yaml`` through ``streams.domain.surcharge_estimate``.
Bad input (unknown enterprise, a year in the future) exits 2 with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import typer

from runtime.db_connect import connect_or_exit
from runtime.settings import DbLogin
from schemas.registry import EnergyQuota
from streams.domain.periods import china_date, day_start_of
from streams.domain.surcharge_estimate import (
    YearFigures,
    packaged_catalogue,
    total,
    year_surcharges,
)
from streams.plan_cli import fail, registry_of

energy_app = typer.Typer(help="Energy: electricity surcharges from the stored figures.")

_YTD = """
SELECT numerator, denominator, value, period_start FROM energy_intensities
 WHERE enterprise_id = %s AND subject = %s AND indicator = %s AND window_name = 'ytd'
   AND period_start >= %s AND period_start < %s
 ORDER BY period_start DESC LIMIT 1
"""


def _ytd(
    conn: psycopg.Connection[Any], enterprise_id: str, quota: EnergyQuota, year: int
) -> tuple[float, float, float, datetime] | None:
    start = day_start_of(datetime(year, 1, 1).date())
    end = day_start_of(datetime(year + 1, 1, 1).date())
    row = conn.execute(_YTD, (enterprise_id, quota.product, quota.unit, start, end)).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3])


@energy_app.command("surcharge")
def surcharge_command(
    ctx: typer.Context,
    enterprise: str = typer.Option(..., "--enterprise", help="Enterprise id of the registry."),
    year: int = typer.Option(..., "--year", help="Pricing year, e.g. 2026."),
    registry_file: Path | None = typer.Option(
        None, "--registry", help="Registry YAML (default: the database's newest)."
    ),
) -> None:
    """Print the tiered (aluminium) and punitive electricity surcharges of ``--year`` line by
    line from the stored figures (exit 2 on bad input)."""
    command = "energy surcharge"
    today = china_date(datetime.now(UTC))
    if not 2000 <= year <= today.year:
        raise fail(command, f"--year {year}: not a pricing year with data (2000..{today.year})")
    catalogue = packaged_catalogue()
    with connect_or_exit(ctx.obj, DbLogin.READER, command) as conn:
        registry = registry_of(conn, registry_file, command)
        found = next((e for e in registry.enterprises if e.id == enterprise), None)
        if found is None:
            raise fail(command, f"no enterprise {enterprise!r} in registry {registry.version}")
        quotas = [q for q in found.energy_quotas if q.unit == "kWh/t"]
        typer.echo(f"Electricity surcharges of {found.id} {found.name}, pricing year {year}")
        typer.echo(f"  rules: {catalogue.version}; figures: energy_intensities (ytd, kWh/t)")
        if not quotas:
            typer.echo("  no product with a kWh/t quota: no tiered or punitive price applies")
        results = []
        for quota in quotas:
            before = _ytd(conn, found.id, quota, year - 1)
            now = _ytd(conn, found.id, quota, year)
            for label, row in ((year - 1, before), (year, now)):
                if row is not None:
                    typer.echo(
                        f"  {quota.product} {label} to {china_date(row[3])}: {row[0]:.0f} kWh ÷"
                        f" {row[1]:g} t = {row[2]:.1f} kWh/t"
                    )
            figures = YearFigures(
                previous_unit=before[2] if before else None,
                unit=now[2] if now else None,
                electricity_kwh=now[0] if now else 0.0,
            )
            found_here = year_surcharges(catalogue, found.region_code, quota, year, figures)
            results += found_here
            for title, surcharge, why in found_here:
                typer.echo(f"  {title}:")
                if surcharge is None:
                    typer.echo(f"    not computed: {why}")
                    continue
                for line in surcharge.lines:
                    typer.echo(f"    {line}")
        typer.echo("  differential price: not computed (the registry holds no policy class)")
        typer.echo(f"total {total(results)} yuan (an estimate on the stored figures)")
