"""Local notification receivers for the demo: a real SMTP server and a real webhook endpoint.

The alert service delivers to them through Apprise exactly as it would to an enterprise's mail
server or DingTalk/WeCom robot; the demo prints what arrives. Both run in background threads
on loopback ports chosen by the OS.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

Printer = Callable[[str], None]


@dataclass
class Received:
    """What the sinks have received so far (thread-safe counters and the last lines)."""

    emails: int = 0
    webhooks: int = 0
    lines: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, line: str) -> None:
        with self.lock:
            if kind == "email":
                self.emails += 1
            else:
                self.webhooks += 1
            self.lines.append(f"[{kind}] {line}")
            del self.lines[:-200]


class _SmtpHandler:
    def __init__(self, received: Received, printer: Printer) -> None:
        self._received = received
        self._printer = printer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        subject = str(message.get("Subject", ""))
        to = ", ".join(envelope.rcpt_tos)
        body = ""
        if isinstance(message, EmailMessage):
            part = message.get_body(preferencelist=("plain", "html"))
            body = part.get_content().strip().splitlines()[0] if part is not None else ""
        line = f"to {to}: {subject} | {body[:120]}"
        self._received.add("email", line)
        self._printer(f"📧 {line}")
        return "250 OK"


def _webhook_handler(received: Received, printer: Printer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                document = json.loads(raw)
                text = str(document.get("title") or "") + " " + str(document.get("message") or "")
            except (ValueError, AttributeError):
                text = raw.decode("utf-8", "replace")
            line = f"{self.path}: {text.strip()[:160]}"
            received.add("webhook", line)
            printer(f"🔔 {line}")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for servers that need one up front)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalSinks:
    """Start/stop the SMTP and webhook receivers; ``smtp_port`` and ``webhook_url`` once started."""

    def __init__(self, printer: Printer) -> None:
        self.received = Received()
        self._printer = printer
        self._smtp: Controller | None = None
        self._http: ThreadingHTTPServer | None = None
        self.smtp_port = 0
        self.webhook_port = 0

    def start(self) -> None:
        """Bind both servers on 127.0.0.1 (free ports); returns once they accept connections."""
        self.smtp_port = free_port()
        self._smtp = Controller(
            _SmtpHandler(self.received, self._printer), hostname="127.0.0.1", port=self.smtp_port
        )
        self._smtp.start()
        handler = _webhook_handler(self.received, self._printer)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.webhook_port = int(self._http.server_address[1])
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def mail_url(self, to: str) -> str:
        """Apprise URL delivering through the local SMTP server to ``to``."""
        return (
            f"mailto://127.0.0.1:{self.smtp_port}?from=greenwatch@demo.local&to={to}&mode=insecure"
        )

    def webhook_url(self, path: str) -> str:
        """Apprise JSON-webhook URL to the local receiver under ``path``."""
        return f"json://127.0.0.1:{self.webhook_port}/{path.strip('/')}"

    def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
