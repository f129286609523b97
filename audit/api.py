"""The read API (``greenwatch api serve``): FastAPI over the database, scoped by token.

Who may call what: every ``/v1`` endpoint needs ``Authorization: Bearer gwa_…`` (``greenwatch
api token create``); the resource's roles (``audit.resources``) and the token's scope decide
what it sees, in the query (``audit.queries``) and again in PostgreSQL under row-level security
(``audit.db``). ``/openapi.json``, ``/docs`` (Swagger UI from the ``swagger-ui-bundle``
package, no CDN) and ``/health`` carry no data and are public.

Lists are keyset-paginated: ``{"items": [...], "next_cursor": "…" | null}``; pass
``cursor=<next_cursor>`` for the next page. Times come back as ISO 8601 in China time
(+08:00). Every error is an RFC 9457 problem (``application/problem+json``: type, title,
status, detail). Endpoints are plain functions: FastAPI runs them in its thread pool, each
holding one pooled connection for one transaction.
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from starlette.exceptions import HTTPException

from audit.db import scoped_session
from audit.errors import AuditError, BadQuery, NotFound, Unauthenticated
from audit.export import MEDIA_TYPES, Format, export
from audit.history import verdict_history
from audit.principal import Role
from audit.queries import build_query, fetch_page, page_size
from audit.registry_view import scoped_document
from audit.reproduce import reproduce, verdict_row
from audit.resources import BY_PATH as RESOURCES_BY_PATH
from audit.resources import RESOURCES, Resource
from audit.times import china, parse_instant
from audit.verdict_id import verdict_id

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type=PROBLEM,
        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None,
    )


def jsonable(value: Any) -> Any:
    """A database value as JSON: times in China time, bytes as base64."""
    if isinstance(value, datetime):
        return china(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <token> (greenwatch api token create)")
    return token.strip()


def swagger_assets() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


def create_app(pool: ConnectionPool) -> FastAPI:
    """The app over ``pool`` (connections to the database as the API's connection role)."""
    app = FastAPI(
        title="Greenwatch audit API",
        version="1",
        description="Read-only access to the record, scoped by token (docs/audit.md).",
        docs_url=None,
        redoc_url=None,
    )
    app.mount("/docs/assets", StaticFiles(directory=swagger_assets()), name="swagger-assets")

    @app.exception_handler(AuditError)
    async def _audit_error(_: Request, exc: AuditError) -> Response:
        return problem(exc.status, exc.title, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return problem(400, "Bad request", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> Response:
        return problem(exc.status_code, "Error", str(exc.detail))

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Greenwatch audit API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for resource in RESOURCES:
        app.add_api_route(
            f"/v1/{resource.path}",
            _list_endpoint(pool, resource),
            methods=["GET"],
            summary=resource.summary,
            name=f"list_{resource.path.replace('/', '_').replace('-', '_')}",
            description=_describe(resource),
        )
    _registry_routes(app, pool)
    _verdict_routes(app, pool)
    _export_routes(app, pool)
    return app


def _describe(resource: Resource) -> str:
    filters = ", ".join(["enterprise", "region", *resource.filters])
    lines = [
        resource.summary,
        "",
        f"Filters (query parameters, exact match): {filters}; `limit` (1-1000, default 100) "
        "and `cursor` (the previous page's `next_cursor`).",
    ]
    if resource.time:
        need = "required" if resource.time_required else "optional"
        lines.append(
            f"Time range on `{resource.time}`: `from` (inclusive) and `to` (exclusive), ISO 8601 "
            f"(no offset = +08:00), {need}, at most {resource.max_range.days} days."
        )
    roles = ", ".join(sorted(r.value for r in resource.roles))
    lines.append(f"Roles: {roles}.")
    return "\n".join(lines)


def _list_endpoint(pool: ConnectionPool, resource: Resource) -> Callable[[Request], Any]:
    def endpoint(request: Request) -> Any:
        args = _args(request.query_params)
        with scoped_session(pool, bearer(request)) as (conn, principal):
            query = build_query(resource, principal, args)
            rows, cursor = fetch_page(conn, query, page_size(args.get("limit")), args.get("cursor"))
        items = [_row(resource, row) for row in rows]
        # already JSON-ready (``jsonable``): skip FastAPI's encoder, a third of a page's time
        return JSONResponse({"items": items, "next_cursor": cursor})

    endpoint.__doc__ = resource.summary
    return endpoint


def _row(resource: Resource, row: Mapping[str, Any]) -> dict[str, Any]:
    item = {name: jsonable(value) for name, value in row.items()}
    if resource.path in ("verdicts", "verdicts/revisions"):
        item["id"] = verdict_id(row["outlet_id"], row["factor"], row["rule"], row["period_start"])
    return item


def _args(params: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in params.items()}


def _registry_routes(app: FastAPI, pool: ConnectionPool) -> None:
    @app.get("/v1/registry", summary="The registry as in force at an instant")
    def registry_at(request: Request, at: str | None = None) -> Any:
        """The registry version loaded last at or before ``at`` (default now), narrowed to the
        token's regions and without any digest. Regulators and auditors."""
        moment = parse_instant(at, "at") if at else None
        with scoped_session(pool, bearer(request)) as (conn, principal):
            principal.require(Role.REGULATOR, Role.AUDITOR)
            with conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(
                    "SELECT version, loaded_at, document FROM registry_versions"
                    " WHERE loaded_at <= coalesce(%s, now())"
                    " ORDER BY loaded_at DESC, version DESC LIMIT 1",
                    (moment,),
                ).fetchone()
        if row is None:
            raise NotFound("no registry version was in force at that time")
        return {
            "version": row["version"],
            "loaded_at": china(row["loaded_at"]),
            "document": scoped_document(row["document"], principal),
        }

    @app.get("/v1/registry/versions", summary="Every registry version, newest first")
    def registry_versions(request: Request) -> Any:
        """Version names and when each was loaded. Regulators and auditors."""
        with scoped_session(pool, bearer(request)) as (conn, principal):
            principal.require(Role.REGULATOR, Role.AUDITOR)
            rows = conn.execute(
                "SELECT version, loaded_at FROM registry_versions ORDER BY loaded_at DESC"
            ).fetchall()
        return {"items": [{"version": v, "loaded_at": china(t)} for v, t in rows]}


def _verdict_routes(app: FastAPI, pool: ConnectionPool) -> None:
    @app.get("/v1/verdicts/{verdict_id}", summary="One verdict, with evidence and revision")
    def verdict(request: Request, verdict_id: str) -> Any:
        """A verdict by id (``<outlet>~<factor>~<rule>~<YYYYMMDDTHHMMSS+0800>``, the ``id`` of
        the list's items). Every role, within its scope."""
        with scoped_session(pool, bearer(request)) as (conn, _):
            row = verdict_row(conn, verdict_id)
        return {**_row(RESOURCES_BY_PATH["verdicts"], row)}

    @app.get(
        "/v1/verdicts/{verdict_id}/history",
        summary="Every revision of a verdict, oldest first, the current one last",
    )
    def history(request: Request, verdict_id: str) -> Any:
        """The verdict's superseded revisions (each with its evidence, ``superseded_at``,
        ``superseded_by``, ``reason``: resent, late_or_recomputed or registry_changed, and
        ``source``: the raw-topic positions of the input that re-derived it), then the current
        one (``current`` true). Every role, within its scope."""
        with scoped_session(pool, bearer(request)) as (conn, principal):
            rows = verdict_history(conn, principal, verdict_id)
        return {"id": verdict_id, "versions": [jsonable(dict(row)) for row in rows]}

    @app.get(
        "/v1/verdicts/{verdict_id}/reproduce",
        summary="Re-derive a verdict from the stored measurements and compare",
    )
    def reproduce_verdict(request: Request, verdict_id: str) -> Any:
        """Feeds the stored measurements of the verdict's window to the domain engine under
        the registry version the verdict recorded; answers ``equal`` or ``different`` with
        the fields that differ. Regulators and auditors."""
        with scoped_session(pool, bearer(request)) as (conn, principal):
            principal.require(Role.REGULATOR, Role.AUDITOR)
            return reproduce(conn, verdict_id).as_json()


def _export_routes(app: FastAPI, pool: ConnectionPool) -> None:
    paths = ", ".join(r.path for r in RESOURCES)

    @app.get(
        "/v1/exports/{resource_path:path}",
        summary="Export a resource's rows as CSV or Parquet, with a manifest",
        description=f"resource_path: one of {paths}. Same filters and range limits as the list "
        "endpoint; `format` csv (default) or parquet. The body is the whole file; the "
        "`Greenwatch-Manifest` header holds the manifest (query, rows, bytes, sha256, registry "
        "versions, generated_at) and `Repr-Digest` the sha256 (RFC 9530).",
    )
    def export_resource(request: Request, resource_path: str) -> Response:
        resource = RESOURCES_BY_PATH.get(resource_path)
        if resource is None:
            raise NotFound(f"no resource {resource_path!r} (one of: {paths})")
        args = _args(request.query_params)
        fmt = _format(args.pop("format", "csv"))
        # on disk, so memory stays flat; closed by _chunks once sent, or below on error
        spool = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            with scoped_session(pool, bearer(request)) as (conn, principal):
                query = build_query(resource, principal, args)
                manifest = export(conn, query, fmt, spool, principal)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        name = f"{resource.path.replace('/', '-')}.{fmt.value}"
        headers = {
            "Content-Disposition": f'attachment; filename="{name}"',
            "Greenwatch-Manifest": json.dumps(manifest.as_json(), ensure_ascii=True),
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(manifest.sha256)).decode()}:",
            "Content-Length": str(manifest.bytes),
        }
        return StreamingResponse(_chunks(spool), media_type=MEDIA_TYPES[fmt], headers=headers)


def _format(text: str) -> Format:
    try:
        return Format(text)
    except ValueError:
        raise BadQuery(f"format {text!r}: csv or parquet") from None


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(1 << 20):
            yield chunk
