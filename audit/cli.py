"""``greenwatch api`` (serve the read API, manage its tokens) and ``greenwatch audit``
(reproduce a verdict, export data) from the command line.

Settings come from ``ctx.obj`` (the CLI root). User mistakes (a bad region, an unknown
enterprise, a past expiry, an id that is not a verdict's) exit 2 with one line on stderr.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import psycopg
import typer

from audit.errors import AuditError
from audit.export import Format
from audit.principal import Principal, Role, region_prefixes
from audit.tokens import create_token, list_tokens, revoke_token
from runtime.db_connect import connect_or_exit
from runtime.settings import DbLogin, Settings, database_dsn

api_app = typer.Typer(help="The auditors' read API (docs/audit.md): serve it, manage its tokens.")
token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.")
api_app.add_typer(token_app, name="token")
audit_app = typer.Typer(help="Audit from the command line: reproduce verdicts, export data.")


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def fail(exc: AuditError) -> typer.Exit:
    typer.echo(f"error: {exc.detail}", err=True)
    return typer.Exit(2)


@api_app.command("serve")
def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8214,
    pool_size: Annotated[int, typer.Option(help="Database connections at most.")] = 10,
) -> None:
    """Serve the read API (OpenAPI at /openapi.json, docs at /docs) until Ctrl-C."""
    import uvicorn
    from psycopg_pool import ConnectionPool

    from audit.api import create_app

    settings = _settings(ctx)
    dsn = database_dsn(settings, DbLogin.API)  # reads api_tokens, then SET ROLE per request
    with connect_or_exit(settings, DbLogin.API, "api serve"):
        pass  # a refused login or a server down: exit 2 with one line, before serving
    named = {"application_name": "greenwatch api serve"}
    with ConnectionPool(dsn, min_size=1, max_size=pool_size, kwargs=named) as pool:
        app = create_app(pool)
        typer.echo(f"audit API on http://{host}:{port} (docs: /docs)", err=True)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@token_app.command("create")
def token_create_command(
    ctx: typer.Context,
    role: Annotated[Role, typer.Option(help="regulator, enterprise or auditor.")],
    enterprise: Annotated[
        str | None, typer.Option(help="The enterprise id (role enterprise only).")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            help="GB/T 2260 prefixes, comma-separated, e.g. 52 or 5201,5203 (regulator, auditor)."
        ),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=3660, help="Valid for this many days.")] = 90,
    label: Annotated[str, typer.Option(help="Who or what it is for (shown by list).")] = "",
    created_by: Annotated[str, typer.Option(help="Who issues it (recorded).")] = "cli",
) -> None:
    """Create a token and print it once (only its digest is stored)."""
    try:
        regions = region_prefixes(region or "")
        principal = Principal(role, enterprise, regions)
        with connect_or_exit(_settings(ctx), DbLogin.OWNER, "api token create") as conn:
            expires = datetime.now(UTC) + timedelta(days=days)
            issued = create_token(conn, principal, expires, created_by, label)
    except AuditError as exc:
        raise fail(exc) from None
    typer.echo(issued.token)
    typer.echo(f"token {issued.token_id}: {role}, expires {issued.expires_at:%Y-%m-%d}", err=True)


@token_app.command("list")
def token_list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Every token's id, role, scope, expiry and revocation (never a secret)."""
    with connect_or_exit(_settings(ctx), DbLogin.OWNER, "api token list") as conn:
        rows = list_tokens(conn)
    for row in rows:
        if as_json:
            typer.echo(json.dumps(row, default=str, ensure_ascii=False))
            continue
        scope = row["enterprise_id"] or ",".join(row["regions"])
        state = "revoked" if row["revoked_at"] else f"expires {row['expires_at']:%Y-%m-%d}"
        typer.echo(f"{row['token_id']}  {row['principal']:<10} {scope:<16} {state}  {row['label']}")


@token_app.command("revoke")
def token_revoke_command(
    ctx: typer.Context, token_id: Annotated[str, typer.Argument(help="The id (gwa_<id>_…).")]
) -> None:
    """Revoke a token: refused from the next request on."""
    with connect_or_exit(_settings(ctx), DbLogin.OWNER, "api token revoke") as conn:
        if not revoke_token(conn, token_id):
            typer.echo(f"error: no unrevoked token {token_id!r}", err=True)
            raise typer.Exit(2)
    typer.echo(f"revoked {token_id}", err=True)


@audit_app.command("reproduce")
def reproduce_command(
    ctx: typer.Context,
    verdict: Annotated[str, typer.Argument(help="Verdict id (the API's `id`).")],
) -> None:
    """Re-derive a verdict from the stored measurements with the registry version it recorded;
    prints JSON (result equal or different, and the diff). Exit 0 equal, 1 different."""
    from audit.reproduce import reproduce

    with connect_or_exit(_settings(ctx), DbLogin.READER, "audit reproduce") as conn:
        try:
            result = reproduce(conn, verdict)
        except AuditError as exc:
            raise fail(exc) from None
    typer.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    if not result.equal:
        raise typer.Exit(1)


