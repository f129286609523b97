"""TimescaleDB against plain PostgreSQL on the local stack's database, in one run.

Setup: the local stack's PostgreSQL (``greenwatch stack up`` first; never started or stopped
here) with TimescaleDB preloaded (``make install``); fresh migrated schemas, one per flavor,
dropped at the end. Three figures, each beside its baseline measured in the same run:

- **compression**: a month (30 days) of minute measurements, ``BENCH_TS_DEVICES`` devices × 4
  factors (default 20 devices = 3.5 M rows: a province of ~3 000 outlets scaled down 150× to
  fit a shared 2-core machine; the ratio does not depend on the device count, the time is
  linear in it): table size before and after ``compress_chunk`` of every chunk, and its time.
- **Grafana panels**: every panel of every dashboard (variables resolved as a dashboard opens)
  over 30 days × ``BENCH_TS_OUTLETS`` outlets (default 1 000) of hourly aggregates and verdicts,
  plus minute measurements of ``BENCH_TS_MINUTE_DEVICES`` devices (default 50, the data-quality
  panels' input; scaled down like the above), on plain PostgreSQL and on TimescaleDB, then on
  TimescaleDB again after compressing (the state of data past ``compress_after``). Median of
  ``BENCH_TS_REPEAT`` (3) passes.
- **sink**: ``PgSink.flush`` of ``BENCH_TS_SINK_ROWS`` minute measurements (default 100 000, in
  batches of 10 000) into each flavor, beside a raw binary ``COPY`` of the same rows into a
  table of the same shape without upserts: rows/s.

The machine is shared and figures vary between runs; nothing asserts a time.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from bench.db import migrated_schema
from deploy import timescaledb
from deploy.migrate import Flavor
from deploy.registry_store import store_registry
from grafana.check import resolve_variables, run_panel
from grafana.dashboards import DASHBOARDS
from grafana.macros import QueryContext
from greenwatch.settings import Settings, database_dsn
from schemas.measurement import Measurement, PeriodKind
from schemas.registry import Registry, hash_password, parse_registry
from streams.sink import PgSink, SinkBatch, create_pool

DEVICES = int(os.environ.get("BENCH_TS_DEVICES", "20"))
OUTLETS = int(os.environ.get("BENCH_TS_OUTLETS", "1000"))
MINUTE_DEVICES = int(os.environ.get("BENCH_TS_MINUTE_DEVICES", "50"))
REPEAT = int(os.environ.get("BENCH_TS_REPEAT", "3"))
SINK_ROWS = int(os.environ.get("BENCH_TS_SINK_ROWS", "100000"))
SINK_BATCH = 10_000
MONTH_START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 30
FACTORS = ("a21026", "a21002", "a19001", "a00000")
ENTERPRISES = 10


def run() -> list[str]:
    dsn = database_dsn(Settings())
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            found = timescaledb.probe(conn)
    except psycopg.OperationalError:
        return [f"PostgreSQL not reachable at {dsn}: run `greenwatch stack up` first"]
    if not found.usable:
        return [f"TimescaleDB not usable here: {found.why_unusable()}"]
    lines = [f"TimescaleDB {found.available}"]
    lines += _compression(dsn)
    lines += _panels(dsn)
    lines += _sink(dsn)
    return lines


_MINUTES_SQL = """
INSERT INTO measurements (device_id, outlet_id, factor, period, period_start, factor_as_sent,
                          avg, min, max, flag, received_at)
SELECT 'BENCH' || lpad(d::text, 6, '0'), 'BENCH-O' || lpad(d::text, 6, '0'), f, 'minute', t, f,
       v, v - 1.5, v + 1.5,
       CASE WHEN (extract(hour FROM t)::int + d) %% 97 = 0 THEN 'M' ELSE 'N' END,
       t + interval '1 minute'
  FROM generate_series(0, %(devices)s - 1) AS d,
       unnest(%(factors)s::text[]) AS f,
       generate_series(%(start)s::timestamptz, %(start)s::timestamptz + %(days)s * interval '1 day'
                       - interval '1 minute', interval '1 minute') AS t,
       LATERAL (SELECT round((20 + 10 * sin(extract(epoch FROM t) / 3600.0 + d)
                              + (d * 7 + extract(minute FROM t)::int) %% 5)::numeric, 2)::float8
               ) AS s(v)
