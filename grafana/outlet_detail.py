"""排口详情 (outlet detail): one outlet's hourly concentrations against their limits, emission
rates, daily loads against the permit's quota, and why hours were invalid.

Variables (from the registry tables loaded by ``greenwatch db load-registry``):
``$enterprise`` (one), ``$outlet`` (one, of that enterprise), ``$factor`` (several or all of
the outlet's factors with an effective limit).
"""

from __future__ import annotations

from grafana.model import (
    BarChart,
    Column,
    Dashboard,
    QueryVariable,
    SeriesStyle,
    Table,
    TimeSeries,
)
from grafana.queries import DAILY_LOAD_COLUMNS, DAILY_VERDICT_COLUMN, daily_load_sql
from grafana.vocabulary import (
    FLAG_TEXTS,
    INVALID_FLAGS,
    MISSING_MINUTES,
    in_variable,
    sql_literal,
)

UID = "greenwatch-outlet"
LIMIT_LABEL = "限值 (limit)"

ENTERPRISE = QueryVariable(
    name="enterprise",
    label="企业 (enterprise)",
    sql="SELECT enterprise_id AS __value, name AS __text FROM enterprises ORDER BY name",
)
OUTLET = QueryVariable(
    name="outlet",
    label="排口 (outlet)",
    sql=f"""SELECT outlet_id AS __value, name || ' (' || outlet_id || ')' AS __text
  FROM outlets
 WHERE enterprise_id {in_variable("enterprise")}
 ORDER BY outlet_id""",
)
FACTOR = QueryVariable(
    name="factor",
    label="因子 (factor)",
    sql=f"""SELECT factor FROM outlet_limits
 WHERE outlet_id {in_variable("outlet")}
 ORDER BY factor""",
    multi=True,
    include_all=True,
)

_SELECTED_HOURS = f"""a.period = 'hour'
   AND a.outlet_id {in_variable("outlet")}
   AND a.factor {in_variable("factor")}
   AND $__timeFilter(a.period_start)"""

CONCENTRATION = TimeSeries(
    title="小时浓度与限值 (hourly O2-corrected concentration vs limit)",
    description=(
        "Valid hourly means (HJ 75-2017) as judged: the O2-corrected value (折算浓度) where "
        "the standard sets a reference O2, else the measured mean; the limit (permit over "
        "standard) as a dashed red line. mg/m³ for gas, mg/L for water."
    ),
    sql=f"""SELECT a.period_start AS "time",
       s.metric,
       s.value
  FROM aggregates a
  JOIN outlet_limits l ON l.outlet_id = a.outlet_id AND l.factor = a.factor
  JOIN outlets o ON o.outlet_id = a.outlet_id
  CROSS JOIN LATERAL (
        VALUES (a.factor || ' 浓度 (concentration, '
                    || CASE o.medium WHEN 'gas' THEN 'mg/m³' ELSE 'mg/L' END || ')',
                CASE WHEN a.o2_reference IS NULL THEN a.mean
                     ELSE coalesce(a.o2_corrected, a.device_o2_corrected, a.mean) END),
               (a.factor || ' {LIMIT_LABEL}', l.limit_value)
  ) AS s(metric, value)
 WHERE {_SELECTED_HOURS}
   AND a.valid
 ORDER BY 1, 2""",
    width=24,
    height=10,
    decimals=2,
    series=(SeriesStyle(f".* {LIMIT_LABEL}$", "red", dashed=True, fill_opacity=0),),
)

EMISSION_RATE = TimeSeries(
    title="排放速率 (emission rate, kg/h)",
    description=(
        "Hourly mean emission rate from the measured (not O2-corrected) concentration and the "
        "dry standard flow (HJ 75-2017): gas C × Qsnd × 1e-6, water C × Q × 3.6e-3."
    ),
    sql=f"""SELECT a.period_start AS "time",
       a.factor AS metric,
       a.emission_rate_kgh AS value
  FROM aggregates a
 WHERE {_SELECTED_HOURS}
   AND a.emission_rate_kgh IS NOT NULL
 ORDER BY 1, 2""",
    width=12,
    height=9,
    unit="suffix: kg/h",
    decimals=2,
)

INVALID_HOURS = BarChart(
    title="无效小时按标记 (invalid hours by flag)",
    description=(
        "Invalid hourly values (fewer than 45 valid minutes, HJ 75-2017) per factor-hour, "
        "under the F/M/C/D/B flag that excluded most of its minutes (ties: alphabetical); "
        "'too few minutes' when no minute was flagged, only missing."
    ),
    sql=f"""SELECT coalesce(f.flag, {sql_literal(MISSING_MINUTES)}) AS "标记 (flag)",
       count(*) AS "无效小时 (invalid hours)"
  FROM aggregates a
  LEFT JOIN LATERAL (
        SELECT c.flag
          FROM jsonb_each_text(a.flag_counts) AS c(flag, minutes)
         WHERE c.flag IN ({INVALID_FLAGS})
           AND c.minutes::int > 0
         ORDER BY c.minutes::int DESC, c.flag
         LIMIT 1
  ) AS f ON true
 WHERE {_SELECTED_HOURS}
   AND NOT a.valid
 GROUP BY 1
 ORDER BY 2 DESC, 1""",
    width=12,
    height=9,
    x_field="标记 (flag)",
    decimals=0,
    columns=(Column("标记 (flag)", mappings=FLAG_TEXTS),),
)

DAILY_LOADS = Table(
    title="日排放量与配额 (daily load vs quota)",
    description=(
        "Sum of the hourly loads per China day (UTC+8) against the permit's daily quota; the "
        "daily verdict appears when the day closes (Order No. 30 Art. 5)."
    ),
    sql=daily_load_sql(
        (f"a.outlet_id {in_variable('outlet')}", f"a.factor {in_variable('factor')}")
    ),
    width=14,
    height=8,
    decimals=1,
    columns=(
        *DAILY_LOAD_COLUMNS,
        DAILY_VERDICT_COLUMN,
    ),
)

LIMITS = Table(
    title="限值与配额 (limits and quotas in force)",
    description=(
        "Effective limits (permit over standard) and the permit's load quotas, from the "
        "registry version currently loaded."
    ),
    sql=f"""SELECT l.factor AS "因子 (factor)",
       l.limit_value AS "{LIMIT_LABEL}",
       l.limit_source AS "来源 (source)",
       l.daily_quota_kg AS "日配额 kg (daily quota)",
       l.annual_quota_kg AS "年配额 kg (annual quota)",
       l.registry_version AS "名录版本 (registry version)"
  FROM outlet_limits l
 WHERE l.outlet_id {in_variable("outlet")}
   AND l.factor {in_variable("factor")}
 ORDER BY l.factor""",
    width=10,
    height=8,
)

OUTLET_DETAIL = Dashboard(
    uid=UID,
    title="排口详情 (Outlet detail)",
    description="One outlet: concentrations vs limits, emission rates, loads vs quota, validity.",
    variables=(ENTERPRISE, OUTLET, FACTOR),
    panels=(CONCENTRATION, EMISSION_RATE, INVALID_HOURS, DAILY_LOADS, LIMITS),
)
