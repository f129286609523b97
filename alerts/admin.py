"""People's actions on alerts (psycopg): acknowledgement, regulator orders, subscriptions,
maintenance windows, and the read side (lists, history, delivery log).

Every action that changes alert state runs the engine in one transaction with its events and
notices, exactly like the service; regulator actions are recorded in ``alert_events`` with the
person as ``actor``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import apprise
import psycopg
from psycopg.rows import dict_row

from alerts.engine import Batch
from alerts.errors import InvalidSubscription, OrderNotFound, UnknownTarget
from alerts.model import AlertRecord, MaintenanceWindow, OrderAction, RegulatorOrder
from alerts.routing import ALL_ENTERPRISES, Audience, QuietHours, Subscription
from alerts.store import AlertStore, Row, order_from_row, record_from_row, subscription_from_row
from schemas.alert import AlertLevel
from schemas.registry import Registry


def _rows(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]) -> list[Row]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def check_target(registry: Registry, enterprise_id: str, outlet_id: str | None) -> None:
    """Raise UnknownTarget unless the enterprise (and outlet, of that enterprise) exist."""
    if not any(e.id == enterprise_id for e in registry.enterprises):
        raise UnknownTarget(enterprise_id, "enterprise")
    if outlet_id is not None:
        found = registry.outlet(outlet_id)
        if found is None or found[0].id != enterprise_id:
            raise UnknownTarget(outlet_id, f"outlet of {enterprise_id}")


def resolve_target(registry: Registry, target: str) -> tuple[str, str | None]:
    """An enterprise id or an outlet id → (enterprise, outlet or None)."""
    found = registry.outlet(target)
    if found is not None:
        return found[0].id, target
    check_target(registry, target, None)
    return target, None


def _with_batch(
    conn: psycopg.Connection[Any],
    registry: Registry,
    now: datetime,
    alert_ids: list[str],
    enterprise_id: str,
    action: Callable[[Batch], None],
) -> Batch:
    """Lock the alerts, run ``action`` on a batch, save; one transaction."""
    with conn.transaction():
        store = AlertStore(conn)
        outlets, _ = store.outlets_of(alert_ids)
        batch = store.open_batch(registry, now, alert_ids, outlets, {enterprise_id})
        action(batch)
        store.save(batch)
    return batch


def acknowledge(
    conn: psycopg.Connection[Any],
    registry: Registry,
    alert_id: str,
    by: str,
    note: str,
    now: datetime,
) -> AlertRecord:
    """Acknowledge an open alert; raises UnknownAlert or AlertNotOpen."""
    rows = _rows(conn, "SELECT enterprise_id FROM alerts WHERE alert_id = %s", (alert_id,))
    enterprise_id = rows[0]["enterprise_id"] if rows else ""
    acked: list[AlertRecord] = []
    _with_batch(
        conn,
        registry,
        now,
        [alert_id],
        enterprise_id,
        lambda batch: acked.append(batch.acknowledge(alert_id, by, note)),
    )
    return acked[0]


def _active_alert_ids(
    conn: psycopg.Connection[Any], enterprise_id: str, outlet_id: str | None
) -> list[str]:
    rows = _rows(
        conn,
        "SELECT alert_id FROM alerts WHERE enterprise_id = %s AND state <> 'resolved'"
        " AND (%s::text IS NULL OR outlet_id = %s)",
        (enterprise_id, outlet_id, outlet_id),
    )
    return [r["alert_id"] for r in rows]


def issue_order(
    conn: psycopg.Connection[Any],
    registry: Registry,
    order: RegulatorOrder,
    now: datetime,
) -> RegulatorOrder:
    """Record a restriction/suspension order (``order_id`` is assigned), note it on the open
    alerts it covers and tell the enterprise; raises UnknownTarget."""
    check_target(registry, order.enterprise_id, order.outlet_id)
    with conn.transaction():
        row = _rows(
            conn,
            "INSERT INTO regulator_orders (enterprise_id, outlet_id, action, effective_from,"
            " issued_at, issued_by, reason) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *",
            (
                order.enterprise_id,
                order.outlet_id,
                order.action.value,
                order.effective_from,
                order.issued_at,
                order.issued_by,
                order.reason,
            ),
        )[0]
        stored = order_from_row(row)
        ids = _active_alert_ids(conn, order.enterprise_id, order.outlet_id)
        _with_batch(
            conn, registry, now, ids, order.enterprise_id, lambda b: b.order(stored, lifted=False)
        )
    return stored


def lift_orders(
    conn: psycopg.Connection[Any],
    registry: Registry,
    enterprise_id: str,
    outlet_id: str | None,
    by: str,
    now: datetime,
) -> list[RegulatorOrder]:
    """Lift the orders in force for the enterprise (or exactly that outlet); raises
    OrderNotFound when there is none."""
    with conn.transaction():
        rows = _rows(
            conn,
            "UPDATE regulator_orders SET lifted_at = %s, lifted_by = %s WHERE enterprise_id = %s"
            " AND lifted_at IS NULL AND outlet_id IS NOT DISTINCT FROM %s RETURNING *",
            (now, by, enterprise_id, outlet_id),
        )
        if not rows:
            raise OrderNotFound(enterprise_id, outlet_id)
        lifted = [order_from_row(r) for r in rows]
        ids = _active_alert_ids(conn, enterprise_id, outlet_id)

        def note(batch: Batch) -> None:
            for order in lifted:
                batch.order(order, lifted=True)

        _with_batch(conn, registry, now, ids, enterprise_id, note)
    return lifted


def subscribe(
    conn: psycopg.Connection[Any],
    enterprise_id: str,
    audience: Audience,
    channel: str,
    min_level: AlertLevel,
    quiet: QuietHours | None,
    by: str,
) -> Subscription:
    """Add a subscription; raises InvalidSubscription when Apprise cannot use the URL or the
    enterprise is not in the registry loaded into the database (``*``, every enterprise, is a
    regulator's only)."""
    if not apprise.Apprise().add(channel):
        raise InvalidSubscription("channel", "not a notification URL Apprise understands")
    if audience is Audience.ENTERPRISE and enterprise_id == ALL_ENTERPRISES:
        raise InvalidSubscription("enterprise_id", "an enterprise subscribes for itself only")
    if enterprise_id != ALL_ENTERPRISES and not _rows(
        conn, "SELECT 1 FROM enterprises WHERE enterprise_id = %s", (enterprise_id,)
    ):
        raise InvalidSubscription(
            "enterprise_id",
            f"{enterprise_id!r} is not an enterprise of the loaded registry"
            " (greenwatch db load-registry)",
        )
    row = _rows(
        conn,
        "INSERT INTO alert_subscriptions (enterprise_id, audience, channel, min_level,"
        " quiet_start, quiet_end, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *",
        (
            enterprise_id,
            audience.value,
            channel,
            int(min_level),
            quiet.start if quiet else None,
            quiet.end if quiet else None,
            by,
        ),
    )[0]
    return subscription_from_row(row)


def declare_maintenance(
    conn: psycopg.Connection[Any], window: MaintenanceWindow
) -> MaintenanceWindow:
    """Record a maintenance window (``window_id`` is assigned)."""
    if window.ends_at <= window.starts_at:
        raise InvalidSubscription("to", "the window must end after it starts")
    row = _rows(
        conn,
        "INSERT INTO maintenance_windows (enterprise_id, outlet_id, starts_at, ends_at, reason,"
        " declared_by) VALUES (%s, %s, %s, %s, %s, %s) RETURNING window_id, declared_at",
        (
            window.enterprise_id,
            window.outlet_id,
            window.starts_at,
            window.ends_at,
            window.reason,
            window.declared_by,
        ),
    )[0]
    return MaintenanceWindow(
        row["window_id"],
        window.enterprise_id,
        window.outlet_id,
        window.starts_at,
        window.ends_at,
        window.declared_by,
        window.reason,
        row["declared_at"],
    )


def list_alerts(
    conn: psycopg.Connection[Any], enterprise_id: str | None, state: str | None
) -> list[AlertRecord]:
    """Alerts that have had an episode, newest first, filtered by enterprise and state."""
    rows = _rows(
        conn,
        "SELECT * FROM alerts WHERE episode > 0 AND (%s::text IS NULL OR enterprise_id = %s)"
        " AND (%s::text IS NULL OR state = %s) ORDER BY updated_at DESC, alert_id",
        (enterprise_id, enterprise_id, state, state),
    )
    return [record_from_row(r) for r in rows]


def alert_history(conn: psycopg.Connection[Any], alert_id: str) -> list[Row]:
    """The alert's ``alert_events`` in order."""
    return _rows(
        conn,
        "SELECT event_id, episode, at, kind, actor, level, state, evidence, registry_version"
        " FROM alert_events WHERE alert_id = %s ORDER BY event_id",
        (alert_id,),
    )


def delivery_log(conn: psycopg.Connection[Any], enterprise_id: str | None, limit: int) -> list[Row]:
    """Recent outbox rows with their attempts, newest first."""
    return _rows(
        conn,
        "SELECT o.outbox_id, o.enterprise_id, o.alert_id, o.kind, o.level, o.title, o.status,"
        " o.attempts, o.enqueued_at, o.sent_at, o.last_error,"
        " (SELECT d.channel FROM notification_deliveries d WHERE d.outbox_id = o.outbox_id"
        "  ORDER BY d.delivery_id DESC LIMIT 1) AS channel"
        " FROM notification_outbox o WHERE (%s::text IS NULL OR o.enterprise_id = %s)"
        " ORDER BY o.outbox_id DESC LIMIT %s",
        (enterprise_id, enterprise_id, limit),
    )


def new_order(
    enterprise_id: str,
    outlet_id: str | None,
    action: OrderAction,
    by: str,
    reason: str,
    effective_from: datetime,
    now: datetime,
) -> RegulatorOrder:
    """An order to be issued (its id is assigned by ``issue_order``)."""
    return RegulatorOrder(0, enterprise_id, outlet_id, action, effective_from, now, by, reason)
