"""Alerts of the seeded province (migration 004): rows on every rung of the ladder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from grafana_province import CH, CM, DEVICE_OF, TP, VERSION, WW, hour


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert (its id is ``<subject>/<factor or ->/<rule>``) and its events in order."""

    subject: str
    factor: str | None
    rule: str
    enterprise: str
    outlet: str | None
    device: str | None
    state: str
    level: int
    basis: str
    events: tuple[tuple[datetime, str, int, str, str], ...]  # at, kind, level, state, actor

    @property
    def alert_id(self) -> str:
        return f"{self.subject}/{self.factor or '-'}/{self.rule}"


def _minutes_after(i: int, minutes: int) -> datetime:
    return hour(i) + timedelta(minutes=minutes)


ALERTS = [
    AlertRow(
        TP,
        "a21026",
        "hourly_concentration",
        "E-TP-01",
        TP,
        None,
        "escalated",
        3,
        "order30_art5_sustained",
        (
            (_minutes_after(6, 5), "fired", 2, "firing", "system"),
            (_minutes_after(7, 5), "escalated", 3, "escalated", "system"),
            (_minutes_after(7, 30), "acknowledged", 3, "escalated", "regulator:wang"),
        ),
    ),
    AlertRow(
        CH,
        "w20115",
        "hourly_concentration",
        "E-CH-01",
        CH,
        None,
        "firing",
        4,
        "order30_art6_2_heavy_metal",
        ((_minutes_after(4, 5), "fired", 4, "firing", "system"),),
    ),
    AlertRow(
        CM,
        "a21026",
        "hourly_concentration",
        "E-CM-01",
        CM,
        None,
        "resolved",
        2,
        "exceedance",
        (
            (_minutes_after(11, 5), "fired", 2, "firing", "system"),
            (_minutes_after(14, 5), "resolved", 2, "resolved", "system"),
        ),
    ),
    AlertRow(
        CM,
        "a21002",
        "hourly_concentration",
        "E-CM-01",
        CM,
        None,
        "firing",
        1,
        "warning_fraction",
        ((_minutes_after(-30, 5), "fired", 1, "firing", "system"),),
    ),
    AlertRow(
        DEVICE_OF[WW],
        None,
        "quality.silent",
        "E-WW-01",
        None,
        DEVICE_OF[WW],
        "firing",
        0,
        "hj75_data_quality",
        ((_minutes_after(0, 10), "fired", 0, "firing", "system"),),
    ),
    AlertRow(
        DEVICE_OF[TP],
        None,
        "quality.silent",
        "E-TP-01",
        TP,
        DEVICE_OF[TP],
        "pending",
        0,
        "hj75_data_quality",
        ((_minutes_after(22, 5), "pending", 0, "pending", "system"),),
    ),
]
"""Open now: TP SO2 restrict production (acknowledged), CH Cd suspend, CM NOx warning (fired
before the range), WW device silent (no outlet recorded). Not open: CM SO2 resolved, TP
device silent still pending."""


def insert_alerts(cur: psycopg.Cursor[Any]) -> None:
    for a in ALERTS:
        first, last = a.events[0], a.events[-1]
        fired = next((e[0] for e in a.events if e[1] == "fired"), None)
        acknowledged = next((e for e in a.events if e[1] == "acknowledged"), None)
        cur.execute(
            """INSERT INTO alerts (alert_id, subject, factor, rule, enterprise_id, outlet_id,
                   device_id, state, level, episode, basis, opened_at, fired_at, resolved_at,
                   updated_at, acknowledged_by, acknowledged_at, evidence, registry_version)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s, %s, %s, %s, %s, %s, %s,
                       '{}', %s)""",
            (
                a.alert_id,
                a.subject,
                a.factor,
                a.rule,
                a.enterprise,
                a.outlet,
                a.device,
                a.state,
                a.level,
                a.basis,
                first[0],
                fired,
                last[0] if a.state == "resolved" else None,
                last[0],
                acknowledged[4] if acknowledged else None,
                acknowledged[0] if acknowledged else None,
                VERSION,
            ),
        )
        cur.executemany(
            """INSERT INTO alert_events (alert_id, episode, at, kind, actor, level, state, rule,
                   evidence, registry_version) VALUES (%s, 1, %s, %s, %s, %s, %s, %s, '{}', %s)""",
            [
                (a.alert_id, at, kind, actor, level, state, a.rule, VERSION)
                for at, kind, level, state, actor in a.events
            ],
        )


def seed_alerts(conn: psycopg.Connection[Any]) -> None:
    """Insert ``ALERTS`` and their events (after ``grafana_province.seed_province``)."""
    with conn.transaction(), conn.cursor() as cur:
        insert_alerts(cur)
