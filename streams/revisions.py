"""Revision history: every version a later write replaces is kept (issue 13 item 1).

``measurements``, ``aggregates`` and ``verdicts`` hold the latest version of each natural key
(what dashboards show). Before the sink's upsert replaces a stored row with different values,
the functions here copy the stored row into ``measurement_revisions`` /
``aggregate_revisions`` / ``verdict_revisions`` (migration 007, append-only by trigger), in
the caller's transaction on the caller's cursor, from the same staging tables the upsert
reads (``streams.upserts``). So a batch's writes and the history they make commit together,
or neither does; a replayed batch (same values) adds no history.

What a superseded version records (docs/database.md "Revision history"):

- a measurement: its values, flag and ``received_at``; ``reason`` ``resent``; when it was
  superseded, when the replacing value arrived, and the raw-topic position of the message
  that carried the replacing value;
- an hourly/daily value: its values and ``computed_at``; ``reason`` ``registry_changed`` (a
  new registry version re-judged it) or ``late_or_resent_data``; the raw-topic positions of
  the batch that re-derived it (``source``);
- a verdict, only when its value or status changed (a new ``revision``): the superseded
  revision with its evidence and ``issued_at``; ``reason`` ``resent`` (the new revision's
  evidence counts re-sent values), ``registry_changed`` or ``late_or_recomputed``.

The history readers (``measurement_history``, ``aggregate_history``, ``verdict_history``)
return an entity's versions oldest first, the current one last, from the ``*_versions`` views
(migration 007; with the reader's rights and row-level security since 016, so the auditors'
API reads ``verdict_versions`` too). psycopg errors as they come.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from runtime.dead_letters import SourcePosition

MeasurementKey = tuple[str, str, str, datetime]
"""(device_id, factor, period, period_start): the natural key of a measurement."""

SOURCES_STAGE = "gw_stage_measurement_sources"
"""Session staging table of the source positions of a batch's measurements (created by
``prepare_revision_staging``, filled only when a batch replaces stored measurements)."""

_MEASUREMENT_PRIOR = (
    "device_id, factor, period, period_start, outlet_id, factor_as_sent, rtd, avg, min, max,"
    " cou, zs_rtd, zs_avg, flag, received_at, qn"
)
_MEASUREMENT_VALUES = ("rtd", "avg", "min", "max", "cou", "zs_rtd", "zs_avg", "flag", "outlet_id")
_AGGREGATE_PRIOR = (
    "outlet_id, factor, period, period_start, device_id, valid, valid_count, invalid_count,"
    " flag_counts, mean, min, max, o2_measured, o2_reference, o2_corrected,"
    " device_o2_corrected, o2_disagrees, flow_std_m3h, emission_rate_kgh, load_kg,"
    " registry_version, computed_at"
)
_AGGREGATE_VALUES = (
    "device_id", "valid", "valid_count", "invalid_count", "flag_counts", "mean", "min", "max",
    "o2_measured", "o2_reference", "o2_corrected", "device_o2_corrected", "o2_disagrees",
    "flow_std_m3h", "emission_rate_kgh", "load_kg", "registry_version",
)  # fmt: skip
_VERDICT_PRIOR = (
    "outlet_id, factor, rule, period_start, enterprise_id, period, value, limit_value, ratio,"
    " status, standard, evidence, registry_version, revision, issued_at"
)


NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "measurements": ("device_id", "factor", "period", "period_start"),
    "aggregates": ("outlet_id", "factor", "period", "period_start"),
    "verdicts": ("outlet_id", "factor", "rule", "period_start"),
}
"""Each latest-view table's natural key (its primary key): what every write upserts on."""


def _stored(table: str) -> str:
    """The stored row ``t`` of each staged row ``s``, looked up by its natural key.

    A ``LATERAL`` subquery with ``LIMIT 1`` (the key is unique, so it changes nothing but the
    plan): the planner cannot flatten it into a join, so every staged row is one probe of the
    primary key, whatever the statistics say. As a plain join, with no statistics on the
    temporary staging table, PostgreSQL chose a merge join on ``(period, period_start)``
    through ``aggregates_time_idx``: every staged hourly value against every stored one of
    the same hour (a closing hour of 10 000 devices: ~0.5 M rows compared per flush, ~80 ms
    of the server's CPU; docs/perf.md "Seventh slice (pg)")."""
    match = " AND ".join(f"a.{c} = s.{c}" for c in NATURAL_KEYS[table])
    return f"CROSS JOIN LATERAL (SELECT * FROM {table} a WHERE {match} LIMIT 1) t"


def _prefixed(prefix: str, columns: str) -> str:
    return ", ".join(f"{prefix}.{c.strip()}" for c in columns.split(","))


def _distinct(columns: tuple[str, ...]) -> str:
    return "({}) IS DISTINCT FROM ({})".format(
        ", ".join(f"t.{c}" for c in columns), ", ".join(f"s.{c}" for c in columns)
    )


def prepare_revision_staging(conn: psycopg.Connection[Any]) -> None:
    """Create the session's source-position staging table (with the sink's other stages)."""
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {SOURCES_STAGE} (device_id text, factor text,"
        " period text, period_start timestamptz, source_topic text, source_partition integer,"
        " source_offset bigint) ON COMMIT DELETE ROWS"
    )


