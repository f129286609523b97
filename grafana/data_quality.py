"""数据质量 (data quality): flagged minutes, silent devices and dead letters.

A regulator reads this before trusting the compliance figures: minutes flagged F/M/C/D/B are
not valid for compliance (HJ 75-2017; MEE marking rules 2022), a silent device produces no
data at all, and dead letters are input the platform could not process.
"""

from __future__ import annotations

from grafana.model import Column, Dashboard, QueryVariable, Table, TimeSeries
from grafana.queries import label_case
from grafana.vocabulary import FLAG_TEXTS, INVALID_FLAGS, in_variable

UID = "greenwatch-quality"

ENTERPRISE = QueryVariable(
    name="enterprise",
    label="企业 (enterprise)",
    sql="SELECT enterprise_id AS __value, name AS __text FROM enterprises ORDER BY name",
    multi=True,
    include_all=True,
)

INVALID_MINUTES = TimeSeries(
    title="无效分钟按标记 (invalid minutes by flag F/M/C/D/B)",
    description=(
        "Device-minutes whose minute data carry a flag that makes them invalid for "
        "compliance: F stopped, M maintenance, C calibration, D fault, B communication fault "
        "(HJ 212-2017 flags). A device-minute with several factors flagged counts once per flag."
    ),
    sql=f"""SELECT $__timeGroupAlias(m.period_start, $__interval),
       {label_case("m.flag", FLAG_TEXTS)} AS metric,
       count(DISTINCT (m.device_id, m.period_start)) AS value
  FROM measurements m
  JOIN devices d ON d.device_id = m.device_id
  JOIN outlets o ON o.outlet_id = d.outlet_id
 WHERE m.period = 'minute'
   AND m.flag IN ({INVALID_FLAGS})
   AND o.enterprise_id {in_variable("enterprise")}
   AND $__timeFilter(m.period_start)
 GROUP BY 1, 2
 ORDER BY 1, 2""",
    width=12,
    height=9,
    interval="1h",
    decimals=0,
    bars=True,
    stacked=True,
)

DEAD_LETTERS = TimeSeries(
    title="死信按原因 (dead letters by reason)",
    description=(
        "Input that could not be processed (bad CRC, unknown device, malformed packet …), "
        "kept with its bytes; counted by reason. Not filtered by enterprise: many dead "
        "letters come from devices the registry does not know."
    ),
    sql="""SELECT $__timeGroupAlias(dl.received_at, $__interval),
       dl.reason AS metric,
       count(*) AS value
  FROM dead_letters dl
 WHERE $__timeFilter(dl.received_at)
 GROUP BY 1, 2
 ORDER BY 1, 2""",
    width=12,
    height=9,
    interval="10m",
    decimals=0,
    bars=True,
    stacked=True,
)

SILENT_DEVICES = Table(
    title="静默设备 (silent devices)",
    description=(
        "Devices with nothing received for more than N × their reporting interval before the "
        "end of the time range; N is the registry policy's silence_intervals of the registry "
        "version the device was loaded with (the alert engine's own threshold). Only data of "
        "the time range are searched: 'none in range' means no data in it at all."
    ),
    sql=f"""SELECT e.name AS "企业 (enterprise)",
       o.name AS "排口 (outlet)",
       d.device_id AS "设备 MN (device)",
       d.interval_s AS "上报间隔 (interval)",
       p.silence_intervals AS "静默阈值 N (intervals)",
       seen.last_received AS "最后接收 (last received)",
       extract(epoch from ($__timeTo()::timestamptz - seen.last_received))
           AS "静默时长 (silent for)"
  FROM devices d
  JOIN outlets o ON o.outlet_id = d.outlet_id
  JOIN enterprises e ON e.enterprise_id = o.enterprise_id
  JOIN registry_versions r ON r.version = d.registry_version
  CROSS JOIN LATERAL (
        SELECT (r.document -> 'policy' ->> 'silence_intervals')::int AS silence_intervals
  ) AS p
  LEFT JOIN LATERAL (
        SELECT max(m.received_at) AS last_received
          FROM measurements m
         WHERE m.device_id = d.device_id
           AND $__timeFilter(m.period_start)
  ) AS seen ON true
 WHERE o.enterprise_id {in_variable("enterprise")}
   AND (seen.last_received IS NULL
        OR seen.last_received < $__timeTo()::timestamptz
                                - make_interval(secs => p.silence_intervals * d.interval_s))
 ORDER BY seen.last_received ASC NULLS FIRST, d.device_id""",
    width=24,
    height=8,
    columns=(
        Column("上报间隔 (interval)", unit="s", decimals=0),
        Column("最后接收 (last received)", null_text="时段内无数据 (none in range)"),
        Column("静默时长 (silent for)", unit="s", decimals=0, null_text="—"),
    ),
)

RECENT_DEAD_LETTERS = Table(
    title="最近死信 (recent dead letters)",
    description="The 200 most recent dead letters: reason, source, device and message.",
    sql="""SELECT dl.received_at AS "接收时间 (received)",
       dl.reason AS "原因 (reason)",
       dl.source AS "来源 (source)",
       dl.device_id AS "设备 MN (device)",
       dl.peer AS "对端 (peer)",
       dl.message AS "说明 (message)"
  FROM dead_letters dl
 WHERE $__timeFilter(dl.received_at)
 ORDER BY dl.received_at DESC, dl.id DESC
 LIMIT 200""",
    width=24,
    height=8,
)

DATA_QUALITY = Dashboard(
    uid=UID,
    title="数据质量 (Data quality)",
    description="Flagged minutes, silent devices and dead letters.",
    variables=(ENTERPRISE,),
    panels=(INVALID_MINUTES, DEAD_LETTERS, SILENT_DEVICES, RECENT_DEAD_LETTERS),
)
