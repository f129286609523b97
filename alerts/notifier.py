"""The outbox dispatcher: delivers ``notification_outbox`` rows through Apprise.

Delivery is **at most once per notice and channel**, across crashes. Each notice goes through
three steps, each its own committed transaction:

1. *claim*: one due row (``status = 'pending'`` and ``next_attempt_at <= now``, ``FOR UPDATE
   SKIP LOCKED``, so several dispatchers can run) becomes ``sending``, stamped with the claiming
   database session (``claimed_by`` = backend pid and start time) and its attempt counted;
2. *send*: through the transport, with the outbox id as the notice's idempotency key (webhook
   channels get it as the ``X-Greenwatch-Notice-Id`` header, so a receiver can deduplicate);
3. *record*: the attempt is logged in ``notification_deliveries`` (channel with secrets masked,
   duration, error) and the row becomes ``sent``, or ``pending`` again with exponential backoff
   (``retry_base_s × 2^(attempt-1)``, capped at ``retry_max_s``) after a refused attempt, or
   ``dead`` after ``max_attempts``.

A dispatcher that dies between 1 and 3 leaves a ``sending`` row whose claiming session no longer
exists. The next pass of any dispatcher settles it as ``in_doubt`` (logged as a failed attempt
with the reason, counted, shown by ``alerts deliveries``) instead of sending it again: the notice
may or may not have reached its channel, and a duplicate enforcement notice is the worse error.
At most one notice per crash can be in doubt, since a dispatcher holds one claim at a time.

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
IN_DOUBT_REASON = (
    "in doubt: the dispatcher stopped between claiming and recording this notice;"
    " not sent again (at most once)"
)
_USERINFO = re.compile(r"(?<=://)[^/@]*@")


def mask_channel(channel: str) -> str:
    """The channel URL with credentials and tokens masked (for the delivery log)."""
    server = apprise.Apprise.instantiate(channel)
    if server is None:
        return _USERINFO.sub("****@", channel.split("?", 1)[0])
    return str(server.url(privacy=True)).split("?", 1)[0]  # type: ignore[no-untyped-call]


NOTICE_ID_HEADER = "X-Greenwatch-Notice-Id"
_HEADER_SCHEMES = ("json", "jsons", "form", "forms", "xml", "xmls")


class Transport(Protocol):
    """Sends one notice to one channel; raises DeliveryFailed. May block (network I/O).
    ``notice_id`` is the idempotency key (the outbox id) a receiver may deduplicate on."""

    def send(self, channel: str, title: str, body: str, notice_id: int) -> None: ...


def with_notice_id(channel: str, notice_id: int) -> str:
    """The channel URL with the idempotency header added where the channel carries headers
    (Apprise's ``+Header=value`` parameters of webhook URLs); other channels unchanged."""
    scheme = channel.split("://", 1)[0].lower()
    if scheme not in _HEADER_SCHEMES:
        return channel
    joiner = "&" if "?" in channel else "?"
    return f"{channel}{joiner}+{NOTICE_ID_HEADER}={notice_id}"


class AppriseTransport:
    """Delivers through Apprise (one channel per call), collecting its warnings as the reason."""

    def send(self, channel: str, title: str, body: str, notice_id: int) -> None:
        notifier = apprise.Apprise()
        if not notifier.add(with_notice_id(channel, notice_id)):
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
        """One pass: settle the claims of dispatchers that died, then claim, send and record
        up to ``batch_size`` due notices, one at a time; returns the attempts made. Blocks on
        the network; raises psycopg.Error when the database fails (the claim in flight, if
        any, is settled as in doubt by the next pass)."""
        self.settle_abandoned(conn)
        attempts = 0
        while attempts < self._options.batch_size:
            row = self._claim(conn)
            if row is None:
                break
            error = self._send(row)
            self._record(conn, row, error)
            attempts += 1
        return attempts

    def settle_abandoned(self, conn: psycopg.Connection[Any]) -> list[int]:
        """Mark ``in_doubt`` every ``sending`` row whose claiming database session is gone
        (its dispatcher died between claim and record); returns their outbox ids."""
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "UPDATE notification_outbox o SET status = 'in_doubt', last_error = %s"
                " WHERE o.status = 'sending' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
                "  WHERE a.pid::text || '@' || a.backend_start::text = o.claimed_by)"
                " RETURNING o.outbox_id, o.channel, o.attempts",
                (IN_DOUBT_REASON,),
            ).fetchall()
            for row in rows:
                log.warning("notice %s in doubt: %s", row["outbox_id"], IN_DOUBT_REASON)
                cur.execute(
                    "INSERT INTO notification_deliveries (outbox_id, attempt, ok, channel,"
                    " duration_ms, error) VALUES (%s, %s, false, %s, 0, %s)",
                    (row["outbox_id"], row["attempts"], mask_channel(row["channel"]),
                     IN_DOUBT_REASON),
                )  # fmt: skip
        return [int(row["outbox_id"]) for row in rows]

    def _claim(self, conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "UPDATE notification_outbox SET status = 'sending', attempts = attempts + 1,"
                " claimed_at = %(now)s, claimed_by = (SELECT pid::text || '@' ||"
                "  backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid())"
                " WHERE outbox_id = (SELECT outbox_id FROM notification_outbox"
                "  WHERE status = 'pending' AND next_attempt_at <= %(now)s"
                "  ORDER BY next_attempt_at, outbox_id LIMIT 1 FOR UPDATE SKIP LOCKED)"
                " RETURNING outbox_id, channel, title, body, attempts",
                {"now": self._clock()},
            ).fetchone()

    def _send(self, row: dict[str, Any]) -> tuple[str | None, float]:
        started = time.perf_counter()
        try:
            self._transport.send(row["channel"], row["title"], row["body"], row["outbox_id"])
        except DeliveryFailed as failed:
            return failed.reason, (time.perf_counter() - started) * 1000
        return None, (time.perf_counter() - started) * 1000

    def _record(
        self, conn: psycopg.Connection[Any], row: dict[str, Any], sent: tuple[str | None, float]
    ) -> None:
        error, duration_ms = sent
        attempt = row["attempts"]
        now = self._clock()
        if error is None:
            status, next_attempt = "sent", now
        elif attempt >= self._options.max_attempts:
            status, next_attempt = "dead", now
            log.warning("notice %s dead after %d attempts: %s", row["outbox_id"], attempt, error)
        else:
            status, next_attempt = "pending", now + backoff(attempt, self._options)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "INSERT INTO notification_deliveries (outbox_id, attempt, ok, channel,"
                " duration_ms, error) VALUES (%s, %s, %s, %s, %s, %s)",
                (row["outbox_id"], attempt, error is None, mask_channel(row["channel"]),
                 duration_ms, error),
            )  # fmt: skip
            cur.execute(
                "UPDATE notification_outbox SET status = %s, next_attempt_at = %s,"
                " sent_at = CASE WHEN %s THEN %s END, last_error = %s WHERE outbox_id = %s",
                (status, next_attempt, error is None, now, error, row["outbox_id"]),
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
