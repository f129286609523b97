"""Process CO2 and the regional roll-up against the real PostgreSQL: what the energy stream
stores, read back through the views of migration 011 (``energy_enterprise_monthly``,
``energy_region_monthly``), equals the pure roll-up and the worked example."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest
from energy_support import day, energy_document
from services import PgSchema

from deploy.migrate import Flavor, migrate
from runtime.registry_store import store_registry
from schemas.energy import EnergyBatch, ReadingIn, StatisticIn
from schemas.envelope import Protocol, RawEnvelope
from schemas.registry import parse_registry
from streams.domain.energy.engine import EnergyEngine
from streams.domain.energy.regions import EnterpriseMonth, roll_up
from streams.energy_worker import EnergyStream, Message
from streams.sink import create_pool

pytestmark = pytest.mark.integration
MARCH = date(2026, 3, 1)


def _message(offset: int, batch: EnergyBatch) -> Message:
    envelope = RawEnvelope(
        protocol=Protocol.ENERGY_JSON,
        device_id=batch.enterprise_id,
        peer="127.0.0.1:1",
        received_at=datetime.now(UTC),
        payload=batch.model_dump_json().encode(),
    )
    return Message("raw.energy", 0, offset, envelope.model_dump_json().encode())


def _va(value: float) -> StatisticIn:
    return StatisticIn(
        indicator="value_added",
        stat_type="month",
        period_start=day(0, MARCH),
        value=value,
        unit="10^4 yuan",
    )


def test_region_views_add_process_co2_and_divide_sums_by_sums(
    pg_schema: PgSchema, db_conn: psycopg.Connection[tuple[object, ...]], flavor: Flavor
) -> None:
    document = energy_document()
    cement = next(e for e in document["enterprises"] if e["id"] == "E-CM-01")
    cement["energy"]["products"][0]["process_co2"] = "cement_clinker"
    registry = parse_registry(document, "regions-test")
    assert migrate(db_conn, flavor).flavor is flavor
    store_registry(db_conn, registry)
    cement_batch = EnergyBatch(
        enterprise_id="E-CM-01",
        readings=[
            ReadingIn(meter_id="CM-COAL-1", value=480_000.0, unit="kg", stat_type="day",
                      period_start=day(0, MARCH)),
        ],
        statistics=[
            StatisticIn(indicator="output", product="clinker", stat_type="day",
                        period_start=day(0, MARCH), value=4_000.0, unit="t"),
            _va(1_000.0),
        ],
    )  # fmt: skip
    aluminium_batch = EnergyBatch(
        enterprise_id="E-AL-01",
        readings=[
            ReadingIn(meter_id="AL-AUX-1", value=10_000.0, unit="m3", stat_type="day",
                      period_start=day(0, MARCH)),
        ],
        statistics=[_va(5_000.0)],
    )  # fmt: skip
    pool = create_pool(pg_schema.dsn, name="energy-regions-test")
    try:
        EnergyStream(EnergyEngine(registry), pool).process(
            [_message(0, cement_batch), _message(1, aluminium_batch)]
        )
    finally:
        pool.close()

    process = db_conn.execute(
        "SELECT output_t, co2_t, evidence->'factor'->>'source' FROM energy_process_co2"
    ).fetchall()
    assert len(process) == 1 and process[0][1] == pytest.approx(2_080.0)
    assert "IPCC 2006" in str(process[0][2])

    columns = (
        "enterprise_id, region_code, month, tce, tce_with_feedstock, energy_co2_t,"
        " process_co2_t, value_added"
    )
    enterprises = [
        EnterpriseMonth(*row)  # type: ignore[arg-type]
        for row in db_conn.execute(f"SELECT {columns} FROM energy_enterprise_monthly").fetchall()
    ]
    assert {(e.enterprise_id, e.region_code, e.month) for e in enterprises} == {
        ("E-CM-01", "520300", MARCH),
        ("E-AL-01", "520400", MARCH),
    }
    stored = db_conn.execute(
        "SELECT level, region, month, enterprises, tce, tce_with_feedstock, energy_co2_t,"
        " process_co2_t, co2_t, value_added, tce_per_10k_yuan, tco2_per_10k_yuan"
        " FROM energy_region_monthly ORDER BY level, region"
    ).fetchall()
    pure = roll_up(enterprises)
    assert len(stored) == len(pure) == 5  # 1 province, 2 cities, 2 counties
    for row, expected in zip(stored, pure, strict=True):
        assert row[:4] == (expected.level, expected.region, expected.month, expected.enterprises)
        assert row[4:] == pytest.approx(
            (expected.tce, expected.tce_with_feedstock, expected.energy_co2_t,
             expected.process_co2_t, expected.co2_t, expected.value_added,
             expected.tce_per_10k_yuan, expected.tco2_per_10k_yuan)
        )  # fmt: skip
    province = next(r for r in pure if r.level == "province")
    # coal 480 t × 0.7143 + gas 10 000 m3 × 1.2143 kgce = 342.864 + 12.143 tce
    assert province.tce == pytest.approx(355.007)
    # coal 912.144 + gas 21.622 t from combustion, 2 080 t from clinker
    assert province.co2_t == pytest.approx(912.144 + 21.622 + 2_080.0)
    assert province.tce_per_10k_yuan == pytest.approx(355.007 / 6_000.0)
