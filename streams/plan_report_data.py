"""What the quarterly progress report says, gathered from PostgreSQL (Guizhou plan: progress
reported every quarter, in the first ten days of the following month).

``gather`` judges the region as of the quarter's last day (``plan progress``: the verdicts are
stored too), recomputes the year-to-date intensity at each month end of the year so far for the
intensity-path charts, and reads the quarter's enforcement (alert episodes at warning or above
by rule and level, regulator orders issued and lifted) and data completeness (energy meter-days
below the policy's minimum). Everything a reader sees comes from here, so a test can check
the rendered report against it and against the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg

from schemas.plan_registry import contains
from schemas.plans import PlanCatalogue
from schemas.registry import Registry
from streams.domain.periods import day_start_of
from streams.domain.plan_progress import Progress, progress_of_region
from streams.plan_cli import VINTAGES, compute_progress
from streams.plan_store import figures_between, year_to_date


class QuarterError(ValueError):
    """A quarter that is not ``YYYYQn`` or is not over yet."""


def parse_quarter(text: str, today: date) -> tuple[date, date]:
    """First and last day of ``2026Q3``; raises QuarterError (malformed, or not over)."""
    found = re.fullmatch(r"(\d{4})Q([1-4])", text)
    if not found:
        raise QuarterError(f"--quarter {text!r} is not YYYYQn (e.g. 2026Q3)")
    year, number = int(found[1]), int(found[2])
    first = date(year, 3 * number - 2, 1)
    after = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    last = date.fromordinal(after.toordinal() - 1)
    if last >= today:
        raise QuarterError(f"{text} is not over yet (it ends {last}; today is {today})")
    return first, last


def month_ends(year: int, last: date) -> list[date]:
    """The last day of every month of ``year`` up to ``last``'s month."""
    ends = []
    for month in range(1, last.month + 1):
        after = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        ends.append(date.fromordinal(after.toordinal() - 1))
    return ends


@dataclass
class Path:
    """Year-to-date intensity at each month end vs the level the target requires."""

    subject_id: str
    subject_name: str
    target_id: str
    unit: str
    points: list[tuple[date, float]] = field(default_factory=list)
    target_level: float | None = None


@dataclass
class QuarterlyReport:
    region_code: str
    region_name: str
    quarter: str
    first: date
    last: date
    vintage: str
    vintage_name: str
    registry_version: str
    progress: list[Progress]
    paths: list[Path]
    enforcement: list[tuple[str, int, int]]
    orders: list[tuple[str, str, int, int]]
    completeness: list[tuple[str, str, int, int, float]]
    completeness_min: float

    @property
    def regions(self) -> list[Progress]:
        return [p for p in self.progress if p.subject_kind == "region"]

    @property
    def worst(self) -> list[Progress]:
        """Enterprises judged on a reduction, the furthest behind first."""
        judged = [
            p
            for p in self.progress
            if p.subject_kind == "enterprise" and p.actual is not None and p.required is not None
        ]
        return sorted(judged, key=lambda p: (p.actual or 0.0) - (p.required or 0.0))[:10]

    @property
    def resources(self) -> list[Progress]:
        return [p for p in self.progress if p.indicator not in _INTENSITY]


_INTENSITY = {"energy_per_value_added", "co2_per_value_added", "water_per_value_added"}


def _paths(
    conn: psycopg.Connection[Any],
    registry: Registry,
    catalogue: PlanCatalogue,
    rule_id: str,
    region: str,
    last: date,
    regions: list[Progress],
) -> list[Path]:
    wanted = {
        (p.subject_id, p.target_id): Path(
            p.subject_id,
            p.subject_name,
            p.target_id,
            str(p.evidence.get("unit", "")),
            target_level=p.evidence["baseline"] * (1 - p.required)
            if p.required is not None and "baseline" in p.evidence
            else None,
        )
        for p in regions
        if p.indicator in _INTENSITY and p.colour is not None
    }
    rule = catalogue.barometer_rule(rule_id)
    for end in month_ends(last.year, last):
        figures = figures_between(conn, *year_to_date(end))
        for p in progress_of_region(registry, catalogue, rule, region, end, figures, {}):
            path = wanted.get((p.subject_id, p.target_id))
            if path is not None and p.subject_kind == "region" and "intensity" in p.evidence:
                path.points.append((end, float(p.evidence["intensity"])))
    return list(wanted.values())