"""


def _insert_minutes(conn: psycopg.Connection[Any], devices: int, factors: tuple[str, ...]) -> int:
    conn.execute(
        _MINUTES_SQL,
        {"devices": devices, "factors": list(factors), "start": MONTH_START, "days": DAYS},
    )
    conn.execute("ANALYZE measurements")
    row = conn.execute("SELECT count(*) FROM measurements").fetchone()
    return int(row[0]) if row else 0


def _compress_all(conn: psycopg.Connection[Any]) -> float:
    started = time.perf_counter()
    conn.execute("SELECT count(compress_chunk(c, if_not_compressed => TRUE))"
                 " FROM show_chunks('measurements') AS c")  # fmt: skip
    conn.execute("ANALYZE measurements")
    return time.perf_counter() - started


def _compression(dsn: str) -> list[str]:
    with (
        migrated_schema(dsn, "bench_ts", Flavor.TIMESCALEDB) as scoped,
        psycopg.connect(scoped, autocommit=True) as c,
    ):
        started = time.perf_counter()
        rows = _insert_minutes(c, DEVICES, FACTORS)
        loaded = time.perf_counter() - started
        before = _size(c)
        seconds = _compress_all(c)
        after = _size(c)
        check = c.execute("SELECT count(*) FROM measurements").fetchone()
    assert check == (rows,)
    return [
        f"compression: {rows:,} minute rows ({DEVICES} devices × {len(FACTORS)} factors × "
        f"{DAYS} days; a province ~3 000 outlets is ~150× this) loaded in {loaded:.1f} s",
        f"compression: {before / 2**20:,.1f} MiB → {after / 2**20:,.1f} MiB "
        f"(ratio {before / max(after, 1):.1f}×) in {seconds:.1f} s "
        f"({rows / max(seconds, 1e-9):,.0f} rows/s)",
    ]


def _size(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT hypertable_size('measurements')").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _registry() -> Registry:
    per = max(1, OUTLETS // ENTERPRISES)
    enterprises = [
        {"id": f"BENCH-E{e:02d}", "name": f"bench {e}", "region_code": "520100",
         "industry_code": "4411",
         "outlets": [
             {"id": f"BENCH-O{i:06d}", "name": f"stack {i}", "medium": "gas",
              "standard": "ULE-coal-power",
              "devices": [{"mn": _mn(i), "password_sha256": hash_password(_mn(i), "pw")}]}
             for i in range(e * per, min(OUTLETS, (e + 1) * per))
         ]}
        for e in range(ENTERPRISES)
    ]  # fmt: skip
    return parse_registry(
        {"version": "bench-timescaledb-1", "region": {"code": "520000", "name": "bench"},
         "enterprises": enterprises}
    )  # fmt: skip


def _mn(index: int) -> str:
    return f"BENCH{index:06d}"


_HOURLY_SQL = """
INSERT INTO aggregates (outlet_id, factor, period, period_start, device_id, valid, valid_count,
                        invalid_count, flag_counts, mean, min, max, o2_corrected,
                        emission_rate_kgh, load_kg, registry_version)
SELECT 'BENCH-O' || lpad(o::text, 6, '0'), 'a21026', 'hour', h,
       'BENCH' || lpad(o::text, 6, '0'), (o + extract(hour FROM h)::int) %% 53 <> 0,
       58, 2, '{"M": 2}', v, v - 3, v + 3, v * 1.1, v / 10, v / 10, 'bench-timescaledb-1'
  FROM generate_series(0, %(outlets)s - 1) AS o,
       generate_series(%(start)s::timestamptz, %(start)s::timestamptz + %(days)s * interval '1 day'
                       - interval '1 hour', interval '1 hour') AS h,
       LATERAL (SELECT (20 + 12 * sin(extract(epoch FROM h) / 7200.0 + o))::float8) AS s(v)
"""
_VERDICTS_SQL = """
INSERT INTO verdicts (outlet_id, factor, rule, period_start, enterprise_id, period, value,
                      limit_value, ratio, status, standard, registry_version)
SELECT a.outlet_id, a.factor, 'hourly_concentration', a.period_start,
       'BENCH-E' || lpad(((substr(a.outlet_id, 8)::int) / %(per)s)::text, 2, '0'), 'hour',
       a.o2_corrected, 35, a.o2_corrected / 35,
       CASE WHEN NOT a.valid THEN 'invalid' WHEN a.o2_corrected > 35 THEN 'exceedance'
            WHEN a.o2_corrected >= 28 THEN 'warning' ELSE 'compliant' END,
       'ULE-coal-power', a.registry_version
  FROM aggregates a
