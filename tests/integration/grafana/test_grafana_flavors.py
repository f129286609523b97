"""Every panel gives the same result on both database flavors.

The same province is seeded into a plain schema and a TimescaleDB schema of one database;
each panel runs on the plain one as Grafana expands it with the datasource's TimescaleDB
option off (``$__timeGroup`` → ``floor(extract(epoch …))``, epoch seconds) and on the
TimescaleDB one with it on (``time_bucket``, a timestamptz). Grafana reads both time columns
as the same instant, so results are compared with times as epoch seconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from grafana_alert_seed import seed_alerts
from grafana_province import END, START, seed_province
from psycopg import sql
from psycopg.conninfo import make_conninfo

from deploy.migrate import Flavor, migrate
from deploy.timescaledb import drop_schema
from grafana.check import resolve_variables, run_panel
from grafana.dashboards import DASHBOARDS
from grafana.macros import QueryContext

try:
    from services import Services
except ImportError:  # pragma: no cover
    from tests.services import Services


@pytest.fixture
def seeded(
    services: Services, timescale_usable: bool
) -> Iterator[dict[Flavor, psycopg.Connection[Any]]]:
    if not timescale_usable:
        pytest.skip("this PostgreSQL cannot run TimescaleDB (see `make install`)")
    names = {flavor: f"test_gf_{flavor}_{uuid.uuid4().hex[:8]}" for flavor in Flavor}
    conns: dict[Flavor, psycopg.Connection[Any]] = {}
    try:
        for flavor, name in names.items():
            with psycopg.connect(services.database_url, autocommit=True) as admin:
                admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
            dsn = make_conninfo(services.database_url, options=f"-c search_path={name},public")
            conn = psycopg.connect(dsn, autocommit=True)
            conns[flavor] = conn
            migrate(conn, flavor)
            seed_province(conn)
            seed_alerts(conn)
        yield conns
    finally:
        for conn in conns.values():
            conn.close()
        with psycopg.connect(services.database_url, autocommit=True) as admin:
            for name in names.values():
                drop_schema(admin, name)


def _normalised(value: object) -> object:
    """Time as epoch seconds (``time_bucket`` gives a timestamptz, floor() a numeric)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, Decimal):
        return float(value)
    return value


def test_every_panel_gives_the_same_result_on_both_flavors(
    seeded: dict[Flavor, psycopg.Connection[Any]],
) -> None:
    plain_context = QueryContext(start=START, end=END)
    ts_context = replace(plain_context, timescaledb=True)
    bucketed = with_rows = 0
    for dashboard in DASHBOARDS:
        plain_vars = resolve_variables(seeded[Flavor.PLAIN], dashboard, plain_context)
        ts_vars = resolve_variables(seeded[Flavor.TIMESCALEDB], dashboard, ts_context)
        assert plain_vars == ts_vars
        for panel in dashboard.panels:
            plain = run_panel(
                seeded[Flavor.PLAIN], panel, replace(plain_context, variables=plain_vars)
            )
            ts = run_panel(
                seeded[Flavor.TIMESCALEDB], panel, replace(ts_context, variables=ts_vars)
            )
            if "time_bucket(" in ts.sql:
                bucketed += 1
                assert "time_bucket(" not in plain.sql
            assert plain.columns == ts.columns, panel.title
            assert [tuple(map(_normalised, row)) for row in plain.rows] == [
                tuple(map(_normalised, row)) for row in ts.rows
            ], panel.title
            with_rows += bool(plain.rows)
    assert with_rows >= 10  # the province gives most panels rows: the comparison means something
    assert bucketed >= 2  # the bucketed panels (invalid minutes, dead letters) took time_bucket
