"""The outbox dispatcher: delivers ``notification_outbox`` rows through Apprise.

Each pass claims due rows (``status = 'pending'`` and ``next_attempt_at <= now``, ``FOR UPDATE
SKIP LOCKED``, so several dispatchers can run), sends each one, logs the attempt in
``notification_deliveries`` (channel with secrets masked, duration, error) and marks the row
``sent``, or schedules a retry with exponential backoff (``retry_base_s × 2^(attempt-1)``,
capped at ``retry_max_s``), or gives up (``dead``) after ``max_attempts``. Delivery is
at-least-once: a crash between sending and committing sends that notice again.

Channels are Apprise URLs: ``mailto://`` / ``mailtos://`` (SMTP), ``json://`` / ``form://``
(webhooks, also SMS gateways that take a webhook), ``dingtalk://``, ``wecombot://``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import apprise
import psycopg
from psycopg.rows import dict_row

from alerts.errors import DeliveryFailed

log = logging.getLogger(__name__)
_USERINFO = re.compile(r"(?<=://)[^/@]*@")


def mask_channel(channel: str) -> str:
    """The channel URL with credentials and tokens masked (for the delivery log)."""
    server = apprise.Apprise.instantiate(channel)
    if server is None:
        return _USERINFO.sub("****@", channel.split("?", 1)[0])
    return str(server.url(privacy=True)).split("?", 1)[0]  # type: ignore[no-untyped-call]


class Transport(Protocol):
    """Sends one message to one channel; raises DeliveryFailed. May block (network I/O)."""

    def send(self, channel: str, title: str, body: str) -> None: ...


class AppriseTransport:
    """Delivers through Apprise (one channel per call), collecting its warnings as the reason."""

    def send(self, channel: str, title: str, body: str) -> None:
        notifier = apprise.Apprise()
        if not notifier.add(channel):
            raise DeliveryFailed(mask_channel(channel), "not a URL Apprise understands")
        with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
            ok = notifier.notify(title=title, body=body)
        if not ok:
            reason = captured.getvalue().strip().splitlines()
            raise DeliveryFailed(mask_channel(channel), reason[-1] if reason else "refused")


@dataclass(frozen=True, slots=True)
class NotifierOptions:
    batch_size: int = 20
    max_attempts: int = 8
    retry_base_s: float = 10.0
    retry_max_s: float = 3600.0
    poll_s: float = 0.5


def backoff(attempts: int, options: NotifierOptions) -> timedelta:
    """Delay before attempt ``attempts + 1`` after ``attempts`` failures."""
    return timedelta(seconds=min(options.retry_max_s, options.retry_base_s * 2 ** (attempts - 1)))


class Dispatcher:
    """Delivers due outbox rows; ``run`` loops until ``stop`` is set (blocking)."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        transport: Transport | None = None,
        options: NotifierOptions | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._connect = connect
        self._transport = transport or AppriseTransport()
        self._options = options or NotifierOptions()
        self._clock = clock

    def dispatch_once(self, conn: psycopg.Connection[Any]) -> int:
        """One pass over due rows (one transaction); returns the attempts made."""
        now = self._clock()
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT outbox_id, channel, title, body, attempts FROM notification_outbox"
                " WHERE status = 'pending' AND next_attempt_at <= %s"
                " ORDER BY next_attempt_at, outbox_id LIMIT %s FOR UPDATE SKIP LOCKED",
                (now, self._options.batch_size),
            ).fetchall()
            for row in rows:
                self._deliver(cur, row)
        return len(rows)

    def _deliver(self, cur: psycopg.Cursor[Any], row: dict[str, Any]) -> None:
        attempt = row["attempts"] + 1
        started = time.perf_counter()
        error: str | None = None
        try:
            self._transport.send(row["channel"], row["title"], row["body"])
        except DeliveryFailed as failed:
            error = failed.reason
        duration_ms = (time.perf_counter() - started) * 1000
        cur.execute(
            "INSERT INTO notification_deliveries (outbox_id, attempt, ok, channel, duration_ms,"
            " error) VALUES (%s, %s, %s, %s, %s, %s)",
            (
                row["outbox_id"],
                attempt,
                error is None,
                mask_channel(row["channel"]),
                duration_ms,
                error,
            ),
        )
        now = self._clock()
        if error is None:
            status, next_attempt = "sent", now
        elif attempt >= self._options.max_attempts:
            status, next_attempt = "dead", now
            log.warning("notice %s dead after %d attempts: %s", row["outbox_id"], attempt, error)
        else:
            status, next_attempt = "pending", now + backoff(attempt, self._options)
        cur.execute(
            "UPDATE notification_outbox SET status = %s, attempts = %s, next_attempt_at = %s,"
            " sent_at = CASE WHEN %s THEN %s END, last_error = %s WHERE outbox_id = %s",
            (status, attempt, next_attempt, error is None, now, error, row["outbox_id"]),
        )

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; reconnects after database errors (never dies on
        them: the service's consumer loop goes on regardless)."""
        while not stop.is_set():
            try:
                with self._connect() as conn:
                    while not stop.is_set():
                        if self.dispatch_once(conn) == 0:
                            stop.wait(self._options.poll_s)
            except psycopg.Error as error:  # unavailable, or a row it cannot update: retry
                log.warning("notifier: database error (%s); retrying", error)
                stop.wait(max(1.0, min(5.0, self._options.retry_base_s)))
