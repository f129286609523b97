"""PostgreSQL adapter of the alert engine (psycopg 3; tables of ``004_alerts.sql``).

``AlertStore`` reads and writes inside the caller's transaction: ``open_batch`` locks the
records a batch touches (``FOR UPDATE``, in id order), loads the firing data-quality alerts of
the outlets involved and the world (orders in force, maintenance windows, subscriptions);
``save`` upserts the changed records and appends their events and outbox rows. Callers commit
once, so a transition and its notices are durable together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from alerts.engine import Batch, OutboxRow, World
from alerts.model import (
    AlertKey,
    AlertRecord,
    EventRecord,
    MaintenanceWindow,
    Mark,
    OrderAction,
    RegulatorOrder,
)
from alerts.routing import ALL_ENTERPRISES, Audience, QuietHours, Subscription
from runtime.dead_letters import KeyedDeadLetter, insert_dead_letters
from schemas.alert import AlertLevel, AlertState
from schemas.registry import Registry

Row = dict[str, Any]

_RECORD_COLUMNS = (
    "alert_id, subject, factor, rule, enterprise_id, outlet_id, device_id, state, level, episode,"
    " basis, opened_at, fired_at, resolved_at, updated_at, pending_until, clearing_until,"
    " escalate_at, acknowledged_by, acknowledged_at, last_notified_at, notified_level, due_at,"
    " evidence, registry_version, marks"
)
_UPSERT = f"""
INSERT INTO alerts ({_RECORD_COLUMNS}) VALUES ({", ".join(["%s"] * 26)})
ON CONFLICT (alert_id) DO UPDATE SET
    state = EXCLUDED.state, level = EXCLUDED.level, episode = EXCLUDED.episode,
    basis = EXCLUDED.basis, opened_at = EXCLUDED.opened_at, fired_at = EXCLUDED.fired_at,
    resolved_at = EXCLUDED.resolved_at, updated_at = EXCLUDED.updated_at,
    pending_until = EXCLUDED.pending_until, clearing_until = EXCLUDED.clearing_until,
    escalate_at = EXCLUDED.escalate_at, acknowledged_by = EXCLUDED.acknowledged_by,
    acknowledged_at = EXCLUDED.acknowledged_at, last_notified_at = EXCLUDED.last_notified_at,
    notified_level = EXCLUDED.notified_level, due_at = EXCLUDED.due_at,
    evidence = EXCLUDED.evidence, registry_version = EXCLUDED.registry_version,
    marks = EXCLUDED.marks, enterprise_id = EXCLUDED.enterprise_id,
    outlet_id = EXCLUDED.outlet_id, device_id = EXCLUDED.device_id
