"""Table writers of the sink: binary COPY into staging tables, upserts on natural keys.

Each function runs inside the caller's transaction on the caller's cursor (``PgSink`` owns
the transaction, the pool and the retries). Staging tables are temporary, created once per
pooled connection by ``prepare_connection`` (``ON COMMIT DELETE ROWS``) and filled by binary
``COPY``; one ``INSERT … SELECT`` moves them into the table. Natural keys:

- measurements ``(device_id, factor, period, period_start)``: a re-sent value replaces the old
  (optimistic: ``copy_new_measurements``, a binary ``COPY`` straight into the table as the
  transaction's first statement; staging and ``ON CONFLICT DO UPDATE`` in a new transaction
  when a key exists, ``upsert_measurements``);
- aggregates ``(outlet_id, factor, period, period_start)``: late data re-aggregate;
- verdicts ``(outlet_id, factor, rule, period_start)``: ``revision`` increments only when the
  judged value or the status changed, so a replayed batch changes nothing;
- dead letters ``(source_topic, source_partition, source_offset)``: ``runtime.dead_letters``.

``refresh_rollups`` recomputes the plain-PostgreSQL ``measurement_hourly`` rows of the
device-hours whose hourly value was written (a no-op on TimescaleDB, where it is a real-time
continuous aggregate). Errors are psycopg's, raised as they come.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic_core import to_json

from runtime.dead_letters import SourcePosition
from schemas.measurement import AggregateValue, Measurement, PeriodKind
from schemas.verdict import Verdict
from streams.measurement_copy import MEASUREMENT_COLUMNS
from streams.revisions import (
    NATURAL_KEYS,
    MeasurementKey,
    prepare_revision_staging,
    record_aggregate_revisions,
    record_measurement_revisions,
    record_verdict_revisions,
)

VerdictKey = tuple[str, str, str, datetime]
"""(outlet_id, factor, rule, period_start): the natural key of a verdict."""


_MEASUREMENT_KEY = NATURAL_KEYS["measurements"]
_MEASUREMENT_VALUES = ("rtd", "avg", "min", "max", "cou", "zs_rtd", "zs_avg", "flag", "outlet_id")
_AGGREGATE_COLUMNS = (
    "outlet_id", "factor", "period", "period_start", "device_id", "valid", "valid_count",
    "invalid_count", "flag_counts", "mean", "min", "max", "o2_measured", "o2_reference",
    "o2_corrected", "device_o2_corrected", "o2_disagrees", "flow_std_m3h",
    "emission_rate_kgh", "load_kg", "registry_version",
)  # fmt: skip
_AGGREGATE_KEY = NATURAL_KEYS["aggregates"]
_VERDICT_COLUMNS = (
    "outlet_id", "factor", "rule", "period_start", "enterprise_id", "period", "value",
    "limit_value", "ratio", "status", "standard", "evidence", "registry_version",
)  # fmt: skip
_VERDICT_KEY = NATURAL_KEYS["verdicts"]
_BINARY_TYPES = {
    **dict.fromkeys(
        ("device_id", "factor", "period", "outlet_id", "factor_as_sent", "flag", "qn", "rule",
         "enterprise_id", "status", "standard", "registry_version"),
        "text",
    ),
    **dict.fromkeys(
        ("rtd", "avg", "min", "max", "cou", "zs_rtd", "zs_avg", "mean", "o2_measured",
         "o2_reference", "o2_corrected", "device_o2_corrected", "flow_std_m3h",
         "emission_rate_kgh", "load_kg", "value", "limit_value", "ratio"),
        "float8",
    ),
    "period_start": "timestamptz",
    "received_at": "timestamptz",
    "valid": "bool",
    "o2_disagrees": "bool",
    "valid_count": "int4",
    "invalid_count": "int4",
    "flag_counts": "jsonb",
    "evidence": "jsonb",
}  # fmt: skip
"""PostgreSQL type of every staged column: staging COPY runs in binary format (about three
times less client CPU than text for the same rows)."""
_STAGING = {
    "measurements": ("gw_stage_measurements", MEASUREMENT_COLUMNS),
    "aggregates": ("gw_stage_aggregates", _AGGREGATE_COLUMNS),
    "verdicts": ("gw_stage_verdicts", _VERDICT_COLUMNS),
}


def prepare_connection(conn: psycopg.Connection[Any]) -> None:
    """Create the session's staging tables (pool ``configure`` hook; leaves the conn idle)."""
    with conn.transaction():
        for table, (stage, columns) in _STAGING.items():
            conn.execute(
                sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS"
                    " AS SELECT {} FROM {} WITH NO DATA"
                ).format(sql.Identifier(stage), _names(columns), sql.Identifier(table))
            )
        prepare_revision_staging(conn)


