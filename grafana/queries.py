"""SQL shared by more than one dashboard (each function returns one panel's query text).

Definitions (docs/grafana.md):

- **expected hours** (应有小时): every (outlet, factor) with an effective limit in
  ``outlet_limits`` owes one hourly value per complete hour of the time range (an hour counts
  when it starts at or after ``$__timeFrom()`` and ends at or before ``$__timeTo()``).
- **data capture** (有效数据率): valid hourly aggregates (HJ 75-2017: ≥ 45 valid minutes) of
  those (outlet, factor) pairs in those hours ÷ expected hours.
- **daily load** (日排放量): the sum of the hourly loads of a China calendar day (UTC+8), the
  same definition as the daily aggregate (``streams.domain.daily``), so the running day shows
  too; its daily verdict (rule ``daily_load``) appears once the day has closed.
"""

from __future__ import annotations

from collections.abc import Iterable

from grafana.model import CellDisplay, Column, ValueText
from grafana.vocabulary import (
    CHINA_TIME_ZONE,
    DAILY_LOAD_RULE,
    RATIO_STEPS,
    STATUS_TEXTS,
    sql_literal,
)

_TZ = sql_literal(CHINA_TIME_ZONE)

COMPLETE_HOURS_CTE = """hours AS (
    SELECT h AS period_start
      FROM generate_series(
               date_trunc('hour', $__timeFrom()::timestamptz + interval '1 hour'
                                  - interval '1 microsecond'),
               $__timeTo()::timestamptz - interval '1 hour',
               interval '1 hour') AS h
)"""
"""CTE ``hours``: the start of every complete hour of the time range."""

CAPTURE_CTES = f"""WITH {COMPLETE_HOURS_CTE},
expected AS (
    SELECT o.enterprise_id, count(*) * (SELECT count(*) FROM hours) AS hours
      FROM outlet_limits l
      JOIN outlets o ON o.outlet_id = l.outlet_id
     GROUP BY o.enterprise_id
),
valid AS (
    SELECT o.enterprise_id, count(*) AS hours
      FROM aggregates a
      JOIN outlet_limits l ON l.outlet_id = a.outlet_id AND l.factor = a.factor
      JOIN outlets o ON o.outlet_id = a.outlet_id
     WHERE a.period = 'hour'
       AND a.valid
       AND $__timeFilter(a.period_start)
       AND a.period_start IN (SELECT period_start FROM hours)
     GROUP BY o.enterprise_id
)"""
"""CTEs ``expected`` and ``valid``: expected and valid hours per enterprise."""


def capture_by_enterprise_sql() -> str:
    """Data capture per enterprise, worst first (enterprises without limits last)."""
    return f"""{CAPTURE_CTES}
SELECT e.name AS "企业 (enterprise)",
       coalesce(v.hours, 0) AS "有效小时 (valid hours)",
       coalesce(x.hours, 0) AS "应有小时 (expected hours)",
       coalesce(v.hours, 0)::float8 / nullif(x.hours, 0) AS "数据有效率 (data capture)"
  FROM enterprises e
  LEFT JOIN expected x ON x.enterprise_id = e.enterprise_id
  LEFT JOIN valid v ON v.enterprise_id = e.enterprise_id
 ORDER BY 4 ASC NULLS LAST, 1"""


def capture_total_sql() -> str:
    """Province-wide data capture: one row, one column (NULL when nothing is expected)."""
    return f"""{CAPTURE_CTES}
SELECT coalesce(sum(v.hours), 0)::float8 / nullif(sum(x.hours), 0)
           AS "数据有效率 (data capture)"
  FROM expected x
  LEFT JOIN valid v ON v.enterprise_id = x.enterprise_id"""


def daily_load_sql(filters: Iterable[str] = ()) -> str:
    """Daily loads vs the permit's daily quota (排污许可日配额) per outlet and factor.

    Covers every China day that overlaps the time range (from the midnight, UTC+8, of the day
    of ``$__timeFrom()``), only (outlet, factor) pairs with a daily quota; highest share of
    quota first. ``filters`` are extra ``AND`` conditions on the hourly aggregates ``a``.
    """
    extra = "".join(f"\n       AND {condition}" for condition in filters)
    return f"""WITH days AS (
    SELECT a.outlet_id,
           a.factor,
           (a.period_start AT TIME ZONE {_TZ})::date AS day,
           sum(a.load_kg) AS load_kg,
           count(*) AS hours
      FROM aggregates a
     WHERE a.period = 'hour'
       AND a.load_kg IS NOT NULL
       AND a.period_start >= (date_trunc('day', $__timeFrom()::timestamptz AT TIME ZONE {_TZ})
                              AT TIME ZONE {_TZ})
       AND a.period_start < $__timeTo()::timestamptz{extra}
     GROUP BY 1, 2, 3
)
SELECT d.day AS "日期 (day, UTC+8)",
       e.name AS "企业 (enterprise)",
       o.name AS "排口 (outlet)",
       d.factor AS "因子 (factor)",
       d.load_kg AS "日排放量 (daily load)",
       l.daily_quota_kg AS "日配额 (daily quota)",
       d.load_kg / l.daily_quota_kg AS "配额占比 (share of quota)",
       d.hours AS "计量小时 (hours with a load)",
       v.status AS "日判定 (daily verdict)"
  FROM days d
  JOIN outlet_limits l ON l.outlet_id = d.outlet_id AND l.factor = d.factor
  JOIN outlets o ON o.outlet_id = d.outlet_id
  JOIN enterprises e ON e.enterprise_id = o.enterprise_id
  LEFT JOIN verdicts v
    ON v.outlet_id = d.outlet_id
   AND v.factor = d.factor
   AND v.rule = {DAILY_LOAD_RULE}
   AND v.period_start = (d.day::timestamp AT TIME ZONE {_TZ})
 WHERE l.daily_quota_kg IS NOT NULL
 ORDER BY 7 DESC, 1 DESC, 2, 3, 4"""


def label_case(column: str, texts: Iterable[ValueText], otherwise: str | None = None) -> str:
    """``CASE column WHEN 'code' THEN 'text' … END``: display labels computed in SQL (for
    series names, which Grafana's value mappings do not rename). Unknown codes stay as sent
    unless ``otherwise`` is given."""
    whens = " ".join(f"WHEN {sql_literal(t.value)} THEN {sql_literal(t.text)}" for t in texts)
    fallback = sql_literal(otherwise) if otherwise is not None else column
    return f"CASE {column} {whens} ELSE {fallback} END"


DAILY_LOAD_COLUMNS = (
    Column("日排放量 (daily load)", unit="masskg", decimals=1),
    Column("日配额 (daily quota)", unit="masskg", decimals=1),
    Column(
        "配额占比 (share of quota)",
        unit="percentunit",
        decimals=1,
        cell=CellDisplay.GAUGE,
        minimum=0,
        maximum=1.2,
        thresholds=RATIO_STEPS,
    ),
)
"""Columns of ``daily_load_sql``'s load, quota and share, as every dashboard shows them."""

DAILY_VERDICT_COLUMN = Column(
    "日判定 (daily verdict)", mappings=STATUS_TEXTS, cell=CellDisplay.COLOR_TEXT
)