def batch_source(sources: Mapping[MeasurementKey, SourcePosition]) -> Jsonb | None:
    """The raw-topic positions of a batch, per topic and partition: first and last offset."""
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    # a frame's measurements share one position object: each looked at once (by identity)
    for position in {id(p): p for p in sources.values()}.values():
        key = (position.topic, position.partition)
        first, last = spans.get(key, (position.offset, position.offset))
        spans[key] = (min(first, position.offset), max(last, position.offset))
    if not spans:
        return None
    return Jsonb(
        {
            "positions": [
                {"topic": topic, "partition": partition, "first": first, "last": last}
                for (topic, partition), (first, last) in sorted(spans.items())
            ]
        }
    )


MEASUREMENT_REVISIONS = (
    f"INSERT INTO measurement_revisions ({_MEASUREMENT_PRIOR}, superseded_by_received_at,"
    " reason, source_topic, source_partition, source_offset)"
    f" SELECT {_prefixed('t', _MEASUREMENT_PRIOR)}, s.received_at, 'resent',"
    " p.source_topic, p.source_partition, p.source_offset"
    f" FROM gw_stage_measurements s {_stored('measurements')}"
    f" LEFT JOIN {SOURCES_STAGE} p ON p.device_id = s.device_id AND p.factor = s.factor"
    "  AND p.period = s.period AND p.period_start = s.period_start"
    f" WHERE {_distinct(_MEASUREMENT_VALUES)}"
)
"""Keeps the stored measurements the staged ones replace with other values."""
AGGREGATE_REVISIONS = (
    f"INSERT INTO aggregate_revisions ({_AGGREGATE_PRIOR}, reason, source)"
    f" SELECT {_prefixed('t', _AGGREGATE_PRIOR)},"
    " CASE WHEN t.registry_version IS DISTINCT FROM s.registry_version"
    "  THEN 'registry_changed' ELSE 'late_or_resent_data' END, %s"
    f" FROM gw_stage_aggregates s {_stored('aggregates')}"
    f" WHERE {_distinct(_AGGREGATE_VALUES)}"
)
"""Keeps the stored hourly/daily values the staged ones replace with other values
(parameter: the batch's source positions)."""
VERDICT_REVISIONS = (
    f"INSERT INTO verdict_revisions ({_VERDICT_PRIOR}, superseded_by, reason, source)"
    f" SELECT {_prefixed('t', _VERDICT_PRIOR)}, t.revision + 1,"
    " CASE WHEN coalesce((s.evidence ->> 'resent_values')::numeric, 0) > 0 THEN 'resent'"
    "  WHEN t.registry_version IS DISTINCT FROM s.registry_version THEN 'registry_changed'"
    "  ELSE 'late_or_recomputed' END, %s"
    f" FROM gw_stage_verdicts s {_stored('verdicts')}"
    " WHERE (t.value, t.status) IS DISTINCT FROM (s.value, s.status)"
)
"""Keeps the stored verdicts the staged ones supersede (parameter: source positions)."""


def record_measurement_revisions(
    cur: psycopg.Cursor[Any], sources: Mapping[MeasurementKey, SourcePosition]
) -> int:
    """Keep the stored measurements the staged batch is about to replace with other values;
    call after staging (``gw_stage_measurements``) and before the upsert. Returns rows kept."""
    if sources:
        with cur.copy(
            f"COPY {SOURCES_STAGE} (device_id, factor, period, period_start, source_topic,"
            " source_partition, source_offset) FROM STDIN"
        ) as copy:
            for (device, factor, period, start), position in sources.items():
                copy.write_row(
                    (device, factor, period, start, position.topic, position.partition,
                     position.offset)
                )  # fmt: skip
    cur.execute(MEASUREMENT_REVISIONS)
    return cur.rowcount


def record_aggregate_revisions(cur: psycopg.Cursor[Any], source: Jsonb | None) -> int:
    """Keep the stored hourly/daily values the staged aggregates are about to replace with
    other values; call after staging and before the upsert. Returns rows kept."""
    cur.execute(AGGREGATE_REVISIONS, (source,))
    return cur.rowcount


def record_verdict_revisions(cur: psycopg.Cursor[Any], source: Jsonb | None) -> int:
    """Keep the stored verdicts the staged ones are about to supersede (value or status
    changed: a new revision); call after staging and before the upsert. Returns rows kept."""
    cur.execute(VERDICT_REVISIONS, (source,))
    return cur.rowcount


def measurement_history(
    conn: psycopg.Connection[Any], device_id: str, factor: str, period: str, start: datetime
) -> list[dict[str, Any]]:
    """Every version of one measurement, oldest first (the current one last)."""
    return _read(
        conn,
        "SELECT * FROM measurement_versions WHERE device_id = %s AND factor = %s"
        " AND period = %s AND period_start = %s ORDER BY current, seq",
        (device_id, factor, period, start),
    )


def aggregate_history(
    conn: psycopg.Connection[Any], outlet_id: str, factor: str, period: str, start: datetime
) -> list[dict[str, Any]]:
    """Every version of one hourly or daily value, oldest first (the current one last)."""
    return _read(
        conn,
        "SELECT * FROM aggregate_versions WHERE outlet_id = %s AND factor = %s"
        " AND period = %s AND period_start = %s ORDER BY current, seq",
        (outlet_id, factor, period, start),
    )


def verdict_history(
    conn: psycopg.Connection[Any], outlet_id: str, factor: str, rule: str, start: datetime
) -> list[dict[str, Any]]:
    """Every revision of one verdict, oldest first (the current one last)."""
    return _read(
        conn,
        "SELECT * FROM verdict_versions WHERE outlet_id = %s AND factor = %s"
        " AND rule = %s AND period_start = %s ORDER BY revision, current",
        (outlet_id, factor, rule, start),
    )


def _read(
    conn: psycopg.Connection[Any], query: str, params: tuple[object, ...]
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return list(cur.fetchall())
