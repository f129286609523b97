"""The demo's plan part (issue 10): the simulated province's monthly statistics for the year so
far go through the energy API like every other figure, and at the end the demo prints the
barometer of the province and its cities and writes the last full quarter's report.

The energy and CO2 reductions need monthly energy for the months that report value added; the
simulated meters cover only the demo's own day or so, so the barometer says so for those
targets (``no energy_kgce figures for the months that report value added``) and colours the
resource indicators (solid waste, fly ash, phosphogypsum) from the statistics just posted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx

from ingest.simulator.energy import Post
from runtime.db_connect import connect_or_exit
from runtime.registry_store import latest_stored_registry
from runtime.settings import DbLogin, Settings
from schemas.plans import load_plans
from streams.domain.periods import china_date
from streams.plan_cli import VINTAGES, barometer_lines, compute_progress
from streams.plan_report_data import gather
from streams.plan_report_render import render_pdf


def post_statistics(api: str, posts: list[Post], say: Callable[[str], None]) -> threading.Thread:
    """Post ``posts`` from a thread, each until acknowledged (the API may still be starting;
    gives up after 60 s); says how many items were accepted."""

    def run() -> None:
        accepted = refused = 0
        deadline = time.monotonic() + 60
        for post in posts:
            while time.monotonic() < deadline:
                try:
                    reply = httpx.post(api + post.path, json=post.body, timeout=30,
                                       headers={"Authorization": f"Bearer {post.key}"})  # fmt: skip
                except httpx.HTTPError:
                    time.sleep(0.5)
                    continue
                if reply.status_code == 202:
                    accepted += int(reply.json()["accepted"])
                    refused += int(reply.json()["refused"])
                break
        say(f"plan: posted monthly statistics of the year so far: {accepted} accepted, "
            f"{refused} refused")  # fmt: skip

    thread = threading.Thread(target=run, name="demo-statistics", daemon=True)
    thread.start()
    return thread


def last_full_quarter(today: date) -> str:
    index = (today.month - 1) // 3
    return f"{today.year - 1}Q4" if index == 0 else f"{today.year}Q{index}"


def plan_summary(
    settings: Settings, workdir: Path, now: datetime, say: Callable[[str], None]
) -> None:
    """Print the barometer of the province and its cities as of the last day of the last full
    month, and write the last full quarter's report (PDF) into ``workdir``."""
    today = china_date(now)
    as_of = date(today.year, today.month, 1) - timedelta(days=1)
    catalogue = load_plans()
    vintage = "ndrc2021"
    quarter = last_full_quarter(today)
    year, number = int(quarter[:4]), int(quarter[-1])
    first = date(year, 3 * number - 2, 1)
    last = (date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)) - timedelta(1)
    # as `plan progress` / `report quarterly` (it stores the plan verdicts): the plan role
    with connect_or_exit(settings, DbLogin.PLAN, "demo plan summary") as conn:
        registry = latest_stored_registry(conn)
        region = registry.region.code
        verdicts = compute_progress(conn, registry, catalogue, region, as_of, vintage)
        rule = catalogue.barometer_rule(VINTAGES[vintage])
        for line in barometer_lines(verdicts, rule.name, region, as_of, regions_only=True):
            say(line)
        report = gather(conn, registry, catalogue, region, quarter, first, last, vintage)
    path = workdir / f"plan-report-{region}-{quarter}.pdf"
    render_pdf(report, path)
    say(f"plan: quarterly report {quarter} written to {path.resolve()}")
