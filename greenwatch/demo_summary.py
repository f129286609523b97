"""What the demo prints: gateway metrics and what has landed in the database."""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import psycopg
from prometheus_client.parser import text_string_to_metric_families

from greenwatch.demo_sinks import LocalSinks
from schemas.alert import AlertLevel

_COUNTS = {
    "measurements": "SELECT count(*) FROM measurements",
    "hourly values": "SELECT count(*) FROM aggregates WHERE period = 'hour'",
    "daily values": "SELECT count(*) FROM aggregates WHERE period = 'day'",
    "dead letters": "SELECT count(*) FROM dead_letters",
    "energy readings": "SELECT count(*) FROM energy_readings",
    "energy consumption rows": "SELECT count(*) FROM energy_consumption",
}
_ENERGY = """
SELECT DISTINCT ON (i.enterprise_id, i.subject)
       i.enterprise_id || '/' || i.subject, i.value, i.indicator, i.period_start::date,
       v.limit_value, v.status
  FROM energy_intensities i
  LEFT JOIN verdicts v
    ON v.rule = 'energy_quota' AND v.outlet_id = i.enterprise_id || '/' || i.subject
   AND v.factor = i.indicator || '@' || i.window_name AND v.period_start = i.period_start
 WHERE i.window_name = '30d'
 ORDER BY i.enterprise_id, i.subject, (v.status IS NULL), i.period_start DESC"""
"""Per product the latest judged 30-day unit consumption (else the latest computed one)."""
_VERDICTS = "SELECT status, count(*) FROM verdicts GROUP BY 1 ORDER BY 1"
_ALERTS = """SELECT level, state, count(*) FROM alerts
 WHERE episode > 0 OR state <> 'resolved' GROUP BY 1, 2 ORDER BY 1, 2"""
"""Alerts pending or ever fired: a resolved row of episode 0 never fired (it only keeps the
marks of the periods judged so far, for hysteresis and "sustained")."""
_OUTBOX = "SELECT status, count(*) FROM notification_outbox GROUP BY 1 ORDER BY 1"
_EVENTS = "SELECT kind, count(*) FROM alert_events GROUP BY 1 ORDER BY 2 DESC"
_QUALITY = """
SELECT a.rule, string_agg(DISTINCT a.subject, ', ' ORDER BY a.subject),
       count(e.event_id) FILTER (WHERE e.kind = 'fired'),
       count(e.event_id) FILTER (WHERE e.kind = 'resolved')
  FROM alerts a LEFT JOIN alert_events e USING (alert_id)
 WHERE a.rule LIKE 'quality.%' AND a.episode > 0
 GROUP BY a.rule
 ORDER BY a.rule"""
"""Data-quality alerts by rule: the devices, and how many episodes fired and resolved (a
device silent in event time, e.g. an outage seen only when its data resume, fires and
resolves at once)."""
_ALERT_LIST = """
SELECT a.alert_id, a.level, a.state, a.basis, coalesce(e.name, a.enterprise_id)
  FROM alerts a LEFT JOIN enterprises e USING (enterprise_id)
 WHERE a.level > 0 OR a.state <> 'resolved'
 ORDER BY a.level DESC, a.alert_id
 LIMIT 20"""


