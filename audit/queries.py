"""Queries of the read API: a ``Resource``, the caller's filters and a keyset cursor → SQL.

The scope is applied here too (the API half of "enforced twice"): every query is narrowed to
the principal's enterprises whatever row-level security does, and a filter naming another
enterprise or region is refused before any SQL runs. Names reach SQL only as
``sql.Identifier``; values only as parameters. Pure, except ``fetch_page`` (blocks, raises
psycopg's errors).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from audit.errors import BadQuery
from audit.principal import Principal, Role, region_prefixes
from audit.resources import Kind, Owner, Resource
from audit.times import check_range, parse_instant

DEFAULT_PAGE = 100
MAX_PAGE = 1000
COMMON = ("from", "to", "limit", "cursor", "enterprise", "region")


@dataclass(frozen=True, slots=True)
class Query:
    """A resource's query with its parameters, without paging (exports stream it whole)."""

    resource: Resource
    where: sql.Composable
    params: tuple[Any, ...]
    description: dict[str, str]
    """The filters as the caller gave them (the export manifest's ``query``)."""

    def statement(
        self, after: tuple[Any, ...] | None = None, limit: int | None = None
    ) -> sql.Composed:
        keys = [sql.Identifier(name) for name, _ in self.resource.key]
        where = self.where
        if after is not None:
            where = sql.SQL("{} AND ({}) > ({})").format(
                where, sql.SQL(", ").join(keys), sql.SQL(", ").join(sql.Placeholder() * len(keys))
            )
        return sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {}{}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in self.resource.columns),
            sql.Identifier(self.resource.table),
            where,
            sql.SQL(", ").join(keys),
            sql.SQL(" LIMIT {}").format(sql.Literal(limit)) if limit is not None else sql.SQL(""),
        )


def enterprise_set(principal: Principal) -> tuple[sql.Composable, tuple[Any, ...]]:
    """``SELECT enterprise_id FROM enterprises WHERE <the principal's scope>``."""
    if principal.role is Role.ENTERPRISE:
        return sql.SQL("SELECT enterprise_id FROM enterprises WHERE enterprise_id = %s"), (
            principal.enterprise_id,
        )
    patterns = [prefix + "%" for prefix in principal.regions]
    return sql.SQL("SELECT enterprise_id FROM enterprises WHERE region_code LIKE ANY(%s)"), (
        patterns,
    )


def owned_by(owner: Owner, enterprises: sql.Composable) -> sql.Composable:
    """A condition: the row's owner is among ``enterprises`` (a subquery of enterprise ids)."""
    outlets = sql.SQL("SELECT outlet_id FROM outlets WHERE enterprise_id IN ({})").format(
        enterprises
    )
    match owner:
        case Owner.ENTERPRISE:
            return sql.SQL("enterprise_id IN ({})").format(enterprises)
        case Owner.OUTLET:
            return sql.SQL("outlet_id IN ({})").format(outlets)
        case Owner.ALERT:
            return sql.SQL(
                "alert_id IN (SELECT alert_id FROM alerts WHERE enterprise_id IN ({}))"
            ).format(enterprises)
        case Owner.NOTICE:
            return sql.SQL(
                "outbox_id IN (SELECT outbox_id FROM notification_outbox"
                " WHERE enterprise_id IN ({}))"
            ).format(enterprises)
        case Owner.DEVICE:  # dead letters: a device outside every registry belongs to no one
            return sql.SQL(
                "(device_id IS NULL OR NOT gw_device_registered(device_id)"
                " OR device_id IN (SELECT device_id FROM devices WHERE outlet_id IN ({})))"
            ).format(outlets)


def parse_value(text: str, kind: Kind, name: str) -> Any:
    """A filter or cursor value of ``kind``; raises BadQuery naming the parameter."""
    match kind:
        case Kind.TEXT:
            return text
        case Kind.TIME:
            return parse_instant(text, name)
        case Kind.INT:
            try:
                return int(text)
            except ValueError:
                raise BadQuery(f"{name}={text!r} is not an integer") from None
        case Kind.BOOL:
            if text.lower() not in ("true", "false"):
                raise BadQuery(f"{name}={text!r} is not true or false")
            return text.lower() == "true"


