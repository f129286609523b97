"""The publisher against a local HTTP server that records requests and answers like Grafana.

Grafana itself cannot run on these machines (no package, no Docker), so this server stands in
for its HTTP API: it answers the folder and dashboard endpoints the way Grafana 10/11 documents
them and records every request, and the tests assert what a real Grafana would have received
(paths, the Bearer token, the dashboard JSON). It goes through grafana-client and a real socket.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from grafana.dashboards import DASHBOARDS, FOLDER_TITLE, FOLDER_UID
from grafana.publish import (
    DashboardRejected,
    GrafanaAuthError,
    GrafanaUnreachable,
    PublishError,
    connect,
    publish,
)
from grafana.render import render_dashboard
from greenwatch.cli import app
from runtime.settings import Settings

TOKEN = "glsa_test_token"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGrafana:
    """Answers: ``folder_exists``; ``status_for`` maps "METHOD /path" to a forced status."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    folder_exists: bool = False
    status_for: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def answer(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        forced = self.status_for.get(f"{method} {path}")
        if forced is not None:
            return forced
        api = path.split("/api/", 1)[1]
        if method == "GET" and api == f"folders/{FOLDER_UID}":
            if self.folder_exists:
                return 200, {"uid": FOLDER_UID, "title": FOLDER_TITLE, "version": 1}
            return 404, {"message": "folder not found", "status": "not-found"}
        if method == "POST" and api == "folders":
            self.folder_exists = True
            return 200, {"uid": body["uid"], "title": body["title"], "version": 1}
        if method == "POST" and api == "dashboards/db":
            uid = body["dashboard"]["uid"]
            versions = sum(1 for r in self.requests if r.path == path)
            return 200, {
                "status": "success",
                "uid": uid,
                "version": versions,
                "url": f"/d/{uid}/slug",
            }
        return 404, {"message": "not found"}


def _handler(fake: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            fake.requests.append(Recorded(self.command, self.path, dict(self.headers), body))
            status, answer = fake.answer(self.command, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def grafana_server() -> Iterator[FakeGrafana]:
    fake = FakeGrafana(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _publish(fake: FakeGrafana, url: str | None = None) -> Any:
    return publish(
        connect(url or fake.url, TOKEN, timeout_s=5),
        DASHBOARDS,
        folder_uid=FOLDER_UID,
        folder_title=FOLDER_TITLE,
        message="test publish",
    )


def test_publish_creates_the_folder_then_upserts_every_dashboard(
    grafana_server: FakeGrafana,
) -> None:
    report = _publish(grafana_server)

    assert [(r.method, r.path) for r in grafana_server.requests] == [
        ("GET", f"/api/folders/{FOLDER_UID}"),
        ("POST", "/api/folders"),
    ] + [("POST", "/api/dashboards/db")] * len(DASHBOARDS)
    assert grafana_server.requests[1].body == {"title": FOLDER_TITLE, "uid": FOLDER_UID}
    assert {r.headers["Authorization"] for r in grafana_server.requests} == {f"Bearer {TOKEN}"}
    payloads = [r.body for r in grafana_server.requests[2:]]
    for dashboard, payload in zip(DASHBOARDS, payloads, strict=True):
        assert payload["folderUid"] == FOLDER_UID
        assert payload["overwrite"] is True
        assert payload["message"] == "test publish"
        assert payload["dashboard"] == json.loads(json.dumps(render_dashboard(dashboard)))
        assert payload["dashboard"]["id"] is None
    assert report.folder_created is True
    assert [d.uid for d in report.dashboards] == [d.uid for d in DASHBOARDS]
    assert report.dashboards[0].url == f"/d/{DASHBOARDS[0].uid}/slug"


def test_publish_into_an_existing_folder_does_not_create_it(grafana_server: FakeGrafana) -> None:
    grafana_server.folder_exists = True

    report = _publish(grafana_server)

    assert report.folder_created is False
    assert ("POST", "/api/folders") not in [(r.method, r.path) for r in grafana_server.requests]


def test_grafana_under_a_sub_path(grafana_server: FakeGrafana) -> None:
    grafana_server.folder_exists = True

    _publish(grafana_server, url=grafana_server.url + "/grafana")  # no trailing slash

    assert {r.path.split("/api/")[0] for r in grafana_server.requests} == {"/grafana"}


def test_wrong_token_is_an_auth_error(grafana_server: FakeGrafana) -> None:
    grafana_server.status_for[f"GET /api/folders/{FOLDER_UID}"] = (
        401,
        {"message": "invalid API key"},
    )

    with pytest.raises(GrafanaAuthError) as caught:
        _publish(grafana_server)

    assert caught.value.status == 401
    assert caught.value.url == grafana_server.url


def test_a_refused_dashboard_names_its_uid_and_grafanas_reason(
    grafana_server: FakeGrafana,
) -> None:
    grafana_server.folder_exists = True
    grafana_server.status_for["POST /api/dashboards/db"] = (
        400,
        {"message": "Cannot save provisioned dashboard", "status": "error"},
    )

    with pytest.raises(DashboardRejected) as caught:
        _publish(grafana_server)

    assert caught.value.uid == DASHBOARDS[0].uid
    assert caught.value.status == 400
    assert "provisioned" in caught.value.message


def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(GrafanaUnreachable):
        publish(
            connect(f"http://127.0.0.1:{port}", TOKEN, timeout_s=2),
            DASHBOARDS,
            folder_uid=FOLDER_UID,
            folder_title=FOLDER_TITLE,
        )


def test_a_url_without_scheme_is_refused_before_any_request() -> None:
    with pytest.raises(PublishError):
        connect("grafana.example.org:3000", TOKEN)


def test_cli_takes_the_token_from_the_environment(grafana_server: FakeGrafana) -> None:
    result = CliRunner().invoke(
        app,
        ["grafana", "publish", "--url", grafana_server.url],
        obj=Settings(),
        env={"GREENWATCH_GRAFANA_TOKEN": "from-env"},
    )

    assert result.exit_code == 0, result.output
    assert f"folder {FOLDER_UID} created" in result.stdout
    assert all(d.uid in result.stdout for d in DASHBOARDS)
    assert {r.headers["Authorization"] for r in grafana_server.requests} == {"Bearer from-env"}


def test_cli_reports_an_auth_error_and_exits_1(grafana_server: FakeGrafana) -> None:
    grafana_server.status_for[f"GET /api/folders/{FOLDER_UID}"] = (403, {"message": "denied"})

    result = CliRunner().invoke(
        app, ["grafana", "publish", "--url", grafana_server.url, "--token", "t"], obj=Settings()
    )

    assert result.exit_code == 1
    assert "HTTP 403" in result.stderr
