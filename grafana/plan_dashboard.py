"""规划目标进度 (plan progress): the barometer by region, intensity against the target level,
resource indicators, surcharge estimates and the consequences (issue 10, docs/plans.md).

Reads ``plan_progress`` and ``plan_consequences`` (migration 010, written by ``greenwatch plan
progress`` and ``report quarterly``) and the energy quota verdicts' surcharge estimates.
The time range selects the as-of days shown; the latest verdict of each subject and target
in it is the one a table shows.
"""

from __future__ import annotations

from grafana.model import Column, Dashboard, QueryVariable, Table, TimeSeries, ValueText
from grafana.vocabulary import in_variable, sql_list, sql_literal
from schemas.plans import load_plans

UID = "greenwatch-plan"

INTENSITY_INDICATORS = sql_list(
    ["energy_per_value_added", "co2_per_value_added", "water_per_value_added"]
)

VINTAGE = QueryVariable(
    name="vintage",
    label="晴雨表规则 (barometer vintage)",
    sql="SELECT vintage FROM (VALUES "
    + ", ".join(f"({sql_literal(rule.id)})" for rule in reversed(load_plans().barometer_rules))
    + ") AS v (vintage)",
)
"""The vintages of schemas/reference/plan_targets.yaml, newest first (the default)."""
REGION = QueryVariable(
    name="region",
    label="地区 (region)",
    sql="SELECT region_code FROM enterprises UNION SELECT subject_id FROM plan_progress"
    " WHERE subject_kind = 'region' ORDER BY 1",
    multi=True,
    include_all=True,
)

COLOURS = (
    ValueText("red", "红 (red)", "red"),
    ValueText("yellow", "黄 (yellow)", "yellow"),
    ValueText("green", "绿 (green)", "green"),
)

BAROMETER = Table(
    title="晴雨表 (barometer by region)",
    description=(
        "Latest verdict of each region and target in the time range: reduction (or rate) to "
        "date against what the target requires, under the chosen vintage. Regional figures "
        "sum only enterprises above designated size (规模以上); the progress path is an even "
        "annual rate, our assumption, not official."
    ),
    sql=f"""SELECT DISTINCT ON (p.subject_id, p.target_id)
       p.subject_name || ' (' || p.subject_id || ')' AS "地区 (region)",
       p.target_id AS "目标 (target)",
       p.colour AS "晴雨表 (barometer)",
       p.actual AS "进度 (to date)",
       p.required AS "要求 (required)",
       p.reason AS "说明 (reason)",
       p.as_of AS "截至 (as of)"
  FROM plan_progress p
 WHERE p.subject_kind = 'region'
   AND p.vintage = '${{vintage}}'
   AND p.subject_id {in_variable("region")}
   AND $__timeFilter(p.as_of::timestamptz)
 ORDER BY p.subject_id, p.target_id, p.as_of DESC""",
    width=24,
    height=9,
    columns=(
        Column("晴雨表 (barometer)", mappings=COLOURS),
        Column("进度 (to date)", unit="percentunit", decimals=1),
        Column("要求 (required)", unit="percentunit", decimals=1),
    ),
)

INTENSITY_VS_TARGET = TimeSeries(
    title="强度与目标要求水平 (intensity vs the level the target requires)",
    description=(
        "Year-to-date intensity of each region at each as-of day, and the level its target "
        "requires (baseline × (1 − required reduction)), dashed."
    ),
    sql=f"""SELECT p.as_of::timestamptz AS "time",
       p.subject_name || ' ' || p.target_id AS metric,
       (p.evidence->>'intensity')::float8 AS value
  FROM plan_progress p
 WHERE p.subject_kind = 'region' AND p.indicator IN ({INTENSITY_INDICATORS})
   AND p.vintage = '${{vintage}}' AND p.subject_id {in_variable("region")}
   AND p.evidence ? 'intensity' AND $__timeFilter(p.as_of::timestamptz)
UNION ALL
SELECT p.as_of::timestamptz,
       p.subject_name || ' ' || p.target_id || ' 目标要求 (required)',
       (p.evidence->>'baseline')::float8 * (1 - p.required)
  FROM plan_progress p
 WHERE p.subject_kind = 'region' AND p.indicator IN ({INTENSITY_INDICATORS})
   AND p.vintage = '${{vintage}}' AND p.subject_id {in_variable("region")}
   AND p.evidence ? 'baseline' AND $__timeFilter(p.as_of::timestamptz)
 ORDER BY 1, 2""",
    width=24,
    height=9,
)