@audit_app.command("export")
def export_command(
    ctx: typer.Context,
    resource: Annotated[
        str,
        typer.Argument(
            help="What to export: a /v1 list path, e.g. values/hourly, measurements, verdicts."
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="File to write; FILE.manifest.json is written beside it."
        ),
    ],
    token: Annotated[
        str,
        typer.Option(
            envvar="GREENWATCH_API_TOKEN", help="API token whose scope applies (as in the API)."
        ),
    ],
    start: Annotated[
        str | None, typer.Option("--from", help="ISO 8601 (no offset: +08:00).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="ISO 8601, exclusive.")] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", help="NAME=VALUE, as the API's query parameters; repeatable."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="csv or parquet.")] = Format.CSV,
) -> None:
    """Export a resource's rows (CSV or Parquet, streamed) with a manifest, under a token's
    scope: the same rows the API would give that token."""
    from audit.db import scoped_connection
    from audit.export import export
    from audit.queries import build_query
    from audit.resources import BY_PATH

    found = BY_PATH.get(resource)
    if found is None:
        typer.echo(f"error: no resource {resource!r} (one of: {', '.join(BY_PATH)})", err=True)
        raise typer.Exit(2)
    args = dict(_pair(item) for item in filters or ())
    args.update({k: v for k, v in (("from", start), ("to", end)) if v is not None})
    with connect_or_exit(_settings(ctx), DbLogin.API, "audit export") as conn:
        try:
            with scoped_connection(conn, token) as principal, output.open("wb") as out:
                manifest = export(conn, build_query(found, principal, args), fmt, out, principal)
        except AuditError as exc:
            output.unlink(missing_ok=True)
            raise fail(exc) from None
    manifest_path = output.with_name(output.name + ".manifest.json")
    manifest_path.write_text(json.dumps(manifest.as_json(), ensure_ascii=False, indent=2) + "\n")
    typer.echo(f"{manifest.rows} rows, {manifest.bytes} bytes, sha256 {manifest.sha256}", err=True)


def _pair(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        typer.echo(f"error: --filter {item!r}: expected NAME=VALUE", err=True)
        raise typer.Exit(2)
    return name.strip(), value.strip()


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context,
    anchors: Annotated[
        Path | None,
        typer.Option(help="Anchor file (greenwatch audit anchor): its last heads must remain."),
    ] = None,
) -> None:
    """Walk the hash chains of alert events, regulator orders, registry versions and verdicts;
    exit 0 when intact, 1 naming the first broken link."""
    from audit.verify import verify

    if anchors is not None and not anchors.exists():
        typer.echo(f"error: anchor file {anchors} does not exist", err=True)
        raise typer.Exit(2)
    with connect_or_exit(_settings(ctx), DbLogin.READER, "audit verify") as conn:
        try:
            result = verify(conn, anchors)
        except AuditError as exc:
            raise fail(exc) from None
    first = result.first
    if first is None:
        typer.echo(f"trail intact: {result.entries} entries, {result.rows} rows checked")
        return
    typer.echo(f"trail BROKEN: first broken link {first}")
    typer.echo(f"{len(result.breaks)} broken link(s) in {result.entries} entries", err=True)
    raise typer.Exit(1)


@audit_app.command("anchor")
def anchor_command(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Option(
            help="Append the heads here (JSON lines); keep it "
            "where the database owner cannot rewrite it."
        ),
    ],
) -> None:
    """Record every chain's head and their root hash (print the root in the quarterly report)."""
    from audit.verify import anchor_record, heads

    with connect_or_exit(_settings(ctx), DbLogin.READER, "audit anchor") as conn:
        record = anchor_record(heads(conn))
    try:
        with file.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    except OSError as exc:
        typer.echo(f"error: cannot append to {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"anchored {len(record['heads'])} chain heads, root {record['root']}")


@audit_app.command("lock")
def lock_command(
    ctx: typer.Context,
    quarter_name: Annotated[str, typer.Option("--quarter", help="e.g. 2026Q3 (China time).")],
    locked_by: Annotated[str, typer.Option("--by", help="Who locks it (recorded).")] = "cli",
) -> None:
    """Lock a quarter that has ended: late data still re-aggregate and re-issue verdicts, and
    every such write is recorded as after-lock (API /v1/after-lock). Locking twice is refused."""
    from audit.periods import quarter

    try:
        start, end = quarter(quarter_name)
    except AuditError as exc:
        raise fail(exc) from None
    with connect_or_exit(_settings(ctx), DbLogin.OWNER, "audit lock") as conn:
        now = conn.execute("SELECT now()").fetchone()
        if now is not None and now[0] < end:
            typer.echo(f"error: {quarter_name} has not ended yet (ends {end:%Y-%m-%d})", err=True)
            raise typer.Exit(2)
        try:
            conn.execute(
                "INSERT INTO period_locks (period, starts_at, ends_at, locked_by)"
                " VALUES (%s, %s, %s, %s)",
                (quarter_name.upper(), start, end, locked_by),
            )
        except psycopg.errors.UniqueViolation:
            typer.echo(f"error: {quarter_name} is already locked", err=True)
            raise typer.Exit(2) from None
    typer.echo(f"locked {quarter_name.upper()}: {start:%Y-%m-%d} to {end:%Y-%m-%d} (China time)")
