"""监管总览 (province overview): where limits were exceeded, how much of the data is valid,
and which loads approach their daily quota. No variables: the whole province at once.

Hourly compliance follows GB 13223-2011 / GB 4915-2013 etc. as judged by the streams
(``streams.domain.evaluate``): every valid hourly mean (HJ 75-2017) must meet its limit.
"""

from __future__ import annotations

from grafana.model import BarChart, CellDisplay, Column, Dashboard, DataLink, Stat, Step, Table
from grafana.queries import (
    DAILY_LOAD_COLUMNS,
    DAILY_VERDICT_COLUMN,
    capture_by_enterprise_sql,
    capture_total_sql,
    daily_load_sql,
)
from grafana.vocabulary import (
    CAPTURE_STEPS,
    EXCEEDING_STATUSES,
    HOURLY_RULE,
    INVALID_STATUS,
    MEETING_STATUSES,
    RATIO_STEPS,
    RULE_TEXTS,
    STATUS_TEXTS,
)

UID = "greenwatch-overview"
OUTLET_DETAIL_URL = (
    '/d/greenwatch-outlet?var-enterprise=${__data.fields["enterprise_id"]}'
    '&var-outlet=${__data.fields["outlet_id"]}&${__url_time_range}'
)

COMPLIANCE_RATE = Stat(
    title="有效小时达标率 (compliance rate of valid hours)",
    description=(
        "Share of valid hourly verdicts (outlet × factor × hour, rule hourly_concentration) "
        "that meet their limit (compliant or warning). Invalid hours (HJ 75-2017: fewer than "
        "45 valid minutes) are not judged and not counted."
    ),
    sql=f"""SELECT count(*) FILTER (WHERE v.status IN ({MEETING_STATUSES}))::float8
           / nullif(count(*), 0) AS "达标率 (compliance rate)"
  FROM verdicts v
 WHERE v.rule = {HOURLY_RULE}
   AND v.status <> {INVALID_STATUS}
   AND $__timeFilter(v.period_start)""",
    width=6,
    height=5,
    unit="percentunit",
    decimals=1,
    minimum=0,
    maximum=1,
    thresholds=(Step(None, "red"), Step(0.95, "yellow"), Step(0.99, "green")),
)

CAPTURE_TOTAL = Stat(
    title="数据有效率 (data capture, province)",
    description=(
        "Valid hourly values ÷ expected hours over every monitored (outlet, factor) pair "
        "with an effective limit, counting complete hours of the time range."
    ),
    sql=capture_total_sql(),
    width=6,
    height=5,
    unit="percentunit",
    decimals=1,
    minimum=0,
    maximum=1,
    thresholds=CAPTURE_STEPS,
)

EXCEEDANCE_HOURS = BarChart(
    title="超标小时数 Top 20 (exceedance hours by enterprise, last 24 h)",
    description=(
        "Outlet-hours with at least one exceedance or severe hourly verdict in the last 24 h, "
        "per enterprise (an hour in which two factors of one outlet exceed counts once)."
    ),
    sql=f"""SELECT e.name AS "企业 (enterprise)",
       count(DISTINCT (v.outlet_id, v.period_start)) AS "超标小时 (exceedance hours)"
  FROM verdicts v
  JOIN enterprises e ON e.enterprise_id = v.enterprise_id
 WHERE v.rule = {HOURLY_RULE}
   AND v.status IN ({EXCEEDING_STATUSES})
   AND $__timeFilter(v.period_start)
 GROUP BY e.enterprise_id, e.name
 ORDER BY 2 DESC, 1
 LIMIT 20""",
    width=12,
    height=10,
    time_from="24h",
    x_field="企业 (enterprise)",
    decimals=0,
)

CAPTURE_BY_ENTERPRISE = Table(
    title="企业数据有效率 (data capture by enterprise)",
    description=(
        "Valid hours ÷ expected hours per enterprise, worst first. Below 75 % red, below "
        "90 % yellow (the capture bands of HJ 75-2017's missing-data substitution)."
    ),
    sql=capture_by_enterprise_sql(),
    width=12,
    height=10,
    columns=(
        Column(
            "数据有效率 (data capture)",
            unit="percentunit",
            decimals=1,
            cell=CellDisplay.GAUGE,
            minimum=0,
            maximum=1,
            thresholds=CAPTURE_STEPS,
        ),
    ),
)

LATEST_EXCEEDANCES = Table(
    title="最新超标判定 (latest exceedance and severe verdicts)",
    description=(
        "The 100 most recent exceedance/severe verdicts of any rule, with the limit, the "
        "standard or permit it comes from and the registry version used, so that each can be "
        "re-derived (greenwatch replay). Click an outlet for its detail."
    ),
    sql=f"""SELECT v.period_start AS "时段 (period start)",
       e.name AS "企业 (enterprise)",
       o.name AS "排口 (outlet)",
       v.factor AS "因子 (factor)",
       v.rule AS "规则 (rule)",
       v.status AS "判定 (status)",
       v.value AS "监测值 (value)",
       v.limit_value AS "限值 (limit)",
       v.ratio AS "倍数 (ratio)",
       v.standard AS "标准 (standard)",
       v.registry_version AS "名录版本 (registry version)",
       v.revision AS "修订 (revision)",
       v.enterprise_id,
       v.outlet_id
  FROM verdicts v
  JOIN outlets o ON o.outlet_id = v.outlet_id
  JOIN enterprises e ON e.enterprise_id = v.enterprise_id
 WHERE v.status IN ({EXCEEDING_STATUSES})
   AND $__timeFilter(v.period_start)
 ORDER BY v.period_start DESC, v.ratio DESC, v.outlet_id, v.factor
 LIMIT 100""",
    width=24,
    height=10,
    decimals=3,
    columns=(
        Column("判定 (status)", mappings=STATUS_TEXTS, cell=CellDisplay.COLOR_BACKGROUND),
        Column("规则 (rule)", mappings=RULE_TEXTS),
        Column("倍数 (ratio)", decimals=2, thresholds=RATIO_STEPS, cell=CellDisplay.COLOR_TEXT),
        Column("修订 (revision)", decimals=0),
        Column("排口 (outlet)", link=DataLink("排口详情 (outlet detail)", OUTLET_DETAIL_URL)),
        Column("enterprise_id", hidden=True),
        Column("outlet_id", hidden=True),
    ),
)

DAILY_LOADS = Table(
    title="日排放量与日配额 (daily load vs daily quota)",
    description=(
        "Per China day (UTC+8): the sum of hourly loads (kg) of each outlet and factor that "
        "has a daily quota in its permit, against that quota (Order No. 30 Art. 5: exceeding "
        "the daily quota may lead to restricted production). Today's row is running; the "
        "daily verdict appears when the day closes."
    ),
    sql=daily_load_sql(),
    width=24,
    height=10,
    decimals=1,
    columns=(
        *DAILY_LOAD_COLUMNS,
        Column("计量小时 (hours with a load)", decimals=0),
        DAILY_VERDICT_COLUMN,
    ),
)

OVERVIEW = Dashboard(
    uid=UID,
    title="监管总览 (Province overview)",
    description="Exceedances, compliance, data capture and daily loads across the province.",
    panels=(
        COMPLIANCE_RATE,
        CAPTURE_TOTAL,
        EXCEEDANCE_HOURS,
        CAPTURE_BY_ENTERPRISE,
        LATEST_EXCEEDANCES,
        DAILY_LOADS,
    ),
)
