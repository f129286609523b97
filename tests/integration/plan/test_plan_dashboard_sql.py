"""规划目标进度 panels run against the tables ``plan progress`` fills (real PostgreSQL): the
barometer, the intensity against the required level, the resource indicators, the surcharge
estimates of quota verdicts and the consequences."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from plan_support import CHINA, prepared, seed_year
from psycopg.types.json import Jsonb
from services import PgSchema
from typer.testing import CliRunner

from grafana import plan_dashboard
from grafana.check import run_panel, with_variables
from grafana.macros import QueryContext, VariableValue
from greenwatch.cli import app
from runtime.settings import Settings


@pytest.fixture
def context(pg_schema: PgSchema, db_conn: psycopg.Connection[Any]) -> QueryContext:
    prepared(db_conn)
    seed_year(db_conn)
    settings = Settings(database_url=pg_schema.dsn)
    for as_of in ("2026-07-31", "2026-08-31"):
        args = ["plan", "progress", "--region", "520000", "--as-of", as_of]
        result = CliRunner().invoke(app, args, obj=settings)
        assert result.exit_code == 0, result.output
    estimate = {
        "punitive": {"rate_yuan_per_kwh": "0.1", "amount_yuan": "17500.00"},
        "tiered_next_year": {"rate_yuan_per_kwh": "0.35", "pricing_year": 2027},
    }
    db_conn.execute(
        """INSERT INTO verdicts (outlet_id, factor, rule, period_start, enterprise_id, period,
               value, limit_value, ratio, status, evidence, registry_version)
           VALUES ('E-AL-01/al-liquid', 'kWh/t@30d', 'energy_quota', %s, 'E-AL-01', 'day',
               14000, 13650, 1.0256, 'exceedance', %s, 'v')""",
        (datetime(2026, 8, 30, tzinfo=CHINA), Jsonb({"surcharge": estimate})),
    )
    start, end = datetime(2026, 1, 1, tzinfo=CHINA), datetime(2026, 9, 1, tzinfo=CHINA)
    base = QueryContext(start=start, end=end, interval=timedelta(days=1))
    chosen = {
        "vintage": VariableValue.one("NDRC-2021-629"),
        "region": VariableValue.many(["520000", "520100"]),
    }
    return with_variables(base, chosen)


def test_barometer_shows_the_latest_verdict_per_region_and_target(
    db_conn: psycopg.Connection[Any], context: QueryContext
) -> None:
    records = run_panel(db_conn, plan_dashboard.BAROMETER, context).records()
    by = {(r["地区 (region)"], r["目标 (target)"]): r for r in records}
    province = by[("贵州省 (520000)", "gz-energy-per-va-2018")]
    assert province["晴雨表 (barometer)"] == "red"
    assert str(province["截至 (as of)"]) == "2026-08-31"
    assert province["进度 (to date)"] == pytest.approx(1 - (12000 / 7200) / 1.6)
    assert ("520300 (520300)", "gz-energy-per-va-2018") not in by  # not selected


def test_intensity_series_and_required_level(
    db_conn: psycopg.Connection[Any], context: QueryContext
) -> None:
    rows = run_panel(db_conn, plan_dashboard.INTENSITY_VS_TARGET, context).rows
    guiyang = [r for r in rows if r[1] == "贵阳市 gz-energy-per-va-2018"]
    assert [r[2] for r in guiyang] == [pytest.approx(2.0), pytest.approx(2.0)]
    required = [r for r in rows if r[1] == "贵阳市 gz-energy-per-va-2018 目标要求 (required)"]
    assert required[0][2] == pytest.approx(1.9 * 0.88)


def test_resources_surcharges_and_consequences(
    db_conn: psycopg.Connection[Any], context: QueryContext
) -> None:
    resources = run_panel(db_conn, plan_dashboard.RESOURCES, context).records()
    subject = "示范磷化工 (demo phosphorus chemicals) (E-CH-01)"
    gypsum = next(
        r
        for r in resources
        if r["对象 (subject)"] == subject and r["目标 (target)"] == "gz-phosphogypsum-balance-2020"
    )
    assert gypsum["消纳增速 (consumption growth)"] == pytest.approx(8800 / 7200 - 1)
    surcharges = run_panel(db_conn, plan_dashboard.SURCHARGES, context).records()
    assert [float(r["估算金额 元 (amount)"]) for r in surcharges] == [17500.0]
    consequences = run_panel(db_conn, plan_dashboard.CONSEQUENCES, context).records()
    kinds = {(r["措施 (kind)"], r["对象 (subject)"]) for r in consequences}
    assert ("restrict_approvals", "贵阳市 (520100)") in kinds