@dataclass
class DemoSummary:
    """One reading of the platform's state."""

    at: float
    gateway: dict[str, float] = field(default_factory=dict)
    rejects: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    alert_list: list[str] = field(default_factory=list)
    quality: list[str] = field(default_factory=list)
    energy: list[str] = field(default_factory=list)
    emails: int = 0
    webhooks: int = 0

    def render(self, previous: DemoSummary | None) -> str:
        frames = self.gateway.get("frames_accepted", 0.0)
        rate = ""
        if previous is not None and self.at > previous.at:
            delta = frames - previous.gateway.get("frames_accepted", 0.0)
            rate = f" ({delta / (self.at - previous.at):.0f} frames/s)"
        lines = [
            f"gateway: {frames:.0f} frames accepted{rate},"
            f" {self.gateway.get('devices_online', 0):.0f} devices online,"
            f" rejects {_fmt(self.rejects) or 'none'}",
            "database: " + ", ".join(f"{k} {v}" for k, v in self.counts.items()),
            f"verdicts: {_fmt(self.verdicts) or 'none yet'}",
            f"energy (30 d unit consumption): {'; '.join(self.energy) or 'none yet'}",
            f"alerts: {_fmt(self.alerts) or 'none yet'}",
            f"notices: outbox {_fmt(self.outbox) or 'empty'}; received by the local sinks:"
            f" {self.emails} e-mails, {self.webhooks} webhooks",
        ]
        return "\n".join(lines)

    def state(self) -> tuple[object, ...]:
        """Everything but the clock: two readings with the same state print the same."""
        return (
            sorted(self.gateway.items()), sorted(self.rejects.items()),
            sorted(self.counts.items()), sorted(self.verdicts.items()),
            sorted(self.alerts.items()), sorted(self.outbox.items()), self.emails, self.webhooks,
            self.energy,
        )  # fmt: skip

    def render_alerts(self) -> str:
        """The alert history in brief: events by kind and the alerts above data quality."""
        lines = [f"alert events: {_fmt(self.events) or 'none'}"]
        lines += [f"  {line}" for line in self.alert_list]
        lines.append("data-quality alerts:" + ("" if self.quality else " none"))
        lines += [f"  {line}" for line in self.quality]
        return "\n".join(lines)


def _fmt(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} {v:.0f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()
    )


def _gateway_metrics(url: str) -> tuple[dict[str, float], dict[str, float]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode("utf-8")
    except OSError:
        return {}, {}
    gateway: dict[str, float] = {}
    rejects: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "greenwatch_gateway_frames_total":
                result = sample.labels.get("result", "")
                if result == "accepted":
                    gateway["frames_accepted"] = gateway.get("frames_accepted", 0) + sample.value
                else:
                    rejects[result] = rejects.get(result, 0) + sample.value
            elif sample.name == "greenwatch_gateway_devices_online":
                gateway["devices_online"] = sample.value
    return gateway, rejects


def read_summary(dsn: str, metrics_url: str, sinks: LocalSinks) -> DemoSummary:
    """Read the gateway's Prometheus metrics and the database counts; never raises on I/O."""
    summary = DemoSummary(at=time.monotonic())
    summary.gateway, summary.rejects = _gateway_metrics(metrics_url)
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            for label, query in _COUNTS.items():
                row = conn.execute(query).fetchone()
                summary.counts[label] = int(row[0]) if row else 0
            summary.verdicts = {str(s): int(n) for s, n in conn.execute(_VERDICTS)}
            summary.alerts = {
                f"{AlertLevel(level).name.lower()}/{state}": int(n)
                for level, state, n in conn.execute(_ALERTS)
            }
            summary.outbox = {str(s): int(n) for s, n in conn.execute(_OUTBOX)}
            summary.events = {str(k): int(n) for k, n in conn.execute(_EVENTS)}
            summary.quality = [
                f"{rule:<18} fired {fired}, resolved {resolved}: {devices}"
                for rule, devices, fired, resolved in conn.execute(_QUALITY)
            ]
            summary.energy = [
                f"{subject} {value:,.0f} {unit} to {day}"
                + (f" vs quota {limit:,.0f}: {status}" if status else " (day not closed)")
                for subject, value, unit, day, limit, status in conn.execute(_ENERGY)
            ]
            summary.alert_list = [
                f"{AlertLevel(level).name.lower():<26} {state:<9} {alert_id} ({name}; {basis})"
                for alert_id, level, state, basis, name in conn.execute(_ALERT_LIST)
            ]
    except psycopg.Error:
        pass
    summary.emails = sinks.received.emails
    summary.webhooks = sinks.received.webhooks
    return summary
