"""The plan commands run as their own role (issue 11, item 4): on the local stack, without
GREENWATCH_DATABASE_URL, `plan progress`, `plan credit-list` and `report quarterly` log in as
``gw_plan`` — never the owner — and still do their whole job. Who wrote is recorded by a
trigger (``session_user``, the login) on the tables they write (``services.record_writers``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from plan_support import AS_OF, prepared, seed_year
from services import PgSchema, record_writers, writers
from typer.testing import CliRunner

from greenwatch.cli import app
from runtime.settings import Settings


@pytest.fixture
def as_roles(services: Any, pg_schema: PgSchema) -> Settings:
    if services.origin != "local":
        pytest.skip("the service roles and their passwords are the local stack's")
    settings: Settings = services.settings
    return settings.model_copy(update={"database_url": None, "database_schema": pg_schema.name})


def test_plan_and_report_commands_write_as_gw_plan(
    as_roles: Settings, db_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    prepared(db_conn)
    seed_year(db_conn, months=9)
    record_writers(db_conn, ["plan_progress", "plan_consequences"])
    runs = [
        ["plan", "progress", "--region", "520000", "--as-of", AS_OF.isoformat()],
        ["plan", "credit-list", "--year", "2026", "--out", str(tmp_path / "credit.csv")],
        ["report", "quarterly", "--region", "520000", "--quarter", "2026Q3", "--out",
         str(tmp_path / "report.html")],
    ]  # fmt: skip
    for args in runs:
        result = CliRunner().invoke(app, args, obj=as_roles)
        assert result.exit_code == 0, (args, result.output)
    assert writers(db_conn) == [("gw_plan", "plan_consequences"), ("gw_plan", "plan_progress")]
    assert (tmp_path / "report.html").stat().st_size > 1000