"""
_EVENT = """
INSERT INTO alert_events (alert_id, episode, at, kind, actor, level, state, rule, evidence,
    registry_version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_OUTBOX = """
INSERT INTO notification_outbox (alert_id, episode, subscription_id, enterprise_id, channel,
    kind, level, title, body, not_before, next_attempt_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


def record_from_row(row: Mapping[str, Any]) -> AlertRecord:
    """An ``alerts`` row (dict) as the machine's record."""
    notified = row["notified_level"]
    return AlertRecord(
        key=AlertKey(row["subject"], row["factor"], row["rule"]),
        enterprise_id=row["enterprise_id"],
        outlet_id=row["outlet_id"],
        device_id=row["device_id"],
        state=AlertState(row["state"]),
        level=AlertLevel(row["level"]),
        episode=row["episode"],
        basis=row["basis"],
        opened_at=row["opened_at"],
        fired_at=row["fired_at"],
        resolved_at=row["resolved_at"],
        updated_at=row["updated_at"],
        pending_until=row["pending_until"],
        clearing_until=row["clearing_until"],
        escalate_at=row["escalate_at"],
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=row["acknowledged_at"],
        last_notified_at=row["last_notified_at"],
        notified_level=AlertLevel(notified) if notified is not None else None,
        due_at=row["due_at"],
        evidence=row["evidence"],
        registry_version=row["registry_version"],
        marks={k: Mark.from_json(v) for k, v in row["marks"].items()},
    )


def _record_params(r: AlertRecord) -> tuple[Any, ...]:
    return (
        r.alert_id, r.key.subject, r.key.factor, r.key.rule, r.enterprise_id, r.outlet_id,
        r.device_id, r.state.value, int(r.level), r.episode, r.basis, r.opened_at, r.fired_at,
        r.resolved_at, r.updated_at, r.pending_until, r.clearing_until, r.escalate_at,
        r.acknowledged_by, r.acknowledged_at, r.last_notified_at,
        int(r.notified_level) if r.notified_level is not None else None, r.due_at,
        Jsonb(dict(r.evidence)), r.registry_version,
        Jsonb({k: m.as_json() for k, m in r.marks.items()}),
    )  # fmt: skip


def _event_params(e: EventRecord) -> tuple[Any, ...]:
    return (
        e.alert_id, e.episode, e.at, e.kind, e.actor, int(e.level), e.state.value, e.rule,
        Jsonb(dict(e.evidence)), e.registry_version,
    )  # fmt: skip


def _outbox_params(o: OutboxRow) -> tuple[Any, ...]:
    return (
        o.alert_id, o.episode, o.subscription_id, o.enterprise_id, o.channel, o.kind,
        int(o.level), o.title, o.body, o.not_before, o.not_before,
    )  # fmt: skip


def window_from_row(r: Mapping[str, Any]) -> MaintenanceWindow:
    return MaintenanceWindow(
        r["window_id"], r["enterprise_id"], r["outlet_id"], r["starts_at"], r["ends_at"],
        r["declared_by"], r["reason"], r.get("declared_at"),
    )  # fmt: skip


def order_from_row(row: Mapping[str, Any]) -> RegulatorOrder:
    return RegulatorOrder(
        order_id=row["order_id"],
        enterprise_id=row["enterprise_id"],
        outlet_id=row["outlet_id"],
        action=OrderAction(row["action"]),
        effective_from=row["effective_from"],
        issued_at=row["issued_at"],
        issued_by=row["issued_by"],
        reason=row["reason"],
        lifted_at=row["lifted_at"],
        lifted_by=row["lifted_by"],
    )


def subscription_from_row(row: Mapping[str, Any]) -> Subscription:
    quiet = None
    if row["quiet_start"] is not None:
        quiet = QuietHours(row["quiet_start"], row["quiet_end"])
    return Subscription(
        subscription_id=row["subscription_id"],
        enterprise_id=row["enterprise_id"],
        audience=Audience(row["audience"]),
        channel=row["channel"],
        min_level=AlertLevel(row["min_level"]),
        quiet=quiet,
        enabled=row["enabled"],
    )


class AlertStore:
    """Reads and writes alert state on one connection, inside the caller's transaction."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def _rows(self, query: str, params: Iterable[Any] = ()) -> list[Row]:
        with self._conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, tuple(params)).fetchall()

    # --- the engine's batches -------------------------------------------------------

    def open_batch(
        self,
        registry: Registry,
        now: datetime,
        alert_ids: Iterable[str],
        outlets: Iterable[str] = (),
        enterprises: Iterable[str] | None = None,
        since: datetime | None = None,
    ) -> Batch:
        """Lock ``alert_ids``, load the outlets' firing data-quality alerts and the world
        (maintenance windows ending after ``since``, default ``now``)."""
        ids = sorted(set(alert_ids))
        records = {
            row["alert_id"]: record_from_row(row)
            for row in self._rows(
                f"SELECT {_RECORD_COLUMNS} FROM alerts WHERE alert_id = ANY(%s)"
                " ORDER BY alert_id FOR UPDATE",
                (ids,),
            )
        }
        for row in self._rows(
            f"SELECT {_RECORD_COLUMNS} FROM alerts WHERE outlet_id = ANY(%s)"
            " AND rule LIKE 'quality.%%' AND state IN ('firing', 'escalated')",
            (sorted(set(outlets)),),
        ):
            records.setdefault(row["alert_id"], record_from_row(row))
        if enterprises is None:
            enterprises = {r.enterprise_id for r in records.values()}
        return Batch(self.world(registry, now, enterprises, since), records, now)

    def world(
        self,
        registry: Registry,
        now: datetime,
        enterprises: Iterable[str],
        since: datetime | None = None,
    ) -> World:
        """Orders in force, maintenance windows ending after ``since`` (default ``now``: the
        current and future ones), enabled subscriptions."""
        wanted = sorted({*enterprises, ALL_ENTERPRISES})
        orders = self._rows(
            "SELECT * FROM regulator_orders WHERE lifted_at IS NULL AND enterprise_id = ANY(%s)",
            (wanted,),
        )
        windows = self._rows(
            "SELECT * FROM maintenance_windows WHERE ends_at > %s AND enterprise_id = ANY(%s)",
            (min(now, since or now), wanted),
        )
        subscriptions = self._rows(
            "SELECT * FROM alert_subscriptions WHERE enabled AND enterprise_id = ANY(%s)"
            " ORDER BY subscription_id",
            (wanted,),
        )
        return World(
            registry,
            orders=tuple(order_from_row(r) for r in orders),
            maintenance=tuple(window_from_row(r) for r in windows),
            subscriptions=tuple(subscription_from_row(r) for r in subscriptions),
        )

    def due_alert_ids(self, now: datetime, limit: int = 500) -> list[str]:
        """Active alerts whose ``due_at`` has come (locked; skipped if another worker has them)."""
        rows = self._rows(
            "SELECT alert_id FROM alerts WHERE due_at <= %s ORDER BY alert_id"
            " LIMIT %s FOR UPDATE SKIP LOCKED",
            (now, limit),
        )
        return [r["alert_id"] for r in rows]

    def outlets_of(self, alert_ids: Iterable[str]) -> tuple[set[str], set[str]]:
        """Outlets and enterprises of these alerts (to load their context)."""
        rows = self._rows(
            "SELECT outlet_id, enterprise_id FROM alerts WHERE alert_id = ANY(%s)",
            (sorted(set(alert_ids)),),
        )
        return {r["outlet_id"] for r in rows if r["outlet_id"]}, {r["enterprise_id"] for r in rows}

    def save(self, batch: Batch) -> None:
        """Upsert changed records, append events, enqueue notices (same transaction); alerts
        whose notices an ended inhibition held back become due now."""
        with self._conn.cursor() as cur:
            if batch.changed:
                cur.executemany(_UPSERT, [_record_params(r) for r in batch.changed.values()])
            if batch.events:
                cur.executemany(_EVENT, [_event_params(e) for e in batch.events])
            if batch.outbox:
                cur.executemany(_OUTBOX, [_outbox_params(o) for o in batch.outbox])
            if batch.released_outlets:
                cur.execute(
                    "UPDATE alerts SET due_at = %s WHERE outlet_id = ANY(%s) AND due_at > %s"
                    " AND state IN ('firing', 'escalated') AND notified_level IS NULL",
                    (batch.now, sorted(batch.released_outlets), batch.now),
                )

    def dead_letters(self, letters: Sequence[KeyedDeadLetter]) -> None:
        """Keep rejected inputs in ``dead_letters``, once per position (also published on the
        dead-letter topic, where the worker reading them back finds them stored)."""
        with self._conn.cursor() as cur:
            insert_dead_letters(cur, letters)
