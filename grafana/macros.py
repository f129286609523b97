"""What Grafana does to a panel's SQL before PostgreSQL sees it, reproduced (pure).

Grafana cannot run on these machines, so the tests and ``greenwatch grafana check`` expand a
query the way Grafana would and run the result against the real database:

1. **template variables** (frontend, SQL datasource rules): ``$var``, ``${var}``,
   ``${var:format}`` with formats ``sqlstring`` (``'a','b'``, quotes doubled), ``csv``,
   ``raw``, ``singlequote``; without a format a multi-value or include-all variable is
   quoted like ``sqlstring`` and a single-value one is inserted with quotes doubled. Built-ins
   ``$__interval`` (e.g. ``1h``) and ``$__interval_ms``.
2. **macros** (backend, ``pkg/tsdb/grafana-postgresql-datasource/macros.go``): ``$__time(c)``,
   ``$__timeEpoch(c)``, ``$__timeFilter(c)`` → ``c BETWEEN '<from>' AND '<to>'``,
   ``$__timeFrom()``, ``$__timeTo()`` (RFC 3339 UTC), ``$__timeGroup(c, '5m'[, fill])`` →
   ``time_bucket('300s',c)`` with the datasource's TimescaleDB option on (how ``greenwatch-pg``
   is provisioned for the TimescaleDB database), ``floor(extract(epoch from c)/300)*300`` with
   it off (plain PostgreSQL), ``$__timeGroupAlias`` (the same ``AS "time"``),
   ``$__unixEpochFilter(c)``. Any other ``$name(…)`` is an error, as in Grafana.

Errors: ``MacroError`` (root, carries the offending text), ``UnknownVariable``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_VARIABLE = re.compile(r"\$\{(?P<braced>\w+)(?::(?P<format>\w+))?\}|\$(?P<bare>\w+)")
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")
_DURATION = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h|d|w|y)$")
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}


class MacroError(ValueError):
    """A query cannot be expanded as Grafana would; ``text`` is the offending fragment."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{text!r}: {reason}")
        self.text = text
        self.reason = reason


class UnknownVariable(MacroError):
    """The query uses a template variable the dashboard does not define."""

    def __init__(self, name: str) -> None:
        super().__init__(f"${name}", "no such template variable")
        self.name = name


@dataclass(frozen=True, slots=True)
class VariableValue:
    """The current value(s) of a template variable; ``multi`` for multi/include-all ones."""

    values: tuple[str, ...]
    multi: bool = False

    @classmethod
    def one(cls, value: str) -> VariableValue:
        return cls((value,), multi=False)

    @classmethod
    def many(cls, values: Sequence[str]) -> VariableValue:
        return cls(tuple(values), multi=True)


@dataclass(frozen=True, slots=True)
class QueryContext:
    """Time range (aware datetimes), ``$__interval`` and variable values of one query run;
    ``timescaledb``: the datasource's TimescaleDB option (``$__timeGroup`` as ``time_bucket``)."""

    start: datetime
    end: datetime
    interval: timedelta = timedelta(minutes=1)
    variables: Mapping[str, VariableValue] | None = None
    timescaledb: bool = False

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise MacroError(f"{self.start}..{self.end}", "time range must be timezone-aware")


def expand(sql: str, context: QueryContext) -> str:
    """The SQL Grafana would send for ``sql`` in ``context``; raises MacroError."""
    return expand_macros(interpolate_variables(sql, context), context)


def interpolate_variables(sql: str, context: QueryContext) -> str:
    """Step 1: template variables and ``$__interval``; macros are left for step 2."""
    variables = context.variables or {}

    def replace(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        if name == "__interval":
            return format_interval(context.interval)
        if name == "__interval_ms":
            return str(int(context.interval / timedelta(milliseconds=1)))
        if name.startswith("__"):
            return match[0]
        if name not in variables:
            raise UnknownVariable(name)
        return _format_value(variables[name], match["format"])

    return _VARIABLE.sub(replace, sql)


def expand_macros(sql: str, context: QueryContext) -> str:
    """Step 2: the PostgreSQL datasource's macros."""

    def replace(match: re.Match[str]) -> str:
        args = [a.strip() for a in match[2].split(",")]
        return _macro(match[1], args, context, match[0])

    return _MACRO.sub(replace, sql)


def format_timestamp(moment: datetime) -> str:
    """Go's RFC 3339 with nanoseconds in UTC, as Grafana writes it: ``2024-05-01T02:00:00Z``."""
    utc = moment.astimezone(UTC)
    text = utc.replace(tzinfo=None, microsecond=0).isoformat()
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_interval(text: str) -> timedelta:
    """A Grafana interval such as ``'5m'``, ``1h`` or ``100ms``; raises MacroError."""
    match = _DURATION.match(text.strip().strip("'"))
    if match is None:
        raise MacroError(text, "not an interval like 30s, 5m, 1h, 1d")
    return timedelta(seconds=float(match["number"]) * _UNIT_SECONDS[match["unit"]])


def format_interval(interval: timedelta) -> str:
    """Grafana's text of an interval (largest whole unit, truncated): ``1h``, ``5m``, ``1d``."""
    milliseconds = int(interval / timedelta(milliseconds=1))
    for unit in ("y", "d", "h", "m", "s"):
        unit_ms = int(_UNIT_SECONDS[unit] * 1000)
        if milliseconds >= unit_ms:
            return f"{milliseconds // unit_ms}{unit}"
    return f"{max(milliseconds, 1)}ms"


def _format_value(value: VariableValue, fmt: str | None) -> str:
    if fmt is None:
        if value.multi:
            return ",".join(_quote(v) for v in value.values)
        return ",".join(v.replace("'", "''") for v in value.values)
    if fmt == "sqlstring":
        return ",".join(_quote(v) for v in value.values)
    if fmt in ("csv", "raw"):
        return ",".join(value.values)
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in value.values)
    raise MacroError(f"${{…:{fmt}}}", "unsupported variable format")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _seconds_text(interval: timedelta) -> str:
    seconds = interval.total_seconds()
    return f"{seconds:g}"


def _macro(name: str, args: list[str], context: QueryContext, text: str) -> str:
    start, end = format_timestamp(context.start), format_timestamp(context.end)
    column = args[0] if args and args[0] else None
    if name in ("__timeFrom", "__timeTo"):
        return f"'{start}'" if name == "__timeFrom" else f"'{end}'"
    if column is None:
        raise MacroError(text, "missing time column argument")
    if name == "__time":
        return f'{column} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {column}) as "time"'
    if name == "__timeFilter":
        return f"{column} BETWEEN '{start}' AND '{end}'"
    if name == "__unixEpochFilter":
        first, last = int(context.start.timestamp()), int(context.end.timestamp())
        return f"{column} >= {first} AND {column} <= {last}"
    if name in ("__timeGroup", "__timeGroupAlias"):
        if len(args) < 2:
            raise MacroError(text, "needs a time column and an interval")
        interval = parse_interval(args[1])
        seconds = _seconds_text(interval)
        if context.timescaledb:
            group = f"time_bucket('{interval.total_seconds():.0f}s',{column})"
        else:
            group = f"floor(extract(epoch from {column})/{seconds})*{seconds}"
        return group + ' AS "time"' if name == "__timeGroupAlias" else group
    raise MacroError(text, "unknown macro")
