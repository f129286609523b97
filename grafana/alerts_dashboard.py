"""告警 (alerts): open alerts on the ladder and what happened to them (tables of migration 004).

The ladder (design.md, domain.md §5): data quality → warning → exceedance → restrict
production (限制生产, MEP Order No. 30 (2014) Art. 5) → suspend for rectification (停产整治,
Art. 6). An alert is open while it is ``firing`` or ``escalated``; ``pending`` ones have not
fired yet. Alerts of data-quality rules have a device as subject and may have no outlet.
"""

from __future__ import annotations

from alerts.ladder import Basis
from grafana.model import (
    CellDisplay,
    Column,
    Dashboard,
    DataLink,
    QueryVariable,
    Stat,
    Step,
    Table,
    ValueText,
)
from grafana.queries import label_case
from grafana.vocabulary import (
    ALERT_EVENT_TEXTS,
    ALERT_STATE_TEXTS,
    LEVEL_TEXTS,
    OPEN_ALERT_STATES,
    in_variable,
)

UID = "greenwatch-alerts"
OUTLET_DETAIL_URL = (
    '/d/greenwatch-outlet?var-enterprise=${__data.fields["enterprise_id"]}'
    '&var-outlet=${__data.fields["outlet_id"]}&${__url_time_range}'
)

BASIS_TEXT: dict[Basis, str] = {
    Basis.DATA_QUALITY: "数据质量 (data quality, HJ 75/76-2017, HJ 212-2017)",
    Basis.LOW_CAPTURE: "数据缺失 (too few minutes reported for a valid hour)",
    Basis.UNDECLARED_FLAG: "未申报标记 (F/M/C/D/B outside a declared window)",
    Basis.REVISED_DOWN: "判定被下调 (verdict softened by re-sent or late data)",
    Basis.WARNING: "接近限值 (at the warning fraction)",
    Basis.EXCEEDANCE: "超标排放 (exceedance, Air Pollution Law Art. 99 / EPL Art. 60)",
    Basis.ART5_SUSTAINED: "持续超标 (sustained exceedance, Order No. 30 Art. 5)",
    Basis.ART5_DAILY_LOAD: "超日配额 (daily quota exceeded, Order No. 30 Art. 5)",
    Basis.ART6_EVASION: "逃避监管 (evading supervision, Order No. 30 Art. 6(1))",
    Basis.ART6_SEVERE: "重金属/持久性有机物 ≥3× (heavy metal/POP, Order No. 30 Art. 6(2))",
    Basis.ART6_ANNUAL_LOAD: "超年配额 (annual quota exceeded, Order No. 30 Art. 6(3))",
    Basis.ART6_AFTER_RESTRICTION: "限产后仍超标 (after restriction, Order No. 30 Art. 6(4))",
    Basis.ART7_CAPPED: "不予停产 (Art. 7 facility: penalised, not suspended)",
    Basis.ENERGY_QUOTA_WARNING: "接近能耗限额 (near the product's energy quota)",
    Basis.ENERGY_QUOTA: "超能耗限额 (energy quota exceeded: punitive/tiered power price)",
    Basis.ENERGY_COMPLETENESS: "能耗数据不完整 (energy data below 90% complete)",
    Basis.ENERGY_CONSISTENCY: "日月数据不一致 (month figure over 5% off its days)",
    Basis.PLAN_OFF_TRACK: "规划进度落后 (plan target behind its path)",
    Basis.PLAN_RESTRICT_APPROVALS: "建议限批缓批 (red region: restrict project approvals)",
    Basis.PLAN_SUBSIDY_LOSS: "未完成规划目标 (missed target: loss of subsidies)",
}
"""Display text of every ``alerts.basis`` code (the provision the level is read against)."""
BASIS_TEXTS = tuple(ValueText(b.value, text, "text") for b, text in BASIS_TEXT.items())

ENTERPRISE = QueryVariable(
    name="enterprise",
    label="企业 (enterprise)",
    sql="SELECT enterprise_id AS __value, name AS __text FROM enterprises ORDER BY name",
    multi=True,
    include_all=True,
)

_LEVEL_COUNTS = ",\n       ".join(
    f'count(*) FILTER (WHERE a.level = {t.value}) AS "{t.text}"' for t in LEVEL_TEXTS
)

