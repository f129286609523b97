"""能耗 (energy): unit consumption against quotas, CO2, consumption by carrier, completeness.

Reads the energy worker's tables (migration 005), the regional roll-up (migration 011) and
its verdicts (docs/energy.md). Unit
consumption is Σ numerator ÷ Σ denominator over the window (24 h, 30 d, calendar month, year
to date) ending with the day shown; the quota and the status are those of the window's
``energy_quota`` verdict when the window is judged (``policy.energy_quota_windows``).
"""

from __future__ import annotations

from grafana.data_quality import ENTERPRISE
from grafana.model import Column, Dashboard, Step, Table, TimeSeries
from grafana.vocabulary import in_variable

UID = "greenwatch-energy"

UNIT_CONSUMPTION = Table(
    title="单位产品能耗与限额 (unit consumption vs quota)",
    description=(
        "For each enterprise, product and window, the latest day in the time range: "
        "consumption ÷ output over the window (never an average of daily ratios), the "
        "product's quota and the verdict when the window is judged."
    ),
    sql=f"""SELECT DISTINCT ON (i.enterprise_id, i.subject, i.indicator, i.window_name)
       e.name AS "企业 (enterprise)",
       i.subject AS "产品 (product)",
       i.window_name AS "窗口 (window)",
       i.period_start AS "截止日 (day)",
       i.value AS "单耗 (unit consumption)",
       i.indicator AS "单位 (unit)",
       v.limit_value AS "限额 (quota)",
       v.status AS "判定 (status)",
       i.numerator AS "能耗 (numerator)",
       i.denominator AS "产量 t (output)"
  FROM energy_intensities i
  JOIN enterprises e ON e.enterprise_id = i.enterprise_id
  LEFT JOIN verdicts v
    ON v.rule = 'energy_quota'
   AND v.outlet_id = i.enterprise_id || '/' || i.subject
   AND v.factor = i.indicator || '@' || i.window_name
   AND v.period_start = i.period_start
 WHERE i.enterprise_id {in_variable("enterprise")}
   AND $__timeFilter(i.period_start)
 ORDER BY i.enterprise_id, i.subject, i.indicator, i.window_name, i.period_start DESC""",
    width=24,
    height=9,
    columns=(
        Column("单耗 (unit consumption)", decimals=1),
        Column("限额 (quota)", decimals=1, null_text="未判定 (not judged)"),
        Column("判定 (status)", null_text="—"),
        Column("能耗 (numerator)", decimals=0),
        Column("产量 t (output)", decimals=1),
    ),
)

CO2_BY_ENTERPRISE = TimeSeries(
    title="二氧化碳排放 t/日 (CO2 per day)",
    description=(
        "Combustion CO2 of fuels and indirect CO2 of purchased electricity (grid factor of the "
        "year and region, cited in each row's evidence), t per China calendar day. Carriers "
        "without a factor (and feedstock use) are not included."
    ),
    sql=f"""SELECT $__timeGroupAlias(c.period_start, $__interval),
       e.name AS metric,
       sum(c.co2_kg) / 1000.0 AS value
  FROM energy_consumption c
  JOIN enterprises e ON e.enterprise_id = c.enterprise_id
 WHERE c.period = 'day'
   AND c.enterprise_id {in_variable("enterprise")}
   AND $__timeFilter(c.period_start)
 GROUP BY 1, 2
 ORDER BY 1, 2""",
    width=12,
    height=8,
    interval="1d",
    unit="t",
    bars=True,
)

TCE_BY_CARRIER = TimeSeries(
    title="综合能耗 tce/日 按能源品种 (energy per day by carrier)",
    description=(
        "Standard coal equivalent per day and carrier, electricity on the calorific basis "
        "(0.1229 kgce/kWh, GB/T 2589-2020), feedstock included."
    ),
    sql=f"""SELECT $__timeGroupAlias(c.period_start, $__interval),
       c.carrier AS metric,
       sum(c.kgce_calorific) / 1000.0 AS value
  FROM energy_consumption_by_carrier c
 WHERE c.period = 'day'
   AND c.enterprise_id {in_variable("enterprise")}
   AND $__timeFilter(c.period_start)
 GROUP BY 1, 2
 ORDER BY 1, 2""",
    width=12,
    height=8,
    interval="1d",
    unit="tce",
    bars=True,
    stacked=True,
)

