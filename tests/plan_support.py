"""Stored data of the plan tests: a migrated schema with the example registry and monthly
figures written where the energy stream writes them (energy_consumption month rows,
energy_statistics month rows), so the plan commands read exactly what production reads."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from deploy.migrate import migrate
from runtime.registry_store import store_registry
from schemas.registry import Registry, load_registry

EXAMPLE = Path(__file__).parents[1] / "schemas" / "examples" / "demo-province.yaml"
CHINA = ZoneInfo("Asia/Shanghai")


def month(year: int, number: int) -> datetime:
    return datetime(year, number, 1, tzinfo=CHINA)


def prepared(conn: psycopg.Connection[Any]) -> Registry:
    """Migrate the connection's schema and store the example registry."""
    migrate(conn)
    registry = load_registry(EXAMPLE)
    store_registry(conn, registry)
    return registry


def energy_month(
    conn: psycopg.Connection[Any],
    enterprise: str,
    start: datetime,
    kgce: float,
    co2_kg: float | None,
    *,
    meter: str = "M1",
    carrier: str = "raw_coal",
    feedstock: bool = False,
    quantity: float | None = None,
    product: str | None = None,
) -> None:
    conn.execute(
        """INSERT INTO energy_consumption (meter_id, period, period_start, enterprise_id,
               carrier, product, feedstock, quantity, kgce_calorific, kgce_equivalent, co2_kg,
               registry_version)
           VALUES (%s, 'month', %s, %s, %s, %s, %s, %s, %s, %s, %s, 'test')""",
        (f"{enterprise}-{meter}", start, enterprise, carrier, product, feedstock,
         quantity if quantity is not None else kgce, kgce, kgce, co2_kg),
    )  # fmt: skip


def statistic(
    conn: psycopg.Connection[Any],
    enterprise: str,
    start: datetime,
    indicator: str,
    value: float,
    unit: str = "t",
    product: str = "",
) -> None:
    conn.execute(
        """INSERT INTO energy_statistics (enterprise_id, indicator, product, stat_type,
               period_start, value, unit) VALUES (%s, %s, %s, 'month', %s, %s, %s)""",
        (enterprise, indicator, product, start, value, unit),
    )


def seed_year(conn: psycopg.Connection[Any], year: int = 2026, months: int = 8) -> None:
    """Jan..``months`` of ``year`` (and one more month that must not count), plus the same
    months of the year before for the phosphogypsum growth.

    Per month: E-TP-01 (Guiyang, 规模以上) 1000 tce, 2500 t CO2, value added 500; E-CM-01
    (Zunyi, 规模以上) 600 tce of which 100 feedstock, 1500 t CO2, value added 400; E-WW-01
    (Guiyang, not 规模以上) 10 000 tce, value added 100 — outside every regional figure;
    E-CH-01 (Bijie) phosphogypsum produced 1000, utilised 700, treated 400 (900 consumed a month
    the year before), solid waste generated 1000, utilised 500.
    """
    for number in range(1, months + 2):
        at = month(year, number)
        energy_month(conn, "E-TP-01", at, 1_000_000, 2_500_000)
        statistic(conn, "E-TP-01", at, "value_added", 500, "10^4 yuan")
        energy_month(conn, "E-CM-01", at, 500_000, 1_500_000)
        energy_month(conn, "E-CM-01", at, 100_000, None, meter="M2", feedstock=True)
        statistic(conn, "E-CM-01", at, "value_added", 400, "10^4 yuan")
        energy_month(conn, "E-WW-01", at, 10_000_000, 20_000_000)
        statistic(conn, "E-WW-01", at, "value_added", 100, "10^4 yuan")
        statistic(conn, "E-CH-01", at, "phosphogypsum_produced", 1000)
        statistic(conn, "E-CH-01", at, "phosphogypsum_utilised", 700)
        statistic(conn, "E-CH-01", at, "phosphogypsum_treated", 400)
        statistic(conn, "E-CH-01", at, "solid_waste_generated", 1000)
        statistic(conn, "E-CH-01", at, "solid_waste_utilised", 500)
        last_year = month(year - 1, number)
        statistic(conn, "E-CH-01", last_year, "phosphogypsum_produced", 1000)
        statistic(conn, "E-CH-01", last_year, "phosphogypsum_consumed", 900)


AS_OF = date(2026, 8, 31)
