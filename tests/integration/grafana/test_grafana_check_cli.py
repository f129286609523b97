"""Every panel of every dashboard against the seeded province, and ``greenwatch grafana check``."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from grafana_province import Province
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr
from services import PgSchema, Services
from typer.testing import CliRunner

from grafana.check import check_dashboard, with_variables
from grafana.dashboards import DASHBOARDS
from grafana.macros import VariableValue
from greenwatch.cli import app
from runtime.settings import DbLogin


def test_every_panel_shows_rows_for_the_thermal_power_plant(province: Province) -> None:
    context = with_variables(province.context, {"enterprise": VariableValue.one("E-TP-01")})

    outcomes = [o for d in DASHBOARDS for o in check_dashboard(province.conn, d, context)]

    assert [o for o in outcomes if o.error is not None] == []
    assert [o.panel_title for o in outcomes if not o.rows] == []
    assert len(outcomes) == sum(len(d.panels) for d in DASHBOARDS)


def _run_check(services: Services, pg_schema: PgSchema) -> Any:
    settings = services.settings.model_copy(update={"database_url": SecretStr(pg_schema.dsn)})
    return CliRunner().invoke(app, ["grafana", "check", "--hours", "6"], obj=settings)


def test_check_command_passes_on_a_migrated_schema(
    services: Services, pg_schema: PgSchema, province: Province
) -> None:
    result = _run_check(services, pg_schema)

    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "\t" in line]
    assert len(lines) == sum(len(d.panels) for d in DASHBOARDS)
    assert all("ERROR" not in line for line in lines)


def test_check_command_fails_when_the_schema_drifts(
    services: Services,
    pg_schema: PgSchema,
    province: Province,
    db_conn: psycopg.Connection[tuple[Any, ...]],
) -> None:
    # (Not DROP TABLE: search_path ends in public, which may hold the shared stack's tables.)
    db_conn.execute("ALTER TABLE dead_letters RENAME COLUMN reason TO why")

    result = _run_check(services, pg_schema)

    assert result.exit_code == 1
    failed = [line for line in result.stdout.splitlines() if "ERROR" in line]
    assert [line.split("\t")[2] for line in failed] == [
        "死信按原因 (dead letters by reason)",
        "最近死信 (recent dead letters)",
    ]
    assert "column dl.reason does not exist" in result.stderr


def test_check_command_reads_as_gw_reader_on_the_local_stack(
    services: Services,
    pg_schema: PgSchema,
    province: Province,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without GREENWATCH_DATABASE_URL the check logs in as the read-only role (issue 11, item
    4) — the role Grafana's datasource uses — and every panel still runs."""
    if services.origin != "local":
        pytest.skip("the service roles and their passwords are the local stack's")
    monkeypatch.setenv("PGOPTIONS", str(conninfo_to_dict(pg_schema.dsn).get("options") or ""))
    logins: list[str] = []
    connect = psycopg.connect

    def noting_who(*args: Any, **kwargs: Any) -> Any:  # the real connection, its user noted
        conn = connect(*args, **kwargs)
        logins.append(conn.info.user)
        return conn

    monkeypatch.setattr(psycopg, "connect", noting_who)
    settings = services.settings.model_copy(update={"database_url": None})
    result = CliRunner().invoke(app, ["grafana", "check", "--hours", "6"], obj=settings)

    assert result.exit_code == 0, result.output
    assert logins == [DbLogin.READER]
    lines = [line for line in result.stdout.splitlines() if "\t" in line]
    assert len(lines) == sum(len(d.panels) for d in DASHBOARDS)