OPEN_BY_LEVEL = Stat(
    title="未解除告警按级别 (open alerts by level)",
    description=(
        "Alerts firing or escalated now, one tile per rung of the ladder; restrict production "
        "(Art. 5) and suspend for rectification (Art. 6) are recommendations the regulator "
        "decides on. Not limited by the time range: an open alert is open now."
    ),
    sql=f"""SELECT {_LEVEL_COUNTS}
  FROM alerts a
 WHERE a.state IN ({OPEN_ALERT_STATES})
   AND a.enterprise_id {in_variable("enterprise")}""",
    width=24,
    height=5,
    decimals=0,
    columns=tuple(
        Column(t.text, thresholds=(Step(None, "green"), Step(1, t.color))) for t in LEVEL_TEXTS
    ),
)

OPEN_ALERTS = Table(
    title="未解除告警 (open alerts)",
    description=(
        "Every open alert, most severe first, then the longest firing; acknowledged ones keep "
        "who acknowledged them. The registry version is the one the alert was judged with."
    ),
    sql=f"""SELECT a.level AS "级别 (level)",
       a.state AS "状态 (state)",
       e.name AS "企业 (enterprise)",
       coalesce(o.name, '—') AS "排口 (outlet)",
       a.device_id AS "设备 MN (device)",
       a.factor AS "因子 (factor)",
       a.rule AS "规则 (rule)",
       a.basis AS "依据 (basis)",
       a.fired_at AS "触发时间 (fired at)",
       a.updated_at AS "更新时间 (updated)",
       a.acknowledged_by AS "确认人 (acknowledged by)",
       a.registry_version AS "名录版本 (registry version)",
       a.alert_id,
       a.enterprise_id,
       a.outlet_id
  FROM alerts a
  JOIN enterprises e ON e.enterprise_id = a.enterprise_id
  LEFT JOIN outlets o ON o.outlet_id = a.outlet_id
 WHERE a.state IN ({OPEN_ALERT_STATES})
   AND a.enterprise_id {in_variable("enterprise")}
 ORDER BY a.level DESC, a.fired_at ASC NULLS LAST, a.alert_id
 LIMIT 500""",
    width=24,
    height=10,
    columns=(
        Column("级别 (level)", mappings=LEVEL_TEXTS, cell=CellDisplay.COLOR_BACKGROUND),
        Column("状态 (state)", mappings=ALERT_STATE_TEXTS, cell=CellDisplay.COLOR_TEXT),
        Column("依据 (basis)", mappings=BASIS_TEXTS),
        Column("排口 (outlet)", link=DataLink("排口详情 (outlet detail)", OUTLET_DETAIL_URL)),
        Column("alert_id", hidden=True),
        Column("enterprise_id", hidden=True),
        Column("outlet_id", hidden=True),
    ),
)

RECENT_EVENTS = Table(
    title="最近告警事件 (recent alert events)",
    description=(
        "The append-only alert history in the time range, newest first: fired, escalated, "
        "repeated, acknowledged (by whom), resolved, withdrawn, with the level and state the "
        "alert had after the event."
    ),
    sql=f"""SELECT ev.at AS "时间 (at)",
       {label_case("ev.kind", ALERT_EVENT_TEXTS)} AS "事件 (event)",
       ev.level AS "级别 (level)",
       ev.state AS "状态 (state)",
       e.name AS "企业 (enterprise)",
       coalesce(o.name, a.subject) AS "对象 (outlet or device)",
       a.factor AS "因子 (factor)",
       ev.rule AS "规则 (rule)",
       ev.actor AS "操作者 (actor)",
       ev.registry_version AS "名录版本 (registry version)"
  FROM alert_events ev
  JOIN alerts a ON a.alert_id = ev.alert_id
  JOIN enterprises e ON e.enterprise_id = a.enterprise_id
  LEFT JOIN outlets o ON o.outlet_id = a.outlet_id
 WHERE $__timeFilter(ev.at)
   AND a.enterprise_id {in_variable("enterprise")}
 ORDER BY ev.at DESC, ev.event_id DESC
 LIMIT 200""",
    width=24,
    height=10,
    columns=(
        Column("级别 (level)", mappings=LEVEL_TEXTS, cell=CellDisplay.COLOR_TEXT),
        Column("状态 (state)", mappings=ALERT_STATE_TEXTS),
    ),
)

ALERTS = Dashboard(
    uid=UID,
    title="告警 (Alerts)",
    description="Open alerts on the enforcement ladder and the alert history.",
    variables=(ENTERPRISE,),
    panels=(OPEN_BY_LEVEL, OPEN_ALERTS, RECENT_EVENTS),
)