RESOURCES = Table(
    title="资源综合利用指标 (resource indicators)",
    description=(
        "Solid waste and fly ash comprehensive utilisation rate = utilised ÷ (generated + "
        "utilised from stock); phosphogypsum consumption (消纳 = utilised + treated) over "
        "production, kept apart from its utilisation rate, and its growth year on year."
    ),
    sql=f"""SELECT DISTINCT ON (p.subject_kind, p.subject_id, p.target_id)
       p.subject_name || ' (' || p.subject_id || ')' AS "对象 (subject)",
       p.target_id AS "目标 (target)",
       p.colour AS "晴雨表 (barometer)",
       p.actual AS "比率 (rate)",
       p.required AS "目标值 (target)",
       (p.evidence->>'consumption_growth')::float8 AS "消纳增速 (consumption growth)",
       p.reason AS "说明 (reason)",
       p.as_of AS "截至 (as of)"
  FROM plan_progress p
 WHERE p.indicator NOT IN ({INTENSITY_INDICATORS})
   AND p.colour IS NOT NULL AND p.vintage = '${{vintage}}'
   AND $__timeFilter(p.as_of::timestamptz)
 ORDER BY p.subject_kind, p.subject_id, p.target_id, p.as_of DESC""",
    width=24,
    height=8,
    columns=(
        Column("晴雨表 (barometer)", mappings=COLOURS),
        Column("比率 (rate)", unit="percentunit", decimals=1),
        Column("目标值 (target)", unit="percentunit", decimals=1),
        Column("消纳增速 (consumption growth)", unit="percentunit", decimals=1, null_text="—"),
    ),
)

SURCHARGES = Table(
    title="电价加价估算 (electricity surcharge estimates of quota verdicts)",
    description=(
        "The latest energy quota verdict of each product and window in the range that carries "
        "a surcharge estimate: the punitive price on the window's electricity and the "
        "aluminium tiered rate next year would bring at this consumption "
        "(schemas/reference/electricity_surcharges.yaml)."
    ),
    sql="""SELECT DISTINCT ON (v.outlet_id, v.factor)
       v.outlet_id AS "对象 (subject)",
       v.factor AS "窗口 (window)",
       v.value AS "单耗 (unit consumption)",
       v.limit_value AS "限额 (quota)",
       (v.evidence->'surcharge'->'punitive'->>'rate_yuan_per_kwh')::numeric
           AS "惩罚性加价 元/kWh (punitive)",
       (v.evidence->'surcharge'->'punitive'->>'amount_yuan')::numeric AS "估算金额 元 (amount)",
       (v.evidence->'surcharge'->'tiered_next_year'->>'rate_yuan_per_kwh')::numeric
           AS "次年阶梯加价 元/kWh (tiered next year)",
       v.period_start AS "日期 (day)"
  FROM verdicts v
 WHERE v.rule = 'energy_quota' AND v.evidence ? 'surcharge'
   AND $__timeFilter(v.period_start)
 ORDER BY v.outlet_id, v.factor, v.period_start DESC""",
    width=24,
    height=8,
    columns=(
        Column("估算金额 元 (amount)", decimals=2, null_text="—"),
        Column("惩罚性加价 元/kWh (punitive)", null_text="—"),
        Column("次年阶梯加价 元/kWh (tiered next year)", null_text="—"),
    ),
)

CONSEQUENCES = Table(
    title="规划考核措施 (consequences: 限批缓批, subsidies, credit records)",
    description=(
        "restrict_approvals: a red region, recommended to its regulator; subsidy_loss: an "
        "enterprise red on a target assigned to it; credit_entry: the credit-system list "
        "(greenwatch plan credit-list)."
    ),
    sql="""SELECT c.kind AS "措施 (kind)",
       c.subject_name || ' (' || c.subject_id || ')' AS "对象 (subject)",
       c.basis AS "依据 (basis)",
       c.addressee AS "送达 (addressee)",
       c.reason AS "说明 (reason)",
       c.year AS "年度 (year)",
       c.last_seen AS "最近 (last seen)"
  FROM plan_consequences c
 WHERE $__timeFilter(c.last_seen::timestamptz)
 ORDER BY c.last_seen DESC, c.kind, c.subject_id
 LIMIT 500""",
    width=24,
    height=8,
    columns=(Column("送达 (addressee)", null_text="—"),),
)

PLAN = Dashboard(
    uid=UID,
    title="规划目标进度 (Plan progress)",
    description="Barometer by region, intensity vs target, resource indicators, surcharges.",
    variables=(VINTAGE, REGION),
    panels=(BAROMETER, INTENSITY_VS_TARGET, RESOURCES, SURCHARGES, CONSEQUENCES),
    time_from="now-1y",
)
