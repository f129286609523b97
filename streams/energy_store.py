"""PostgreSQL adapter of the energy stream: upserts on natural keys, and hydration reads.

``write_energy(cur, output, registry_version)`` writes one ``EnergyOutput`` inside the
caller's transaction (readings, statistics, consumption, intensities on their natural keys,
migration 005; process CO2, migration 011; verdicts through
``streams.upserts.upsert_verdicts``, which needs a connection prepared by
``streams.sink.create_pool``) and returns the verdicts' revisions.
``load_enterprise(conn, enterprise_id)`` reads back everything stored for an enterprise as
``EnergyRecord`` s, for ``EnergyEngine.hydrate``. Errors are psycopg's, raised as they come.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic_core import to_jsonable_python

from schemas.energy import EnergyRecord, ReadingIn, StatisticIn
from streams.domain.energy.model import EnergyOutput
from streams.upserts import VerdictKey, upsert_verdicts

_STATISTICS = """
INSERT INTO energy_statistics AS t
    (enterprise_id, indicator, product, stat_type, period_start, value, unit)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (enterprise_id, indicator, product, stat_type, period_start) DO UPDATE SET
    value = EXCLUDED.value, unit = EXCLUDED.unit, stored_at = now()
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
_PROCESS_CO2 = """
INSERT INTO energy_process_co2 AS t
    (enterprise_id, product, period_start, process, output_t, co2_t, evidence, registry_version)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (enterprise_id, product, period_start) DO UPDATE SET
    process = EXCLUDED.process, output_t = EXCLUDED.output_t, co2_t = EXCLUDED.co2_t,
    evidence = EXCLUDED.evidence, registry_version = EXCLUDED.registry_version,
    computed_at = now()
"""


_READING_COLUMNS = (
    ("meter_id", "text"), ("stat_type", "text"), ("at", "timestamptz"),
    ("enterprise_id", "text"), ("value", "float8"), ("unit", "text"), ("register", "bool"),
    ("marks", "text[]"),
)  # fmt: skip
_CONSUMPTION_COLUMNS = (
    ("meter_id", "text"), ("period", "text"), ("period_start", "timestamptz"),
    ("enterprise_id", "text"), ("carrier", "text"), ("product", "text"), ("feedstock", "bool"),
    ("quantity", "float8"), ("kgce_calorific", "float8"), ("kgce_equivalent", "float8"),
    ("co2_kg", "float8"), ("readings", "int4"), ("expected", "int4"),
    ("completeness", "float8"), ("marks", "text[]"), ("evidence", "jsonb"),
    ("registry_version", "text"),
)  # fmt: skip


def write_energy(
    cur: psycopg.Cursor[Any], output: EnergyOutput, registry_version: str
) -> dict[VerdictKey, int]:
    """Upsert everything in ``output``; returns the stored revision of every verdict."""
    if output.readings:
        readings = {(r.meter_id, r.stat_type, r.at): r for r in output.readings}
        _staged_upsert(
            cur,
            "energy_readings",
            _READING_COLUMNS,
            3,
            "stored_at",
            [
                (r.meter_id, r.stat_type, r.at, r.enterprise_id, r.value, r.unit, r.register,
                 list(r.marks))
                for r in readings.values()
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
        consumption = {(c.meter_id, c.period, c.period_start): c for c in output.consumption}
        evidence = _SharedJsonb()
        _staged_upsert(
            cur,
            "energy_consumption",
            _CONSUMPTION_COLUMNS,
            3,
            "computed_at",
            [
                (c.meter_id, c.period, c.period_start, c.enterprise_id, c.carrier, c.product,
                 c.feedstock, c.quantity, c.kgce_calorific, c.kgce_equivalent, c.co2_kg,
                 c.readings, c.expected, c.completeness, list(c.marks),
                 evidence.of(c.evidence), registry_version)
                for c in consumption.values()
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
    if output.process_co2:
        cur.executemany(
            _PROCESS_CO2,
            [
                (p.enterprise_id, p.product, p.period_start, p.process, p.output_t, p.co2_t,
                 Jsonb(to_jsonable_python(p.evidence)), registry_version)
                for p in output.process_co2
            ],
        )  # fmt: skip
    return upsert_verdicts(cur, output.verdicts)


class _SharedJsonb:
    """One ``Jsonb`` per evidence object (rows converted with the same coefficients share
    their citations: ``streams.domain.energy.conversion``), dumped to JSON text once."""

    def __init__(self) -> None:
        self._by_id: dict[int, Jsonb] = {}

    def of(self, evidence: dict[str, Any]) -> Jsonb:
        found = self._by_id.get(id(evidence))  # the rows keep every evidence alive meanwhile
        if found is None:
            text = json.dumps(to_jsonable_python(evidence))
            found = self._by_id[id(evidence)] = Jsonb(evidence, dumps=lambda _obj: text)
        return found


def _staged_upsert(
    cur: psycopg.Cursor[Any],
    table: str,
    columns: tuple[tuple[str, str], ...],
    key_length: int,
    stamp: str,
    rows: list[tuple[object, ...]],
) -> None:
    """Binary COPY of ``rows`` (one per natural key: the first ``key_length`` columns) into a
    session staging table (``ON COMMIT DELETE ROWS``), then one ``INSERT … ON CONFLICT DO
    UPDATE`` of the other columns, ``stamp`` set to now(); rows in key order (no deadlock
    between two writers of overlapping keys)."""
    names = [name for name, _ in columns]
    stage = sql.Identifier(f"gw_stage_{table}")
    listed = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    key = sql.SQL(", ").join(sql.Identifier(n) for n in names[:key_length])
    cur.execute(
        sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        ).format(stage, sql.Identifier(table))
    )
    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(stage, listed)) as copy:
        copy.set_types([kind for _, kind in columns])
        for row in rows:
            copy.write_row(row)
    updates = sql.SQL(", ").join(
        [
            *(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in names[key_length:]),
            sql.SQL("{} = now()").format(sql.Identifier(stamp)),
        ]
    )
    cur.execute(
        sql.SQL(
            "INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM {stage} ORDER BY {key}"
            " ON CONFLICT ({key}) DO UPDATE SET {updates}"
        ).format(table=sql.Identifier(table), cols=listed, stage=stage, key=key, updates=updates)
    )


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