def _names(columns: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(c) for c in columns)


def _copy_to_stage(cur: psycopg.Cursor[Any], table: str, rows: Iterable[Sequence[object]]) -> None:
    stage, columns = _STAGING[table]
    _copy_rows(cur, stage, columns, rows)


@functools.cache
def _copy_statement(table: str, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The binary ``COPY`` statement into ``table`` and its columns' types, composed once
    per table (a flush used to compose and quote it again for every batch)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), _names(columns)
    )
    return statement.as_string(), tuple(_BINARY_TYPES[c] for c in columns)


def _copy_rows(
    cur: psycopg.Cursor[Any],
    table: str,
    columns: tuple[str, ...],
    rows: Iterable[Sequence[object]],
) -> None:
    """Binary ``COPY`` of ``rows`` (tuples in ``columns`` order) into ``table``."""
    statement, types = _copy_statement(table, columns)
    with cur.copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _upsert_statement(
    table: str,
    key: Sequence[str],
    updates: sql.Composable,
    *,
    returning: str = "",
    in_key_order: bool = True,
) -> str:
    """``INSERT … SELECT`` from the staging table with ``ON CONFLICT (key) DO UPDATE``.

    ``in_key_order`` sorts the rows so that two workers upserting overlapping keys lock them
    in the same order (no deadlock; a deadlock would be retried as a lost transaction).
    """
    stage, columns = _STAGING[table]
    order = sql.SQL(" ORDER BY {}").format(_names(key)) if in_key_order else sql.SQL("")
    return (
        sql.SQL(
            "INSERT INTO {table} AS t ({columns}) SELECT {columns} FROM {stage}{order}"
            " ON CONFLICT ({key}) DO UPDATE SET {updates}{returning}"
        )
        .format(
            order=order,
            table=sql.Identifier(table),
            columns=_names(columns),
            stage=sql.Identifier(stage),
            key=_names(key),
            updates=updates,
            returning=sql.SQL(returning),
        )
        .as_string()
    )


def _set_excluded(columns: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in columns
    )


def measurement_rows(measurements: Sequence[Measurement]) -> list[tuple[object, ...]]:
    """COPY rows (``MEASUREMENT_COLUMNS`` order) of ``measurements``, one per natural key,
    the last of a key in the batch winning (in the position of its first).

    One tuple per measurement and, only when the batch carries a key twice, one dict of
    the keys (a row's first four fields, hashed in C; ``period`` is a ``StrEnum``, dumped
    as its text), instead of a key tuple and a dict entry for every measurement. A batch
    known to carry each key once is written from its frames instead
    (``streams.measurement_copy``).
    """
    rows: list[tuple[object, ...]] = [
        (m.device_id, m.factor, m.period, m.period_start, m.outlet_id, m.factor_as_sent,
         m.rtd, m.avg, m.min, m.max, m.cou, m.zs_rtd, m.zs_avg, m.flag, m.received_at, m.qn)
        for m in measurements
    ]  # fmt: skip
    latest = {row[:4]: row for row in rows}
    return rows if len(latest) == len(rows) else list(latest.values())


def copy_new_measurements(cur: psycopg.Cursor[Any], rows: Sequence[Sequence[object]]) -> None:
    """Binary ``COPY`` of ``rows`` (``measurement_rows``) straight into ``measurements``.

    Raises ``psycopg.errors.UniqueViolation`` when a key is already stored; the caller's
    transaction is then aborted and must be rolled back (``streams.sink`` runs this as the
    first statement of its transaction and, on that error, writes the batch again in a new
    one with ``upsert_measurements``: no savepoint on the usual path).
    """
    _copy_rows(cur, "measurements", MEASUREMENT_COLUMNS, rows)


