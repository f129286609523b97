"""PostgreSQL adapter of the energy stream: upserts on natural keys, and hydration reads.

``write_energy(cur, output, registry_version)`` writes one ``EnergyOutput`` inside the
caller's transaction (readings, statistics, consumption, intensities on their natural keys,
migration 005; verdicts through ``streams.upserts.upsert_verdicts``, which needs a
connection prepared by ``streams.sink.create_pool``) and returns the verdicts' revisions.
``load_enterprise(conn, enterprise_id)`` reads back everything stored for an enterprise as
``EnergyRecord`` s, for ``EnergyEngine.hydrate``. Errors are psycopg's, raised as they come.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic_core import to_jsonable_python

from schemas.energy import EnergyRecord, ReadingIn, StatisticIn
from streams.domain.energy.model import EnergyOutput
from streams.upserts import VerdictKey, upsert_verdicts

_READINGS = """
INSERT INTO energy_readings AS t
    (meter_id, stat_type, at, enterprise_id, value, unit, register, marks)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (meter_id, stat_type, at) DO UPDATE SET
    value = EXCLUDED.value, unit = EXCLUDED.unit, marks = EXCLUDED.marks,
    stored_at = now()
"""
_STATISTICS = """
INSERT INTO energy_statistics AS t
    (enterprise_id, indicator, product, stat_type, period_start, value, unit)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (enterprise_id, indicator, product, stat_type, period_start) DO UPDATE SET
    value = EXCLUDED.value, unit = EXCLUDED.unit, stored_at = now()
"""
_CONSUMPTION = """
INSERT INTO energy_consumption AS t
    (meter_id, period, period_start, enterprise_id, carrier, product, feedstock, quantity,
     kgce_calorific, kgce_equivalent, co2_kg, readings, expected, completeness, marks,
     evidence, registry_version)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (meter_id, period, period_start) DO UPDATE SET
    quantity = EXCLUDED.quantity, kgce_calorific = EXCLUDED.kgce_calorific,
    kgce_equivalent = EXCLUDED.kgce_equivalent, co2_kg = EXCLUDED.co2_kg,
    readings = EXCLUDED.readings, expected = EXCLUDED.expected,
    completeness = EXCLUDED.completeness, marks = EXCLUDED.marks,
    evidence = EXCLUDED.evidence, registry_version = EXCLUDED.registry_version,
    computed_at = now()
"""
_INTENSITIES = """
INSERT INTO energy_intensities AS t
    (enterprise_id, subject, indicator, window_name, period_start, numerator, denominator,
     value, evidence, registry_version)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (enterprise_id, subject, indicator, window_name, period_start) DO UPDATE SET
    numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator,
    value = EXCLUDED.value, evidence = EXCLUDED.evidence,
    registry_version = EXCLUDED.registry_version, computed_at = now()
"""


def write_energy(
    cur: psycopg.Cursor[Any], output: EnergyOutput, registry_version: str
) -> dict[VerdictKey, int]:
    """Upsert everything in ``output``; returns the stored revision of every verdict."""
    if output.readings:
        cur.executemany(
            _READINGS,
            [
                (r.meter_id, r.stat_type, r.at, r.enterprise_id, r.value, r.unit, r.register,
                 list(r.marks))
                for r in output.readings
            ],
        )  # fmt: skip
    if output.statistics:
        cur.executemany(
            _STATISTICS,
            [
                (s.enterprise_id, s.indicator, s.product, s.stat_type, s.period_start, s.value,
                 s.unit)
                for s in output.statistics
            ],
        )  # fmt: skip
    if output.consumption:
        cur.executemany(
            _CONSUMPTION,
            [
                (c.meter_id, c.period, c.period_start, c.enterprise_id, c.carrier, c.product,
                 c.feedstock, c.quantity, c.kgce_calorific, c.kgce_equivalent, c.co2_kg,
                 c.readings, c.expected, c.completeness, list(c.marks),
                 Jsonb(to_jsonable_python(c.evidence)), registry_version)
                for c in output.consumption
            ],
        )  # fmt: skip
    if output.intensities:
        cur.executemany(
            _INTENSITIES,
            [
                (i.enterprise_id, i.subject, i.indicator, i.window, i.period_start, i.numerator,
                 i.denominator, i.value, Jsonb(to_jsonable_python(i.evidence)),
                 registry_version)
                for i in output.intensities
            ],
        )  # fmt: skip
    return upsert_verdicts(cur, output.verdicts)


def load_enterprise(conn: psycopg.Connection[Any], enterprise_id: str) -> list[EnergyRecord]:
    """Every stored reading and statistic of ``enterprise_id`` as records (oldest first)."""
    records: list[EnergyRecord] = []
    rows = conn.execute(
        "SELECT meter_id, stat_type, at, value, unit, register FROM energy_readings"
        " WHERE enterprise_id = %s ORDER BY at",
        (enterprise_id,),
    ).fetchall()
    for meter_id, stat_type, at, value, unit, register in rows:
        when = {"instant": at} if register else {"period_start": at}
        reading = ReadingIn(meter_id=meter_id, value=value, unit=unit, stat_type=stat_type, **when)
        records.append(EnergyRecord(enterprise_id=enterprise_id, reading=reading))
    rows = conn.execute(
        "SELECT indicator, product, stat_type, period_start, value, unit FROM energy_statistics"
        " WHERE enterprise_id = %s ORDER BY period_start",
        (enterprise_id,),
    ).fetchall()
    for indicator, product, stat_type, period_start, value, unit in rows:
        statistic = StatisticIn(
            indicator=indicator,
            product=product or None,
            stat_type=stat_type,
            period_start=period_start,
            value=value,
            unit=unit,
        )
        records.append(EnergyRecord(enterprise_id=enterprise_id, statistic=statistic))
    return records
