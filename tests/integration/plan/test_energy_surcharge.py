"""``greenwatch energy surcharge --enterprise E --year Y`` computes the tiered (aluminium) and
punitive surcharges line by line from the energy stream's stored year-to-date figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from energy_support import energy_registry
from plan_support import CHINA
from services import PgSchema
from typer.testing import CliRunner

from deploy.migrate import migrate
from greenwatch.cli import app
from runtime.registry_store import store_registry
from runtime.settings import Settings


def _ytd(conn: psycopg.Connection[Any], at: datetime, kwh: float, tonnes: float) -> None:
    conn.execute(
        """INSERT INTO energy_intensities (enterprise_id, subject, indicator, window_name,
               period_start, numerator, denominator, value, registry_version)
           VALUES ('E-AL-01', 'al-liquid', 'kWh/t', 'ytd', %s, %s, %s, %s, 'energy-test-1')""",
        (at, kwh, tonnes, kwh / tonnes),
    )


def _run(pg_schema: PgSchema, *args: str) -> Any:
    settings = Settings(database_url=pg_schema.dsn)
    return CliRunner().invoke(app, ["energy", "surcharge", *args], obj=settings)


def test_surcharge_line_by_line_from_stored_figures(
    pg_schema: PgSchema, db_conn: psycopg.Connection[Any]
) -> None:
    migrate(db_conn)
    store_registry(db_conn, energy_registry())
    _ytd(db_conn, datetime(2025, 6, 30, tzinfo=CHINA), 600_000_000, 40_000)  # not the last
    _ytd(db_conn, datetime(2025, 12, 31, tzinfo=CHINA), 1_370_000_000, 100_000)  # 13 700
    _ytd(db_conn, datetime(2026, 8, 31, tzinfo=CHINA), 700_000_000, 50_000)  # 14 000
    result = _run(pg_schema, "--enterprise", "E-AL-01", "--year", "2026")
    assert result.exit_code == 0, result.output
    out = result.output
    # Tiered 2026 on 2025's 13 700 kWh/t: ⌈(13 700 − 13 300) / 20⌉ = 20 steps = 0.20 yuan/kWh
    # on 2026's 700 000 000 kWh so far.
    assert "al-liquid 2025 to 2025-12-31: 1370000000 kWh ÷ 100000 t = 13700.0 kWh/t" in out
    assert "grading standard 2026: 13300 kWh/t" in out
    assert "steps = ⌈(13700 − 13300) / 20⌉ = 20" in out
    assert "surcharge = 0.2 yuan/kWh × 700000000 kWh = 140000000.00 yuan" in out
    # Punitive on 2026's 14 000 vs 13 650: restricted 0.10 on the excess share 17 500 000 kWh.
    assert "billed: the excess share 700000000 × (14000 − 13650) / 14000 = 17500000 kWh" in out
    assert "surcharge = 0.1 yuan/kWh × 17500000 kWh = 1750000.00 yuan" in out
    assert "total 141750000.00 yuan" in out


def test_missing_figures_and_bad_input(
    pg_schema: PgSchema, db_conn: psycopg.Connection[Any]
) -> None:
    migrate(db_conn)
    store_registry(db_conn, energy_registry())
    result = _run(pg_schema, "--enterprise", "E-AL-01", "--year", "2026")
    assert (
        result.exit_code == 0
        and "not computed: no stored 铝液综合交流电耗 for 2025" in result.output
    )
    unknown = _run(pg_schema, "--enterprise", "E-NOPE", "--year", "2026")
    assert unknown.exit_code == 2 and "no enterprise 'E-NOPE'" in unknown.output
    future = _run(pg_schema, "--enterprise", "E-AL-01", "--year", "2999")
    assert future.exit_code == 2 and "not a pricing year" in future.output
    assert "Traceback" not in unknown.output + future.output