def copy_new_measurement_data(cur: psycopg.Cursor[Any], data: bytes) -> None:
    """``copy_new_measurements`` of rows already encoded: ``data`` is a whole binary COPY of
    ``MEASUREMENT_COLUMNS`` rows (``streams.measurement_copy.measurement_copy_data``, what
    ``PgSink`` writes). Raises as ``copy_new_measurements``.

    The text in ``data`` is UTF-8: a session with another client encoding is switched to
    UTF-8 first (PostgreSQL converts to the database's encoding as it would for psycopg's
    own dumpers; the ``SET`` is part of the caller's transaction)."""
    if cur.connection.info.encoding != "utf-8":
        cur.execute("SET client_encoding TO 'UTF8'")
    statement, _ = _copy_statement("measurements", MEASUREMENT_COLUMNS)
    with cur.copy(statement) as copy:
        copy.write(data)


def _measurement_upsert() -> str:
    changed = sql.SQL("({}) IS DISTINCT FROM ({})").format(
        sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in _MEASUREMENT_VALUES),
        sql.SQL(", ").join(
            sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in _MEASUREMENT_VALUES
        ),
    )
    updates = sql.SQL("{} WHERE {}").format(
        _set_excluded(c for c in MEASUREMENT_COLUMNS if c not in _MEASUREMENT_KEY), changed
    )
    # Unsorted: a device's measurements come from one partition, hence one worker; keys
    # overlap between workers only while a partition moves, and a deadlock is retried.
    return _upsert_statement("measurements", _MEASUREMENT_KEY, updates, in_key_order=False)


def _aggregate_upsert() -> str:
    updates = sql.SQL("{}, computed_at = now()").format(
        _set_excluded(c for c in _AGGREGATE_COLUMNS if c not in _AGGREGATE_KEY)
    )
    return _upsert_statement("aggregates", _AGGREGATE_KEY, updates)


def _verdict_upsert() -> str:
    changed = sql.SQL("(t.value, t.status) IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.status)")
    updates = sql.SQL(
        "{}, revision = t.revision + CASE WHEN {changed} THEN 1 ELSE 0 END,"
        " issued_at = CASE WHEN {changed} THEN now() ELSE t.issued_at END"
    ).format(_set_excluded(c for c in _VERDICT_COLUMNS if c not in _VERDICT_KEY), changed=changed)
    return _upsert_statement(
        "verdicts",
        _VERDICT_KEY,
        updates,
        returning=" RETURNING outlet_id, factor, rule, period_start, revision",
    )


# Composed once at import: the same text every batch sent, without composing and quoting
# it again per flush.
_MEASUREMENT_UPSERT = _measurement_upsert()
_AGGREGATE_UPSERT = _aggregate_upsert()
_VERDICT_UPSERT = _verdict_upsert()


def _jsonb(value: object) -> Jsonb:
    """A ``jsonb`` parameter serialised by pydantic-core (in Rust) rather than ``json.dumps``
    of ``to_jsonable_python``: the same JSON value, which PostgreSQL stores as the same
    ``jsonb`` (it keeps no text form)."""
    return Jsonb(value, dumps=to_json)


def upsert_measurements(
    cur: psycopg.Cursor[Any],
    measurements: Sequence[Measurement],
    sources: Mapping[MeasurementKey, SourcePosition] | None = None,
) -> int:
    """Upsert measurements (the last one of a key in the batch wins) when some keys may be
    stored already (a re-sent minute, a batch replayed after a crash): staging table, the
    stored values it replaces with other values kept in ``measurement_revisions`` with the
    position of the replacing message from ``sources`` (``streams.revisions``), then
    ``ON CONFLICT DO UPDATE``. Returns the distinct keys written. A batch of new keys goes
    faster through ``copy_new_measurements``.
    """
    if not measurements:
        return 0
    rows = measurement_rows(measurements)
    _copy_to_stage(cur, "measurements", rows)
    record_measurement_revisions(cur, sources or {})
    cur.execute(_MEASUREMENT_UPSERT)
    return len(rows)


def stage_aggregates(cur: psycopg.Cursor[Any], aggregates: Sequence[AggregateValue]) -> int:
    """Binary ``COPY`` of hourly/daily values into their staging table (the last of a key in
    the batch wins); returns the keys staged. ``apply_aggregates`` writes them."""
    if not aggregates:
        return 0
    latest = {(a.outlet_id, a.factor, a.period, a.period_start): a for a in aggregates}
    _copy_to_stage(
        cur,
        "aggregates",
        (
            (a.outlet_id, a.factor, a.period.value, a.period_start, a.device_id, a.valid,
             a.valid_count, a.invalid_count, _jsonb(a.flag_counts), a.mean, a.min, a.max,
             a.o2_measured, a.o2_reference, a.o2_corrected, a.device_o2_corrected,
             a.o2_disagrees, a.flow_std_m3h, a.emission_rate_kgh, a.load_kg, a.registry_version)
            for a in latest.values()
        ),
    )  # fmt: skip
    return len(latest)