def _in_region(region: str, registry: Registry) -> list[str]:
    return [e.id for e in registry.enterprises if contains(region, e.region_code)]


def gather(
    conn: psycopg.Connection[Any],
    registry: Registry,
    catalogue: PlanCatalogue,
    region: str,
    quarter: str,
    first: date,
    last: date,
    vintage: str,
) -> QuarterlyReport:
    """Everything the report shows (stores the quarter-end ``plan_progress`` verdicts)."""
    progress = compute_progress(conn, registry, catalogue, region, last, vintage)
    rule = catalogue.barometer_rule(VINTAGES[vintage])
    regions = [p for p in progress if p.subject_kind == "region"]
    start, end = day_start_of(first), day_start_of(date.fromordinal(last.toordinal() + 1))
    members = _in_region(region, registry)
    enforcement = [
        (str(rule_name), int(level), int(count))
        for rule_name, level, count in conn.execute(
            """SELECT ev.rule, max(ev.level), count(DISTINCT (ev.alert_id, ev.episode))
                 FROM alert_events ev JOIN alerts a ON a.alert_id = ev.alert_id
                WHERE ev.at >= %s AND ev.at < %s AND ev.level >= 1
                  AND (a.enterprise_id = ANY(%s) OR a.outlet_id LIKE 'region:%%')
                GROUP BY ev.rule ORDER BY ev.rule""",
            (start, end, members),
        ).fetchall()
    ]
    orders = [
        (str(e), str(action), int(issued), int(lifted))
        for e, action, issued, lifted in conn.execute(
            """SELECT enterprise_id, action,
                      count(*) FILTER (WHERE issued_at >= %s AND issued_at < %s),
                      count(*) FILTER (WHERE lifted_at >= %s AND lifted_at < %s)
                 FROM regulator_orders WHERE enterprise_id = ANY(%s)
                GROUP BY enterprise_id, action ORDER BY enterprise_id, action""",
            (start, end, start, end, members),
        ).fetchall()
        if issued or lifted
    ]
    minimum = registry.policy.energy_completeness_min
    completeness = [
        (str(e), str(name), int(days), int(short), float(mean))
        for e, name, days, short, mean in conn.execute(
            """SELECT c.enterprise_id, coalesce(en.name, c.enterprise_id), count(*),
                      count(*) FILTER (WHERE c.completeness < %s), avg(c.completeness)
                 FROM energy_consumption c
                 LEFT JOIN enterprises en ON en.enterprise_id = c.enterprise_id
                WHERE c.period = 'day' AND c.period_start >= %s AND c.period_start < %s
                  AND c.completeness IS NOT NULL AND c.enterprise_id = ANY(%s)
                GROUP BY c.enterprise_id, en.name ORDER BY c.enterprise_id""",
            (minimum, start, end, members),
        ).fetchall()
    ]
    tracked = {r.code: r.name for r in registry.plan_regions}
    return QuarterlyReport(
        region_code=region,
        region_name=tracked.get(region, registry.region.name if region == registry.region.code
                                else region),
        quarter=quarter,
        first=first,
        last=last,
        vintage=rule.id,
        vintage_name=rule.name,
        registry_version=registry.version,
        progress=progress,
        paths=_paths(conn, registry, catalogue, rule.id, region, last, regions),
        enforcement=enforcement,
        orders=orders,
        completeness=completeness,
        completeness_min=minimum,
    )  # fmt: skip