def build_query(resource: Resource, principal: Principal, args: Mapping[str, str]) -> Query:
    """The scoped, filtered query; raises BadQuery (unknown filter, bad value or range) or
    Refused (a role without access, an enterprise or region outside the scope)."""
    principal.require(*resource.roles)
    unknown = sorted(set(args) - set(COMMON) - set(resource.filters))
    if unknown:
        allowed = ", ".join(sorted({*COMMON, *resource.filters}))
        raise BadQuery(f"unknown parameter {', '.join(unknown)} (this endpoint takes {allowed})")
    scope, scope_params = enterprise_set(principal)
    parts: list[sql.Composable] = [owned_by(resource.owner, scope)]
    params: list[Any] = [*scope_params]
    for column, value in resource.fixed:
        parts.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
        params.append(value)
    if "enterprise" in args:
        principal.check_enterprise(args["enterprise"])
        parts.append(owned_by(resource.owner, sql.SQL("SELECT %s::text")))
        params.append(args["enterprise"])
    if "region" in args:
        prefixes = region_prefixes(args["region"])
        if len(prefixes) != 1:
            raise BadQuery("region takes one GB/T 2260 prefix")
        prefix = prefixes[0]
        principal.check_region(prefix)
        parts.append(
            owned_by(
                resource.owner,
                sql.SQL("SELECT enterprise_id FROM enterprises WHERE starts_with(region_code, %s)"),
            )
        )
        params.append(prefix)
    for name, (column, kind) in resource.filters.items():
        if name in args:
            parts.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(parse_value(args[name], kind, name))
    _time_range(resource, args, parts, params)
    description = {name: value for name, value in args.items() if name not in ("cursor", "limit")}
    return Query(resource, sql.SQL(" AND ").join(parts), tuple(params), description)


def _time_range(
    resource: Resource, args: Mapping[str, str], parts: list[sql.Composable], params: list[Any]
) -> None:
    if resource.time is None:
        if "from" in args or "to" in args:
            raise BadQuery(f"/{resource.path} has no time range")
        return
    if resource.time_required and not ("from" in args and "to" in args):
        raise BadQuery(
            f"/{resource.path} needs from and to (ISO 8601, at most {resource.max_range.days} days)"
        )
    start = parse_instant(args["from"], "from") if "from" in args else None
    end = parse_instant(args["to"], "to") if "to" in args else None
    if start is not None and end is not None:
        check_range(start, end, resource.max_range)
    column = sql.Identifier(resource.time)
    if start is not None:
        parts.append(sql.SQL("{} >= %s").format(column))
        params.append(start)
    if end is not None:
        parts.append(sql.SQL("{} < %s").format(column))
        params.append(end)


def page_size(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE
    size = parse_value(text, Kind.INT, "limit")
    if not 1 <= size <= MAX_PAGE:
        raise BadQuery(f"limit must be between 1 and {MAX_PAGE}")
    return int(size)


def encode_cursor(resource: Resource, row: Mapping[str, Any]) -> str:
    values = [
        row[name].isoformat() if isinstance(row[name], datetime) else row[name]
        for name, _ in resource.key
    ]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(resource: Resource, text: str) -> tuple[Any, ...]:
    """The keyset position after which the next page starts; BadQuery if it is not ours."""
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadQuery("cursor is not one this API gave out") from None
    if not isinstance(values, list) or len(values) != len(resource.key):
        raise BadQuery("cursor is not one this API gave out for this endpoint")
    return tuple(
        parse_value(str(value), kind, "cursor") if kind is not Kind.INT else _int(value)
        for value, (_, kind) in zip(values, resource.key, strict=True)
    )


def _int(value: Any) -> int:
    if not isinstance(value, int):
        raise BadQuery("cursor is not one this API gave out for this endpoint")
    return value


def fetch_page(
    conn: psycopg.Connection[Any], query: Query, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page (at most ``limit`` rows) and the cursor of the next one (None: last page)."""
    after = decode_cursor(query.resource, cursor) if cursor else None
    params = query.params + (after or ())
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query.statement(after, limit + 1), params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(query.resource, rows[-1]) if more and rows else None)
