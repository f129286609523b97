"""Harness for the alert service's integration tests: real receivers (aiosmtpd SMTP server and
an HTTP webhook receiver on loopback), the service as a real process, a Kafka producer of
verdicts and quality signals, and bounded waits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from kafka import KafkaProducer
from services import as_service_role

from runtime.kafka_access import KafkaAccess
from runtime.settings import Settings
from schemas.alert import QualityKind, QualitySignal
from schemas.measurement import PeriodKind
from schemas.topics import Topic, topic_name
from schemas.verdict import Rule, Verdict, VerdictStatus

GREENWATCH = Path(sys.executable).parent / "greenwatch"
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
POWER = ("E-TP-01", "E-TP-01-G1", "DEMO-TP01-G1")
CEMENT = ("E-CM-01", "E-CM-01-K1", "DEMO-CM01-K1")
SEWAGE = ("E-WW-01", "E-WW-01-W1", "DEMO-WW01-W1")
T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T | None], timeout_s: float = 30.0) -> T:
    """Poll ``check`` until it returns a truthy value; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str


@dataclass
class Inbox:
    """What the SMTP server and the webhook receiver got (thread-safe)."""

    mails: list[Mail] = field(default_factory=list)
    hooks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_next: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mail_to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if address in m.to]

    def hooks_at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for p, body in self.hooks if p == path]


class _Smtp:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        with self.inbox.lock:
            self.inbox.mails.append(Mail(tuple(envelope.rcpt_tos), str(message["Subject"]), body))
        return "250 OK"


def _hook_handler(inbox: Inbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with inbox.lock:
                failing = inbox.fail_next.get(self.path, 0)
                if failing:
                    inbox.fail_next[self.path] = failing - 1
                else:
                    inbox.hooks.append((self.path, json.loads(raw)))
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class Receivers:
    """A real SMTP server (aiosmtpd) and a real HTTP webhook receiver on loopback ports."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.smtp_port = free_port()
        self._smtp = Controller(_Smtp(self.inbox), hostname="127.0.0.1", port=self.smtp_port)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _hook_handler(self.inbox))
        self.http_port = int(self._http.server_address[1])

    def start(self) -> None:
        self._smtp.start()
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._smtp.stop()
        self._http.shutdown()
        self._http.server_close()

    def mail_url(self, to: str) -> str:
        return (
            f"mailto://127.0.0.1:{self.smtp_port}?from=greenwatch@test.local&to={to}&mode=insecure"
        )

    def hook_url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.http_port}/{path}"


class ServiceProcess:
    """``greenwatch alerts run`` as a real process with the test's settings: with their
    registry file, or (``registry_file`` None) following the registry topic."""

    def __init__(self, settings: Settings, log: Path, group: str) -> None:
        self._settings = settings
        self._log = log
        self._group = group
        self.process: subprocess.Popen[bytes] | None = None
        self.local_stack_state: Path | None = None
        """Start without GREENWATCH_DATABASE_URL, as on the local stack whose state dir this
        is: the service logs in as its own role; the schema comes through PGOPTIONS."""

    def start(self, *extra: str) -> None:
        env = dict(os.environ)
        env.pop("GREENWATCH_REGISTRY_FILE", None)
        env.update(
            GREENWATCH_KAFKA_BOOTSTRAP=str(self._settings.kafka_bootstrap),
            GREENWATCH_DATABASE_URL=self._settings.database_url.get_secret_value()
            if self._settings.database_url
            else "",
            GREENWATCH_TOPIC_PREFIX=self._settings.topic_prefix,
            PYTHONUNBUFFERED="1",
        )
        if self._settings.registry_file is not None:
            env["GREENWATCH_REGISTRY_FILE"] = str(self._settings.registry_file)
        if self.local_stack_state is not None and self._settings.database_url is not None:
            dsn = self._settings.database_url.get_secret_value()
            env = as_service_role(env, self.local_stack_state, dsn)
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(GREENWATCH), "alerts", "run", "--group", self._group, "--tick-seconds",
                 "0.3", "--retry-base-seconds", "0.3", *extra],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def stop(self, kill: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self._log.read_text("utf-8", "replace")


def build_verdict(
    hour: int,
    status: str,
    site: tuple[str, str, str] = POWER,
    factor: str = "a21026",
    limit: float = 35.0,
    registry_version: str = "alerts-it-1",
) -> Verdict:
    """An hourly verdict ``hour`` hours after T0 (value 0.5/0.9/1.5/3.5 × limit by status),
    judged under ``registry_version``."""
    value = {"compliant": 0.5, "warning": 0.9, "exceedance": 1.5, "severe": 3.5}.get(status, 0.0)
    return Verdict(
        enterprise_id=site[0], outlet_id=site[1], factor=factor,
        rule=Rule.HOURLY_CONCENTRATION, period=PeriodKind.HOUR,
        period_start=T0 + timedelta(hours=hour), value=value * limit, limit=limit,
        ratio=value, status=VerdictStatus(status),
        standard="ULE-coal-power" if site == POWER else None,
        evidence={"valid_minutes": 60, "flag_counts": {"N": 60}},
        registry_version=registry_version,
    )  # fmt: skip


class Feed:
    """Produces verdicts and quality signals to the test's topics (acks=all, flushed)."""

    def __init__(self, kafka: KafkaAccess, prefix: str) -> None:
        self.producer = KafkaProducer(**kafka.client_config(), acks="all")
        self.verdicts = topic_name(prefix, Topic.VERDICTS)
        self.quality = topic_name(prefix, Topic.QUALITY)

    def verdict(
        self,
        hour: int,
        status: str,
        site: tuple[str, str, str] = POWER,
        factor: str = "a21026",
        limit: float = 35.0,
        revision: int | None = None,
        registry_version: str = "alerts-it-1",
    ) -> Verdict:
        """Send a verdict (with a ``revision`` header, as the streams do, when given)."""
        item = build_verdict(hour, status, site, factor, limit, registry_version)
        headers = [("revision", str(revision).encode())] if revision is not None else None
        self.raw(self.verdicts, site[1], item.model_dump_json().encode(), headers)
        return item

    def signal(self, kind: QualityKind, active: bool, device: str = POWER[2]) -> None:
        item = QualitySignal(
            device_id=device, kind=kind, active=active, observed_at=datetime.now(UTC)
        )
        self.raw(self.quality, device, item.model_dump_json().encode())

    def raw(
        self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        self.producer.send(topic, key=key.encode(), value=value, headers=headers)
        self.producer.flush(timeout=30)

    def close(self) -> None:
        self.producer.close(timeout=5)
