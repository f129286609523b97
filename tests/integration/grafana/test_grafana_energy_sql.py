"""能耗 panels against the energy tables as the energy engine fills them (real PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from energy_support import day, energy_registry

from deploy.migrate import migrate
from grafana import energy_dashboard
from grafana.check import run_panel, with_variables
from grafana.macros import QueryContext, VariableValue
from runtime.registry_store import store_registry
from schemas.energy import EnergyRecord, ReadingIn, StatisticIn
from streams.domain.energy.engine import EnergyEngine
from streams.energy_store import write_energy
from streams.upserts import prepare_connection

STEP = timedelta(minutes=15)
ALL = VariableValue.many(["E-AL-01", "E-CM-01", "E-TP-01"])


def _seed(conn: psycopg.Connection[Any]) -> QueryContext:
    """Three days of a potline (13 800, 13 500 kWh/t; day 2 half lost) and its output."""
    migrate(conn)
    registry = energy_registry()
    store_registry(conn, registry)
    prepare_connection(conn)
    engine = EnergyEngine(registry)
    records, raw = [], 0.0
    for offset, kwh_per_t in enumerate((13_800.0, 13_500.0, 13_500.0)):
        per_step = kwh_per_t * 600.0 / 96 / 100.0
        for i in range(96):
            raw += per_step
            at = day(offset) + i * STEP
            if offset == 2 and 6 <= at.hour < 18:
                continue
            reading = ReadingIn(meter_id="AL-POT-1", value=raw, unit="kWh", instant=at)
            records.append(EnergyRecord(enterprise_id="E-AL-01", reading=reading))
        output = StatisticIn(
            indicator="output", product="al-liquid", stat_type="day",
            period_start=day(offset), value=600.0, unit="t",
        )  # fmt: skip
        records.append(EnergyRecord(enterprise_id="E-AL-01", statistic=output))
    last = ReadingIn(meter_id="AL-POT-1", value=raw + 1.0, unit="kWh", instant=day(3))
    records.append(EnergyRecord(enterprise_id="E-AL-01", reading=last))
    with conn.transaction(), conn.cursor() as cur:
        write_energy(cur, engine.ingest(records), registry.version)
    context = QueryContext(
        start=day(0), end=day(2) + timedelta(hours=12), interval=timedelta(hours=1)
    )
    return with_variables(context, {"enterprise": ALL})


@pytest.fixture
def context(db_conn: psycopg.Connection[Any]) -> QueryContext:
    return _seed(db_conn)


def test_unit_consumption_shows_the_latest_window_against_its_quota(
    db_conn: psycopg.Connection[Any], context: QueryContext
) -> None:
    records = run_panel(db_conn, energy_dashboard.UNIT_CONSUMPTION, context).records()
    by_window = {r["窗口 (window)"]: r for r in records}
    assert set(by_window) == {"24h", "30d", "month", "ytd"}
    thirty = by_window["30d"]
    assert thirty["截止日 (day)"] == day(2)
    assert thirty["限额 (quota)"] == 13_650.0
    assert thirty["产量 t (output)"] == 1_800.0
    # Σ kWh ÷ Σ t, the day-2 readings lost in the outage spread over it, not dropped
    assert thirty["单耗 (unit consumption)"] == pytest.approx(
        (13_800.0 + 13_500.0 * 2) * 600 / 1_800.0, rel=0.01
    )
    assert thirty["判定 (status)"] == "warning"
    assert by_window["24h"]["判定 (status)"] is None  # 24 h is not a judged window


def test_co2_and_tce_per_day(db_conn: psycopg.Connection[Any], context: QueryContext) -> None:
    co2 = run_panel(db_conn, energy_dashboard.CO2_BY_ENTERPRISE, context)
    first = co2.rows[0]
    # day 0: 95 steps at 13 800 kWh/t and the one ending at 24:00 at day 1's 13 500
    kwh = (95 * 13_800 + 13_500) * 600 / 96
    # at the South grid's 0.4042 kg/kWh (2023, the latest published)
    assert first[2] == pytest.approx(kwh * 0.4042 / 1000, rel=1e-6)
    tce = run_panel(db_conn, energy_dashboard.TCE_BY_CARRIER, context)
    assert {row[1] for row in tce.rows} == {"electricity"}
    assert tce.rows[0][2] == pytest.approx(kwh * 0.1229 / 1000, rel=1e-6)


def test_incomplete_meter_days_are_listed_with_their_marks(
    db_conn: psycopg.Connection[Any], context: QueryContext
) -> None:
    records = run_panel(db_conn, energy_dashboard.INCOMPLETE_DAYS, context).records()
    assert [(r["日期 (day)"], r["计量器具 (meter)"]) for r in records] == [(day(2), "AL-POT-1")]
    assert records[0]["完整率 (completeness)"] == pytest.approx(48 / 96)
    assert records[0]["标记 (marks)"] == "interpolated"


def test_regions_roll_the_potline_up_to_its_city_and_province(
    db_conn: psycopg.Connection[Any], context: QueryContext
) -> None:
    records = run_panel(db_conn, energy_dashboard.REGIONS, context).records()
    by_level = {r["层级 (level)"]: r for r in records}
    assert {(lv, r["行政区划 (region)"]) for lv, r in by_level.items()} == {
        ("province", "520000"),
        ("city", "520400"),
        ("county", "520400"),
    }
    province = by_level["province"]
    assert province["企业数 (enterprises)"] == 1
    # three days of 13 800 / 13 500 / 13 500 kWh/t × 600 t at 0.1229 kgce/kWh
    kwh = (13_800.0 + 13_500.0 * 2) * 600
    assert province["能耗 tce (energy)"] == pytest.approx(kwh * 0.1229 / 1000, rel=0.01)
    assert province["tce/万元"] is None  # no value added reported: no intensity, not zero