def apply_aggregates(cur: psycopg.Cursor[Any], source: Jsonb | None = None) -> None:
    """The staged hourly/daily values into ``aggregates``: the stored values they replace with
    others kept in ``aggregate_revisions`` (``source``: the batch's raw positions,
    ``streams.revisions.batch_source``), then the upsert. Two statements that read no result,
    so they can be queued in a pipeline (``PgSink``)."""
    record_aggregate_revisions(cur, source)
    cur.execute(_AGGREGATE_UPSERT)


def upsert_aggregates(
    cur: psycopg.Cursor[Any], aggregates: Sequence[AggregateValue], source: Jsonb | None = None
) -> int:
    """Upsert hourly/daily values (the last of a key in the batch wins); returns keys. The
    stored values it replaces with others are kept in ``aggregate_revisions`` (``source``:
    the batch's raw positions, ``streams.revisions.batch_source``)."""
    staged = stage_aggregates(cur, aggregates)
    if staged:
        apply_aggregates(cur, source)
    return staged


def stage_verdicts(cur: psycopg.Cursor[Any], verdicts: Sequence[Verdict]) -> int:
    """Binary ``COPY`` of verdicts into their staging table (the last of a key in the batch
    wins); returns the keys staged. ``apply_verdicts`` writes them."""
    if not verdicts:
        return 0
    latest = {(v.outlet_id, v.factor, v.rule.value, v.period_start): v for v in verdicts}
    _copy_to_stage(
        cur,
        "verdicts",
        (
            (v.outlet_id, v.factor, v.rule.value, v.period_start, v.enterprise_id,
             v.period.value, v.value, v.limit, v.ratio, v.status.value, v.standard,
             _jsonb(v.evidence), v.registry_version)
            for v in latest.values()
        ),
    )  # fmt: skip
    return len(latest)


def apply_verdicts(cur: psycopg.Cursor[Any], source: Jsonb | None = None) -> None:
    """The staged verdicts into ``verdicts``: a re-issue bumps ``revision`` only if value or
    status changed, and the revision it supersedes is kept in ``verdict_revisions``
    (``source``: the batch's raw positions). The upsert is the cursor's last statement: its
    rows (``verdict_revisions_of(cur)``) may be read after a pipeline's sync (``PgSink``)."""
    record_verdict_revisions(cur, source)
    cur.execute(_VERDICT_UPSERT)


def verdict_revisions_of(cur: psycopg.Cursor[Any]) -> dict[VerdictKey, int]:
    """The revision now stored for every verdict ``apply_verdicts`` wrote on ``cur``."""
    return {(r[0], r[1], r[2], r[3]): int(r[4]) for r in cur.fetchall()}


def upsert_verdicts(
    cur: psycopg.Cursor[Any], verdicts: Sequence[Verdict], source: Jsonb | None = None
) -> dict[VerdictKey, int]:
    """Upsert verdicts; a re-issue bumps ``revision`` only if value or status changed, and
    the revision it supersedes is kept in ``verdict_revisions`` (``source``: the batch's raw
    positions).

    Returns the revision now stored for every verdict of the batch.
    """
    if not stage_verdicts(cur, verdicts):
        return {}
    apply_verdicts(cur, source)
    return verdict_revisions_of(cur)


def hour_keys(aggregates: Sequence[AggregateValue]) -> list[tuple[str, datetime]]:
    """The (device, hour) keys whose hourly value is written, sorted: ``refresh_rollups``'."""
    return sorted(
        {(a.device_id, a.period_start) for a in aggregates if a.period is PeriodKind.HOUR}
    )


def refresh_rollups(cur: psycopg.Cursor[Any], keys: Sequence[tuple[str, datetime]]) -> None:
    """Recompute ``measurement_hourly`` for the device-hours ``keys`` (``hour_keys``) whose
    hourly value was written (sends nothing when there are none)."""
    if not keys:
        return
    cur.execute(
        "SELECT gw_refresh_measurement_hourly_keys(%b::text[], %b::timestamptz[])",
        ([k[0] for k in keys], [k[1] for k in keys]),
    )
