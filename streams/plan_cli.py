"""``greenwatch plan``: the plans' barometer from the stored data (registered by the root).

``plan progress --region CODE --as-of DATE`` sums the year to date (whole months over by the
end of DATE) per enterprise from PostgreSQL, rolls it up by GB/T 2260 prefix, judges every
target of the region's plans under the chosen barometer vintage, prints the barometer and
stores the verdicts in ``plan_progress``. Bad input (a malformed code or date, a date in the
future, an unknown vintage, no registry) exits 2 with the reason, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import typer
from kafka.errors import KafkaError

from runtime.db_connect import connect_or_exit
from runtime.kafka_access import Principal, kafka_access
from runtime.registry_store import latest_stored_registry
from runtime.settings import DbLogin, Settings
from schemas.plans import PlanCatalogue, load_plans
from schemas.registry import Registry, RegistryError, load_registry
from streams.domain.periods import china_date
from streams.domain.plan_consequences import consequences, plan_verdicts
from streams.domain.plan_progress import Progress, progress_of_region
from streams.plan_actions import (
    credit_entries,
    publish_verdicts,
    store_consequences,
    store_credit_entries,
    write_csv,
)
from streams.plan_store import (
    figures_between,
    same_months_last_year,
    store_progress,
    year_to_date,
)

plan_app = typer.Typer(help="The plans' targets: progress, barometer, consequences.")

VINTAGES = {"ndrc2020": "NDRC-2020-901", "ndrc2021": "NDRC-2021-629"}
"""CLI names of the barometer vintages of schemas/reference/plan_targets.yaml."""


def fail(command: str, reason: str) -> typer.Exit:
    typer.echo(f"{command}: {reason}", err=True)
    return typer.Exit(2)


def connect(settings: Settings, command: str) -> psycopg.Connection[Any]:
    """As the plan role ``gw_plan`` (it reads the figures and writes only the plan tables);
    exit 2 with one line when PostgreSQL does not answer or refuses the login."""
    return connect_or_exit(settings, DbLogin.PLAN, command)


def registry_of(conn: psycopg.Connection[Any], path: Path | None, command: str) -> Registry:
    try:
        return load_registry(path) if path is not None else latest_stored_registry(conn)
    except RegistryError as exc:
        raise fail(command, str(exc)) from None


def parse_day(text: str, command: str, today: date) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise fail(command, f"--as-of {text!r} is not a date (YYYY-MM-DD)") from None
    if day > today:
        raise fail(command, f"--as-of {day} is in the future (today is {today}, China time)")
    return day


def compute_progress(
    conn: psycopg.Connection[Any],
    registry: Registry,
    catalogue: PlanCatalogue,
    region: str,
    as_of: date,
    vintage: str,
) -> list[Progress]:
    """Judge ``region`` as of ``as_of`` from the stored data and store the verdicts."""
    rule = catalogue.barometer_rule(VINTAGES[vintage])
    figures = figures_between(conn, *year_to_date(as_of))
    previous = figures_between(conn, *same_months_last_year(as_of))
    verdicts = progress_of_region(registry, catalogue, rule, region, as_of, figures, previous)
    store_progress(conn, verdicts, as_of, rule.id, registry.version, catalogue.version)
    store_consequences(conn, consequences(verdicts, registry, as_of), as_of)
    return verdicts


def barometer_lines(
    verdicts: list[Progress], rule_name: str, region: str, day: date, regions_only: bool = False
) -> list[str]:
    """The barometer as text: a header, then each subject and its targets."""
    lines = [
        f"Plan progress of {region} as of {day} (year to date), barometer {rule_name}",
        "  progress path: even annual rate — our assumption, not official (docs/plans.md)",
    ]
    subject = None
    for v in verdicts:
        if regions_only and v.subject_kind != "region":
            continue
        if (v.subject_kind, v.subject_id) != subject:
            subject = (v.subject_kind, v.subject_id)
            lines.append(f"  {v.subject_kind} {v.subject_id} {v.subject_name}")
        lines.append(_describe(v))
    return lines


def _describe(v: Progress) -> str:
    colour = (v.colour.value if v.colour else "—").upper()
    if v.actual is None or v.required is None:
        return f"    {v.target_id:<38} {colour:<6} {v.reason}"
    e = v.evidence
    if "intensity" in e:
        feed = e.get("intensity_with_feedstock")
        with_feed = f" (with feedstock {feed:.4g})" if feed is not None else ""
        figures = (
            f"reduction {v.actual:+.1%} vs required {v.required:.1%}; intensity "
            f"{e['intensity']:.4g}{with_feed} vs {e['baseline']:.4g} ({e['baseline_year']})"
            f" {e['unit']}"
        )
    elif "consumption_t" in e:
        figures = f"consumption/production {v.actual:.2f} (needs > 1)"
    else:
        figures = f"rate {v.actual:.1%} vs target {v.required:.0%}"
    return f"    {v.target_id:<38} {colour:<6} {figures}; {v.reason}"


@plan_app.command("progress")
def progress_command(
    ctx: typer.Context,
    region: str = typer.Option(..., "--region", help="GB/T 2260 code, e.g. 520000 or 520100."),
    as_of: str = typer.Option(..., "--as-of", help="Judge the months over by this day."),
    vintage: str = typer.Option(
        "ndrc2021", "--vintage", help="Barometer rule: ndrc2020 (gap) or ndrc2021 (direction)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per verdict."),
    registry_file: Path | None = typer.Option(
        None, "--registry", help="Registry YAML (default: the database's newest)."
    ),
    publish: bool = typer.Option(
        False,
        "--publish",
        help="Also send the verdicts to PREFIX.verdicts for the alert service (a red region: "
        "限批缓批 recommendation to its regulator; a red enterprise: loss of subsidies).",
    ),
) -> None:
    """Print the barometer of a region, its subregions and enterprises, store the
    ``plan_progress`` verdicts and their consequences (exit 2 on bad input)."""
    command = "plan progress"
    if len(region) != 6 or not region.isdigit():
        raise fail(command, f"--region {region!r} is not a GB/T 2260 code (six digits)")
    if vintage not in VINTAGES:
        raise fail(command, f"--vintage {vintage!r}: choose one of {', '.join(VINTAGES)}")
    day = parse_day(as_of, command, china_date(datetime.now(UTC)))
    catalogue = load_plans()
    with connect(ctx.obj, command) as conn:
        registry = registry_of(conn, registry_file, command)
        verdicts = compute_progress(conn, registry, catalogue, region, day, vintage)
    if not verdicts:
        raise fail(command, f"no plan covers region {region}")
    settings: Settings = ctx.obj
    if publish:
        rule_id = VINTAGES[vintage]
        try:
            sent = publish_verdicts(kafka_access(settings, Principal.PLAN), settings.topic_prefix,
                                    plan_verdicts(verdicts, registry, day, rule_id))  # fmt: skip
        except KafkaError as exc:
            typer.echo(f"{command}: verdicts stored, not sent to the alert service: {exc}",
                       err=True)  # fmt: skip
            raise typer.Exit(1) from None
        typer.echo(f"sent {sent} plan_progress verdicts to {settings.topic_prefix}.verdicts",
                   err=as_json)  # fmt: skip
    if as_json:
        for v in verdicts:
            row = {**asdict(v), "colour": v.colour.value if v.colour else None}
            typer.echo(json.dumps({**row, "as_of": day.isoformat()}, ensure_ascii=False))
        return
    rule = catalogue.barometer_rule(VINTAGES[vintage])
    for line in barometer_lines(verdicts, rule.name, region, day):
        typer.echo(line)
    typer.echo(f"stored {len(verdicts)} plan_progress verdicts ({rule.id}, as of {day})")


@plan_app.command("credit-list")
def credit_list_command(
    ctx: typer.Context,
    year: int = typer.Option(..., "--year", help="Calendar year of the records."),
    out: Path = typer.Option(..., "--out", help="CSV file to write (UTF-8 with BOM)."),
) -> None:
    """Write the credit-system entries of a year (bad emission and energy records: alerts at
    exceedance or above; missed plan targets) as CSV, and store them (exit 2 on bad input)."""
    command = "plan credit-list"
    today = china_date(datetime.now(UTC))
    if not 2000 <= year <= today.year:
        raise fail(command, f"--year {year}: not a year with records (2000..{today.year})")
    if not out.parent.is_dir():
        raise fail(command, f"--out {out}: directory {out.parent} does not exist")
    with connect(ctx.obj, command) as conn:
        rows = credit_entries(conn, year)
        store_credit_entries(conn, rows)
    try:
        write_csv(out, rows)
    except OSError as exc:
        raise fail(command, f"cannot write {out}: {exc}") from None
    typer.echo(f"wrote {len(rows)} credit entries of {year} to {out}")


report_app = typer.Typer(help="Reports for people: the plans' quarterly progress report.")


@report_app.command("quarterly")
def quarterly_command(
    ctx: typer.Context,
    region: str = typer.Option(..., "--region", help="GB/T 2260 code, e.g. 520000."),
    quarter: str = typer.Option(..., "--quarter", help="A quarter that is over, e.g. 2026Q3."),
    out: Path = typer.Option(..., "--out", help="report.pdf or report.html"),
    vintage: str = typer.Option("ndrc2021", "--vintage", help="ndrc2020 or ndrc2021."),
    registry_file: Path | None = typer.Option(
        None, "--registry", help="Registry YAML (default: the database's newest)."
    ),
) -> None:
    """Write the quarterly progress report (targets vs actuals with the barometer per city,
    intensity paths, the worst enterprises, enforcement, data completeness, resource
    indicators) as PDF or HTML; stores the quarter-end plan_progress verdicts (exit 2 on bad
    input)."""
    from streams.plan_report_data import QuarterError, gather, parse_quarter
    from streams.plan_report_render import ReportFontMissing, render_html, render_pdf

    command = "report quarterly"
    if len(region) != 6 or not region.isdigit():
        raise fail(command, f"--region {region!r} is not a GB/T 2260 code (six digits)")
    if vintage not in VINTAGES:
        raise fail(command, f"--vintage {vintage!r}: choose one of {', '.join(VINTAGES)}")
    if out.suffix.lower() not in (".pdf", ".html"):
        raise fail(command, f"--out {out}: give a .pdf or .html file")
    if not out.parent.is_dir():
        raise fail(command, f"--out {out}: directory {out.parent} does not exist")
    try:
        first, last = parse_quarter(quarter, china_date(datetime.now(UTC)))
    except QuarterError as exc:
        raise fail(command, str(exc)) from None
    catalogue = load_plans()
    with connect(ctx.obj, command) as conn:
        registry = registry_of(conn, registry_file, command)
        report = gather(conn, registry, catalogue, region, quarter, first, last, vintage)
    if not report.progress:
        raise fail(command, f"no plan covers region {region}")
    try:
        if out.suffix.lower() == ".pdf":
            render_pdf(report, out)
        else:
            render_html(report, out)
    except ReportFontMissing as exc:
        raise fail(command, str(exc)) from None
    except OSError as exc:
        raise fail(command, f"cannot write {out}: {exc}") from None
    typer.echo(f"wrote the {quarter} report of {region} to {out.resolve()}")
