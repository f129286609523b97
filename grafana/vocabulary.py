"""Shared SQL fragments and display vocabulary of the dashboards.

The SQL lists are rendered from the contracts (``schemas``), so a renamed status, rule or flag
changes every dashboard at once. Display texts are Chinese with English in parentheses
(regulators read Chinese; the code reads English).

SQL conventions (docs/grafana.md): multi-value variables are always written
``IN (${var:sqlstring})`` (Grafana quotes and escapes each value); event-time columns are
filtered with ``$__timeFilter(col)``; China calendar days (UTC+8) are taken with
``AT TIME ZONE 'Asia/Shanghai'``.
"""

from __future__ import annotations

from collections.abc import Iterable

from grafana.model import Step, ValueText
from schemas.alert import AlertLevel, AlertState
from schemas.measurement import INVALID_FOR_COMPLIANCE, DataFlag
from schemas.verdict import Rule, VerdictStatus

CHINA_TIME_ZONE = "Asia/Shanghai"
"""IANA name of China Standard Time (UTC+8, no DST); HJ 212 DataTime is in it.
(A POSIX offset such as '+08' would mean UTC-8 to PostgreSQL.)"""


def sql_literal(text: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def sql_list(values: Iterable[str]) -> str:
    """A comma-separated list of SQL string literals, e.g. ``'exceedance', 'severe'``."""
    return ", ".join(sql_literal(v) for v in values)


def in_variable(variable: str) -> str:
    """``IN (${variable:sqlstring})``: membership in a (possibly multi-value) variable."""
    return f"IN (${{{variable}:sqlstring}})"


HOURLY_RULE = sql_literal(Rule.HOURLY_CONCENTRATION.value)
DAILY_LOAD_RULE = sql_literal(Rule.DAILY_LOAD.value)
EXCEEDING_STATUSES = sql_list([VerdictStatus.EXCEEDANCE.value, VerdictStatus.SEVERE.value])
"""Statuses that count as exceeding a limit or quota (超标)."""
MEETING_STATUSES = sql_list([VerdictStatus.COMPLIANT.value, VerdictStatus.WARNING.value])
"""Statuses of a valid period that meets its limit (达标; a warning still meets it)."""
INVALID_STATUS = sql_literal(VerdictStatus.INVALID.value)
INVALID_FLAGS = sql_list(sorted(INVALID_FOR_COMPLIANCE))
"""HJ 212 flags whose data are not valid for compliance (HJ 75-2017): B, C, D, F, M."""
MISSING_MINUTES = "missing"
"""Label of an invalid hour without any F/M/C/D/B minute: too few minutes arrived (缺测)."""

STATUS_TEXTS: tuple[ValueText, ...] = (
    ValueText(VerdictStatus.COMPLIANT.value, "达标 (compliant)", "green"),
    ValueText(VerdictStatus.WARNING.value, "预警 (warning)", "yellow"),
    ValueText(VerdictStatus.EXCEEDANCE.value, "超标 (exceedance)", "red"),
    ValueText(VerdictStatus.SEVERE.value, "严重超标 (severe, ≥3×)", "dark-red"),
    ValueText(VerdictStatus.INVALID.value, "无效 (invalid)", "gray"),
)

FLAG_TEXTS: tuple[ValueText, ...] = (
    ValueText(DataFlag.STOPPED.value, "F 停运 (stopped)", "purple"),
    ValueText(DataFlag.MAINTENANCE.value, "M 维护 (maintenance)", "blue"),
    ValueText(DataFlag.CALIBRATION.value, "C 校准 (calibration)", "light-blue"),
    ValueText(DataFlag.FAULT.value, "D 故障 (fault)", "orange"),
    ValueText(DataFlag.COMM_FAULT.value, "B 通讯异常 (comm fault)", "red"),
    ValueText(MISSING_MINUTES, "缺测 (too few minutes)", "gray"),
)

RULE_TEXTS: tuple[ValueText, ...] = (
    ValueText(Rule.HOURLY_CONCENTRATION.value, "小时浓度 (hourly concentration)", "text"),
    ValueText(Rule.DAILY_LOAD.value, "日排放量 (daily load)", "text"),
    ValueText(Rule.ANNUAL_LOAD.value, "年排放量 (annual load)", "text"),
)

RATIO_STEPS: tuple[Step, ...] = (
    Step(None, "green"),
    Step(0.8, "yellow"),
    Step(1.0, "red"),
)
"""Colours of a value/limit ratio: warning from 80 % (AlertPolicy default), red above 100 %."""

CAPTURE_STEPS: tuple[Step, ...] = (
    Step(None, "red"),
    Step(0.75, "yellow"),
    Step(0.9, "green"),
)
"""Colours of a data capture rate (有效数据率): the 75 % / 90 % bands of HJ 75-2017's
missing-data substitution rules."""

OPEN_ALERT_STATES = sql_list([AlertState.FIRING.value, AlertState.ESCALATED.value])
"""States of an alert that has fired and is not resolved (notices are due; alerts/model.py)."""

LEVEL_TEXTS: tuple[ValueText, ...] = (
    ValueText(str(AlertLevel.DATA_QUALITY.value), "数据质量 (data quality)", "blue"),
    ValueText(str(AlertLevel.WARNING.value), "预警 (warning)", "yellow"),
    ValueText(str(AlertLevel.EXCEEDANCE.value), "超标 (exceedance)", "orange"),
    ValueText(str(AlertLevel.RESTRICT_PRODUCTION.value), "限制生产 (restrict production)", "red"),
    ValueText(
        str(AlertLevel.SUSPEND_FOR_RECTIFICATION.value),
        "停产整治 (suspend for rectification)",
        "dark-red",
    ),
)
"""The alert ladder (design.md; MEP Order No. 30 (2014) Art. 5 and 6), by ``alerts.level``."""

ALERT_STATE_TEXTS: tuple[ValueText, ...] = (
    ValueText(AlertState.PENDING.value, "待确认 (pending)", "gray"),
    ValueText(AlertState.FIRING.value, "告警中 (firing)", "red"),
    ValueText(AlertState.ESCALATED.value, "已升级 (escalated)", "dark-red"),
    ValueText(AlertState.RESOLVED.value, "已解除 (resolved)", "green"),
)

ALERT_EVENT_TEXTS: tuple[ValueText, ...] = (
    ValueText("pending", "待确认 (pending)", "gray"),
    ValueText("fired", "触发 (fired)", "red"),
    ValueText("escalated", "升级 (escalated)", "dark-red"),
    ValueText("repeated", "重复提醒 (repeated)", "orange"),
    ValueText("acknowledged", "已确认 (acknowledged)", "blue"),
    ValueText("resolved", "解除 (resolved)", "green"),
    ValueText("withdrawn", "撤回 (withdrawn)", "gray"),
)
"""Kinds of ``alert_events`` rows written by the alert engine (alerts/machine.py)."""