"""


def _seed_panels(conn: psycopg.Connection[Any], registry: Registry) -> None:
    store_registry(conn, registry)
    per = max(1, OUTLETS // ENTERPRISES)
    conn.execute(_HOURLY_SQL, {"outlets": OUTLETS, "start": MONTH_START, "days": DAYS})
    conn.execute(_VERDICTS_SQL, {"per": per})
    _insert_minutes(conn, MINUTE_DEVICES, ("a21026",))
    conn.execute("ANALYZE")


PanelTimes = dict[tuple[str, str], float | None]
"""Median seconds per (dashboard uid, panel title); None: hit grafana.check's statement
timeout (the panel would not render)."""


def _panel_times(conn: psycopg.Connection[Any], context: QueryContext) -> PanelTimes:
    """Every dashboard opened as Grafana does (variables, then each panel), ``REPEAT`` times."""
    samples: dict[tuple[str, str], list[float]] = {}
    timed_out: set[tuple[str, str]] = set()
    for _ in range(REPEAT):
        for dashboard in DASHBOARDS:
            variables = resolve_variables(conn, dashboard, context)
            for panel in dashboard.panels:
                key = (dashboard.uid, panel.title)
                if key in timed_out:
                    continue
                started = time.perf_counter()
                try:
                    run_panel(conn, panel, replace(context, variables=variables))
                except psycopg.errors.QueryCanceled:
                    timed_out.add(key)
                    continue
                samples.setdefault(key, []).append(time.perf_counter() - started)
    times: PanelTimes = {key: statistics.median(values) for key, values in samples.items()}
    times.update(dict.fromkeys(timed_out))
    return times


def _panels(dsn: str) -> list[str]:
    registry = _registry()
    end = MONTH_START + timedelta(days=DAYS)
    context = QueryContext(start=MONTH_START, end=end, interval=timedelta(hours=1))
    results: dict[str, PanelTimes] = {}
    with contextlib.ExitStack() as stack:
        for flavor in Flavor:
            scoped = stack.enter_context(migrated_schema(dsn, f"bench_ts_{flavor}", flavor))
            conn = stack.enter_context(psycopg.connect(scoped, autocommit=True))
            _seed_panels(conn, registry)
            flavored = replace(context, timescaledb=flavor is Flavor.TIMESCALEDB)
            results[str(flavor)] = _panel_times(conn, flavored)
            if flavor is Flavor.TIMESCALEDB:
                _compress_all(conn)
                results["timescaledb compressed"] = _panel_times(conn, flavored)
    lines = [
        f"grafana panels: {OUTLETS} outlets × {DAYS} days hourly ({OUTLETS * DAYS * 24:,} "
        f"aggregates + verdicts), minutes of {MINUTE_DEVICES} devices; median of {REPEAT}"
    ]
    for uid in dict.fromkeys(uid for uid, _ in results["plain"]):
        figures = ", ".join(f"{name} {_total(times, uid)}" for name, times in results.items())
        lines.append(f"grafana {uid}: {figures}")
    slow = sorted(
        {key for times in results.values() for key, t in times.items() if t is None or t > 1}
    )
    for uid, title in slow:
        figures = ", ".join(
            f"{name} {_figure(times.get((uid, title)))}" for name, times in results.items()
        )
        lines.append(f"grafana slowest: {uid} / {title}: {figures}")
    return lines


def _figure(seconds: float | None) -> str:
    return "TIMEOUT (30 s)" if seconds is None else f"{seconds * 1000:,.0f} ms"


def _total(times: PanelTimes, uid: str) -> str:
    mine = [t for (u, _), t in times.items() if u == uid]
    failed = sum(t is None for t in mine)
    text = f"{sum(t for t in mine if t is not None) * 1000:,.0f} ms"
    return text + (f" + {failed} timed out" if failed else "")


def _sink_rows() -> list[Measurement]:
    devices = max(1, SINK_ROWS // (60 * len(FACTORS)))
    rows = [
        Measurement(
            device_id=_mn(d), outlet_id=f"BENCH-O{d:06d}", factor=f, factor_as_sent=f,
            period=PeriodKind.MINUTE, period_start=MONTH_START + timedelta(minutes=m),
            avg=20.0 + (d + m) % 7, flag="N",
            received_at=MONTH_START + timedelta(minutes=m + 1),
        )
        for m in range(60) for d in range(devices) for f in FACTORS
    ]  # fmt: skip
    return rows[:SINK_ROWS]


def _raw_copy(conn: psycopg.Connection[Any], rows: list[Measurement]) -> float:
    conn.execute("CREATE TABLE raw_copy (LIKE measurements INCLUDING DEFAULTS)")
    conn.execute("ALTER TABLE raw_copy ADD PRIMARY KEY (device_id, factor, period, period_start)")
    columns = ("device_id", "outlet_id", "factor", "factor_as_sent", "period", "period_start",
               "avg", "flag", "received_at")  # fmt: skip
    started = time.perf_counter()
    for first in range(0, len(rows), SINK_BATCH):
        with conn.transaction(), conn.cursor() as cur:
            statement = sql.SQL("COPY raw_copy ({}) FROM STDIN").format(
                sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with cur.copy(statement) as copy:
                for m in rows[first : first + SINK_BATCH]:
                    copy.write_row((m.device_id, m.outlet_id, m.factor, m.factor_as_sent,
                                    m.period.value, m.period_start, m.avg, m.flag,
                                    m.received_at))  # fmt: skip
    return time.perf_counter() - started


def _sink(dsn: str) -> list[str]:
    rows = _sink_rows()
    lines = []
    for flavor in Flavor:
        with migrated_schema(dsn, f"bench_ts_{flavor}", flavor) as scoped:
            pool = create_pool(scoped, max_size=1)
            try:
                sink = PgSink(pool)
                started = time.perf_counter()
                for first in range(0, len(rows), SINK_BATCH):
                    sink.flush(SinkBatch(rows[first : first + SINK_BATCH]))
                flushed = time.perf_counter() - started
            finally:
                pool.close()
            with psycopg.connect(scoped, autocommit=True) as conn:
                copied = _raw_copy(conn, rows)
        lines.append(
            f"sink {flavor}: {len(rows) / flushed:,.0f} rows/s (PgSink.flush, batches of "
            f"{SINK_BATCH:,}) beside raw COPY {len(rows) / copied:,.0f} rows/s "
            f"({flushed / copied:.1f}× the COPY time)"
        )
    return lines
