"""Run every panel's SQL against a real database, as Grafana would (``greenwatch grafana check``).

The queries are expanded by ``grafana.macros`` and executed read-only, one transaction each,
with a statement timeout. Variables are resolved the way a dashboard opens: each variable's
query runs in order with the values of the ones before it; a multi-value/include-all variable
takes all of its options ("All"), a single-value one its first option.

Used after a migration or on a new deployment to prove that the dashboards' SQL still matches
the schema, and by the integration tests (which pass their own variable values).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg import sql

from grafana.errors import GrafanaError
from grafana.macros import MacroError, QueryContext, VariableValue, expand, parse_interval
from grafana.model import Dashboard, Panel, QueryVariable

STATEMENT_TIMEOUT_MS = 30_000


class CheckError(GrafanaError):
    """A dashboard cannot be checked (a variable has no options); carries both names."""

    def __init__(self, dashboard_uid: str, variable: str, reason: str) -> None:
        super().__init__(f"{dashboard_uid} ${variable}: {reason}")
        self.dashboard_uid = dashboard_uid
        self.variable = variable
        self.reason = reason


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Column names and rows of one executed query, and the SQL that was sent."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    sql: str

    def records(self) -> list[dict[str, Any]]:
        """Rows as ``{column: value}`` dicts (what a regulator reads in a table)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True, slots=True)
class PanelCheck:
    """Outcome of one panel: its row count, or the error PostgreSQL (or expansion) raised."""

    dashboard_uid: str
    panel_title: str
    rows: int | None
    error: str | None


def run_query(conn: psycopg.Connection[Any], query: str, context: QueryContext) -> QueryResult:
    """Expand ``query`` and run it read-only; raises MacroError or psycopg.Error."""
    expanded = expand(query, context)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET TRANSACTION READ ONLY")
        cur.execute(
            sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(STATEMENT_TIMEOUT_MS))
        )
        cur.execute(expanded.encode("utf-8"))
        columns = tuple(c.name for c in cur.description or ())
        rows = [tuple(row) for row in cur.fetchall()] if cur.description else []
    return QueryResult(columns, rows, expanded)


def run_panel(conn: psycopg.Connection[Any], panel: Panel, context: QueryContext) -> QueryResult:
    """Run one panel's query in ``context`` (time range, interval, variables), applying the
    panel's own settings as Grafana does: a relative time (``time_from``) replaces the start
    of the range, a minimum interval raises ``$__interval``."""
    if panel.time_from is not None:
        context = replace(context, start=context.end - parse_interval(panel.time_from))
    if panel.interval is not None:
        context = replace(context, interval=max(context.interval, parse_interval(panel.interval)))
    return run_query(conn, panel.sql, context)


def variable_options(
    conn: psycopg.Connection[Any], variable: QueryVariable, context: QueryContext
) -> list[str]:
    """The option values of a query variable (``__value`` column if present, else the first)."""
    result = run_query(conn, variable.sql, context)
    index = result.columns.index("__value") if "__value" in result.columns else 0
    return [str(row[index]) for row in result.rows]


def resolve_variables(
    conn: psycopg.Connection[Any], dashboard: Dashboard, context: QueryContext
) -> dict[str, VariableValue]:
    """Values of every variable as the dashboard opens with defaults; raises CheckError."""
    values: dict[str, VariableValue] = dict(context.variables or {})
    for variable in dashboard.variables:
        if variable.name in values:
            continue
        options = variable_options(conn, variable, replace(context, variables=values))
        if not options:
            raise CheckError(dashboard.uid, variable.name, "the variable's query has no options")
        if variable.multi or variable.include_all:
            values[variable.name] = VariableValue.many(options)
        else:
            values[variable.name] = VariableValue.one(options[0])
    return values


def check_dashboard(
    conn: psycopg.Connection[Any], dashboard: Dashboard, context: QueryContext
) -> Iterator[PanelCheck]:
    """Run every panel; a failing panel yields its error and the next panels still run."""
    try:
        variables = resolve_variables(conn, dashboard, context)
    except (CheckError, MacroError, psycopg.Error) as exc:
        yield PanelCheck(dashboard.uid, "(variables)", None, str(exc))
        return
    panel_context = replace(context, variables=variables)
    for panel in dashboard.panels:
        try:
            result = run_panel(conn, panel, panel_context)
        except (MacroError, psycopg.Error) as exc:
            yield PanelCheck(dashboard.uid, panel.title, None, str(exc).strip())
        else:
            yield PanelCheck(dashboard.uid, panel.title, len(result.rows), None)


def with_variables(context: QueryContext, values: Mapping[str, VariableValue]) -> QueryContext:
    """``context`` with ``values`` set (others kept)."""
    return replace(context, variables={**(context.variables or {}), **values})
