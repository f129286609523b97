"""Notices at most once per notice and channel, across a dispatcher killed mid-batch, and
subscriptions only for enterprises the registry knows (real PostgreSQL, a real HTTP receiver,
``greenwatch alerts notify`` as a real process)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alerts_harness import GREENWATCH, POWER, wait_for
from conftest import AlertsEnv

from alerts.notifier import IN_DOUBT_REASON, NOTICE_ID_HEADER

NOTICES = 60


class CountingReceiver:
    """A webhook receiver that takes 50 ms per POST and counts every notice it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []  # (title, idempotency header)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                import json

                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(0.05)
                with receiver.lock:
                    receiver.received.append(
                        (body["title"], self.headers.get(NOTICE_ID_HEADER, ""))
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/count"

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _enqueue(env: AlertsEnv, channel: str) -> None:
    env.cli("subscribe", POWER[0], "--channel", channel)
    env.query(
        "INSERT INTO alerts (alert_id, subject, factor, rule, enterprise_id, state, level, episode,"
        " basis, registry_version) VALUES ('x/-/manual', 'x', NULL, 'manual', %s, 'firing', 2, 1,"
        " 'exceedance', 'alerts-it-1') RETURNING alert_id",
        POWER[0],
    )
    env.query(
        "INSERT INTO notification_outbox (alert_id, episode, subscription_id, enterprise_id,"
        " channel, kind, level, title, body, not_before, next_attempt_at)"
        " SELECT 'x/-/manual', 1, s.subscription_id, %s, s.channel, 'opened', 2,"
        " 'notice ' || n, '正文', now(), now()"
        " FROM alert_subscriptions s, generate_series(1, %s) n RETURNING outbox_id",
        POWER[0],
        NOTICES,
    )


def _notify_process(env: AlertsEnv) -> subprocess.Popen[bytes]:
    environment = dict(os.environ)
    environment.update(
        GREENWATCH_KAFKA_BOOTSTRAP=str(env.settings.kafka_bootstrap),
        GREENWATCH_DATABASE_URL=env.dsn,
        GREENWATCH_TOPIC_PREFIX=env.prefix,
    )
    return subprocess.Popen(
        [str(GREENWATCH), "alerts", "notify"],
        env=environment, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_dispatcher_killed_mid_batch_sends_no_notice_twice(alerts_env: AlertsEnv) -> None:
    env = alerts_env
    receiver = CountingReceiver()
    try:
        _enqueue(env, receiver.url)
        process = _notify_process(env)
        try:
            wait_for("a dozen notices delivered", lambda: receiver.count() >= 12, timeout_s=60)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(10)

        def settled() -> bool:
            env.cli("notify", "--once")
            return not env.query(
                "SELECT 1 FROM notification_outbox WHERE status IN ('pending', 'sending')"
            )

        wait_for("every notice settled", settled, timeout_s=90)
        titles = Counter(title for title, _ in receiver.received)
        assert [t for t, n in titles.items() if n > 1] == []  # none twice
        status = dict(env.query("SELECT title, status FROM notification_outbox"))
        by_status = Counter(status.values())
        assert set(by_status) <= {"sent", "in_doubt"}, by_status
        assert by_status["in_doubt"] <= 1  # one claim at a time: at most one in doubt
        assert by_status["sent"] + by_status["in_doubt"] == NOTICES
        received = set(titles)
        sent = {
            title
            for (title,) in env.query("SELECT title FROM notification_outbox WHERE status = 'sent'")
        }
        assert sent <= received  # every notice recorded as sent did arrive
        assert len(received - sent) <= by_status["in_doubt"]
        # the idempotency key is the outbox id, the same on every channel's copy
        ids = dict(env.query("SELECT title, outbox_id::text FROM notification_outbox"))
        assert all(header == ids[title] for title, header in receiver.received)
        doubted = env.query(
            "SELECT d.error FROM notification_deliveries d JOIN notification_outbox o"
            " USING (outbox_id) WHERE o.status = 'in_doubt'"
        )
        assert doubted == [(IN_DOUBT_REASON,)] * by_status["in_doubt"]
    finally:
        receiver.close()


def test_a_subscription_for_an_unknown_enterprise_is_refused(alerts_env: AlertsEnv) -> None:
    env = alerts_env
    refused = env.cli_fails("subscribe", "E-NO-SUCH", "--channel", env.receivers.hook_url("nobody"))
    assert "E-NO-SUCH" in refused and "registry" in refused
    assert env.query("SELECT count(*) FROM alert_subscriptions") == [(0,)]
    # a regulator's '*' and a known enterprise are still taken
    env.cli("subscribe", "*", "--audience", "regulator", "--channel", env.receivers.hook_url("R"))
    env.cli("subscribe", POWER[0], "--channel", env.receivers.hook_url("E"))
    assert env.query("SELECT count(*) FROM alert_subscriptions") == [(2,)]