INCOMPLETE_DAYS = Table(
    title="数据完整率不足的计量日 (meter-days below the completeness rule)",
    description=(
        "Meter-days with fewer than 90 % of the expected real-time readings (key-energy-user "
        "data-quality rule), and the marks of their readings (rollover, replacement, "
        "backwards, implausible_jump, interpolated)."
    ),
    sql=f"""SELECT c.period_start AS "日期 (day)",
       e.name AS "企业 (enterprise)",
       c.meter_id AS "计量器具 (meter)",
       c.carrier AS "能源品种 (carrier)",
       c.completeness AS "完整率 (completeness)",
       c.readings AS "实收 (readings)",
       c.expected AS "应收 (expected)",
       array_to_string(c.marks, ', ') AS "标记 (marks)"
  FROM energy_consumption c
  JOIN enterprises e ON e.enterprise_id = c.enterprise_id
 WHERE c.period = 'day'
   AND c.completeness < 0.9
   AND c.enterprise_id {in_variable("enterprise")}
   AND $__timeFilter(c.period_start)
 ORDER BY c.period_start DESC, c.meter_id
 LIMIT 500""",
    width=24,
    height=8,
    columns=(
        Column(
            "完整率 (completeness)",
            unit="percentunit",
            decimals=1,
            thresholds=(Step(None, "red"), Step(0.9, "green")),
        ),
    ),
)

REGIONS = Table(
    title="分地区能耗与碳排放 (energy and CO2 by region and month)",
    description=(
        "Enterprises' months rolled up by GB/T 2260 code: province (520000), city (520400), "
        "county. CO2 = combustion + purchased electricity + process CO2 (clinker, anodes, "
        "lime). Intensities are Σ energy or CO2 ÷ Σ value added (10^4 yuan, constant prices) "
        "over the enterprises that reported value added, never an average of their ratios "
        "(view energy_region_monthly, migration 011)."
    ),
    sql="""SELECT r.month AS "月份 (month)",
       r.level AS "层级 (level)",
       r.region AS "行政区划 (region)",
       r.enterprises AS "企业数 (enterprises)",
       r.tce AS "能耗 tce (energy)",
       r.co2_t AS "CO2 t",
       r.process_co2_t AS "其中过程排放 t (process CO2)",
       r.value_added AS "增加值 万元 (value added)",
       r.tce_per_10k_yuan AS "tce/万元",
       r.tco2_per_10k_yuan AS "tCO2/万元"
  FROM energy_region_monthly r
 WHERE r.month >= date_trunc('month', $__timeFrom()::timestamptz AT TIME ZONE 'Asia/Shanghai')
   AND r.month <= ($__timeTo()::timestamptz AT TIME ZONE 'Asia/Shanghai')::date
 ORDER BY r.month DESC, r.level DESC, r.region
 LIMIT 500""",
    width=24,
    height=9,
    columns=(
        Column("能耗 tce (energy)", decimals=1),
        Column("CO2 t", decimals=1),
        Column("其中过程排放 t (process CO2)", decimals=1),
        Column("增加值 万元 (value added)", decimals=0, null_text="未报 (not reported)"),
        Column("tce/万元", decimals=3, null_text="—"),
        Column("tCO2/万元", decimals=3, null_text="—"),
    ),
)

ENERGY = Dashboard(
    uid=UID,
    title="能耗与碳排放 (Energy and CO2)",
    description="Unit consumption against quotas, CO2, energy by carrier, data completeness.",
    variables=(ENTERPRISE,),
    panels=(UNIT_CONSUMPTION, CO2_BY_ENTERPRISE, TCE_BY_CARRIER, INCOMPLETE_DAYS, REGIONS),
    time_from="now-30d",
)
