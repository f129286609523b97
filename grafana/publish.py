"""Publish the dashboards to a running Grafana over its HTTP API (grafana-client).

``connect(url, token)`` builds the client (``Authorization: Bearer <token>``, a service
account token); ``publish(api, dashboards)`` makes sure the folder exists (created with a
fixed uid if missing) and upserts every dashboard into it with ``overwrite``: the dashboard's
``uid`` is the key, so publishing twice changes nothing but Grafana's version counter.

Blocking (HTTP, per-request timeout). Errors, one root:

    PublishError                    root, carries the Grafana URL
    ├── GrafanaUnreachable          connection refused, DNS, timeout (reason)
    ├── GrafanaAuthError            401/403: token missing, wrong or without permission
    ├── FolderError                 the folder could not be read or created (status, message)
    └── DashboardRejected           Grafana refused a dashboard (uid, status, message)

Provisioning by files (``grafana/provisioning``) is the other way in; both can be used, but a
file-provisioned dashboard cannot be overwritten by the API (Grafana answers 400).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from grafana_client import GrafanaApi  # type: ignore[attr-defined]  # documented import
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaServerError,
    GrafanaTimeoutError,
)

from grafana.errors import GrafanaError
from grafana.model import Dashboard
from grafana.render import render_dashboard

DEFAULT_TIMEOUT_S = 10.0


class PublishError(GrafanaError):
    """Root of the publisher's errors; ``url`` is the Grafana base URL."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url


class GrafanaUnreachable(PublishError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, f"Grafana unreachable ({reason})")
        self.reason = reason


class GrafanaAuthError(PublishError):
    def __init__(self, url: str, status: int) -> None:
        super().__init__(
            url,
            f"HTTP {status}: the token is missing, wrong, or lacks dashboard/folder "
            "write permission (use a service account token with the Editor role)",
        )
        self.status = status


class FolderError(PublishError):
    def __init__(self, url: str, folder_uid: str, status: int, message: str) -> None:
        super().__init__(url, f"folder {folder_uid!r}: HTTP {status}: {message}")
        self.folder_uid = folder_uid
        self.status = status
        self.message = message


class DashboardRejected(PublishError):
    def __init__(self, url: str, uid: str, status: int, message: str) -> None:
        super().__init__(url, f"dashboard {uid!r} rejected: HTTP {status}: {message}")
        self.uid = uid
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class PublishedDashboard:
    """What Grafana answered for one dashboard: its uid, version and URL path."""

    uid: str
    title: str
    version: int | None
    url: str | None


@dataclass(frozen=True, slots=True)
class PublishReport:
    folder_uid: str
    folder_created: bool
    dashboards: tuple[PublishedDashboard, ...]


def connect(url: str, token: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> GrafanaApi:
    """A client for the Grafana at ``url`` (``http(s)://host[:port][/sub/path]``).

    Raises PublishError for a URL without scheme or host. Makes no request.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PublishError(url, "expected an http(s)://host[:port][/path] URL")
    # grafana-client appends "api" to the path prefix: a sub-path needs its trailing slash.
    path = parts.path.rstrip("/") + "/" if parts.path.strip("/") else ""
    normalised = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    api: GrafanaApi = GrafanaApi.from_url(normalised, credential=token, timeout=timeout_s)
    return api


def publish(
    api: GrafanaApi,
    dashboards: Sequence[Dashboard],
    *,
    folder_uid: str,
    folder_title: str,
    message: str = "greenwatch grafana publish",
) -> PublishReport:
    """Ensure the folder, then upsert each dashboard (overwrite); raises PublishError."""
    base = _base_url(api)
    created = _ensure_folder(api, base, folder_uid, folder_title)
    published = []
    for dashboard in dashboards:
        payload = {
            "dashboard": render_dashboard(dashboard),
            "folderUid": folder_uid,
            "overwrite": True,
            "message": message,
        }
        answer = _call(
            base,
            partial(api.dashboard.update_dashboard, dashboard=payload),
            partial(DashboardRejected, base, dashboard.uid),
        )
        published.append(
            PublishedDashboard(
                uid=str(answer.get("uid", dashboard.uid)),
                title=dashboard.title,
                version=answer.get("version"),
                url=answer.get("url"),
            )
        )
    return PublishReport(folder_uid, created, tuple(published))


def _ensure_folder(api: GrafanaApi, base: str, uid: str, title: str) -> bool:
    """True if the folder had to be created."""

    rejected = partial(FolderError, base, uid)
    try:
        _call(base, partial(api.folder.get_folder, uid), rejected)
        return False
    except FolderError as exc:
        if exc.status != 404:
            raise
    _call(base, partial(api.folder.create_folder, title, uid=uid), rejected)
    return True


def _call(
    base: str,
    request: Callable[[], Any],
    rejected: Callable[[int, str], PublishError],
) -> Any:
    """Run one grafana-client request, translating its exceptions to PublishError."""
    try:
        return request()
    except GrafanaTimeoutError as exc:
        raise GrafanaUnreachable(base, f"timeout: {exc.message}") from exc
    except (GrafanaClientError, GrafanaServerError) as exc:
        status = int(exc.status_code)
        if status in (401, 403):
            raise GrafanaAuthError(base, status) from exc
        raise rejected(status, _message(exc)) from exc
    except GrafanaException as exc:  # status 0: an HTTP-level failure without a response
        raise GrafanaUnreachable(base, str(exc.message)) from exc
    except OSError as exc:  # connection refused, DNS, TLS: niquests' errors are OSErrors
        raise GrafanaUnreachable(base, str(exc)) from exc


def _message(exc: GrafanaException) -> str:
    response = exc.response
    if isinstance(response, dict) and "message" in response:
        return str(response["message"])
    return str(exc.message)


def _base_url(api: GrafanaApi) -> str:
    return str(api.url or api.client.url)
