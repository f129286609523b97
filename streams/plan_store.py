"""Plan progress in PostgreSQL: the year-to-date sums it is judged on, and the verdicts.

Read side (``figures_between``): per enterprise, the sums over whole China-time months of
``energy_consumption`` (month rows: kgce on the 等价 basis, its feedstock part, kg CO2) and of
the monthly ``energy_statistics`` (value added, water, solid waste, fly ash, phosphogypsum).
Write side (``store_progress``): upsert ``plan_progress`` on its natural key (subject, target,
as-of date, vintage) in the caller's transaction. Raises psycopg errors unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from streams.domain.periods import day_start_of
from streams.domain.plan_progress import Progress, year_figures


def year_to_date(as_of: date) -> tuple[datetime, datetime]:
    """[1 January, start of the first month not over at the end of ``as_of``) in China time:
    the months whose figures are final by then."""
    end = date.fromordinal(as_of.toordinal() + 1).replace(day=1)
    return day_start_of(date(as_of.year, 1, 1)), day_start_of(end)


def same_months_last_year(as_of: date) -> tuple[datetime, datetime]:
    start, end = year_to_date(as_of)
    return start.replace(year=start.year - 1), end.replace(year=end.year - 1)


def figures_between(
    conn: psycopg.Connection[Any], start: datetime, end: datetime
) -> dict[str, dict[str, float]]:
    """Sums by enterprise id and name over the months starting in [start, end), intensity
    numerators only over months with value added (``plan_progress.year_figures``)."""
    months: dict[str, dict[date, dict[str, float]]] = {}
    rows = conn.execute(
        """SELECT enterprise_id, (period_start AT TIME ZONE 'Asia/Shanghai')::date,
                  sum(kgce_equivalent),
                  coalesce(sum(kgce_equivalent) FILTER (WHERE feedstock), 0),
                  coalesce(sum(co2_kg), 0)
             FROM energy_consumption
            WHERE period = 'month' AND period_start >= %s AND period_start < %s
            GROUP BY 1, 2""",
        (start, end),
    ).fetchall()
    for enterprise_id, month, energy, feedstock, co2 in rows:
        one = months.setdefault(enterprise_id, {}).setdefault(month, {})
        one.update(energy_kgce=energy, feedstock_kgce=feedstock, co2_kg=co2)
    rows = conn.execute(
        """SELECT enterprise_id, (period_start AT TIME ZONE 'Asia/Shanghai')::date, indicator,
                  sum(value)
             FROM energy_statistics
            WHERE stat_type = 'month' AND product = '' AND period_start >= %s
              AND period_start < %s
            GROUP BY 1, 2, 3""",
        (start, end),
    ).fetchall()
    for enterprise_id, month, indicator, total in rows:
        months.setdefault(enterprise_id, {}).setdefault(month, {})[indicator] = total
    return {enterprise: year_figures(by_month) for enterprise, by_month in months.items()}


_UPSERT = """
INSERT INTO plan_progress AS t (subject_kind, subject_id, target_id, as_of, vintage,
    subject_name, region_code, indicator, colour, actual, required, reason, evidence,
    registry_version, plan_version)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (subject_kind, subject_id, target_id, as_of, vintage) DO UPDATE SET
    subject_name = EXCLUDED.subject_name, region_code = EXCLUDED.region_code,
    indicator = EXCLUDED.indicator, colour = EXCLUDED.colour, actual = EXCLUDED.actual,
    required = EXCLUDED.required, reason = EXCLUDED.reason, evidence = EXCLUDED.evidence,
    registry_version = EXCLUDED.registry_version, plan_version = EXCLUDED.plan_version,
    computed_at = now()
"""


def store_progress(
    conn: psycopg.Connection[Any],
    verdicts: Sequence[Progress],
    as_of: date,
    vintage: str,
    registry_version: str,
    plan_version: str,
) -> None:
    """Upsert the verdicts (one transaction)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            _UPSERT,
            [
                (v.subject_kind, v.subject_id, v.target_id, as_of, vintage, v.subject_name,
                 v.region_code, v.indicator, v.colour.value if v.colour else None, v.actual,
                 v.required, v.reason, Jsonb(v.evidence), registry_version, plan_version)
                for v in verdicts
            ],
        )  # fmt: skip
