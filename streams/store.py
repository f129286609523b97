"""Hydration reads: what the database already holds for the engine's windows (psycopg 3).

The worker keeps window state in memory only; when the engine meets a device-hour (or an
outlet-year) it holds no state for (a restart, a rebalance, late data for a closed hour) it
asks for it, and these queries answer from the committed rows, so the state a worker rebuilds
is exactly what a worker that never stopped would hold. One query per batch, whatever the
number of keys (keys are passed as arrays and joined with ``unnest``).

Every method blocks; errors are psycopg's (the caller retries ``OperationalError`` like the
sink does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from psycopg.rows import dict_row, kwargs_row
from psycopg_pool import ConnectionPool

from ingest.hj212 import CHINA_TZ
from schemas.measurement import AggregateValue, Measurement, PeriodKind
from streams.domain.annual_substitution import SubstitutedLoad
from streams.domain.load_substitution import LOOK_BACK, StoredRates, quarter_start
from streams.domain.periods import HOUR, china_time
from streams.domain.store import (
    RECENT_REACH,
    WATERMARK_REACH,
    DeviceHour,
    OutletYear,
    RateKey,
    StoredHours,
    StoredYear,
    widen_span,
)

_WINDOWS = """
SELECT m.device_id, m.outlet_id, m.factor, m.factor_as_sent, m.period, m.period_start,
       m.rtd, m.avg, m.min, m.max, m.cou, m.zs_rtd, m.zs_avg, m.flag, m.received_at, m.qn
  FROM unnest(%(devices)b::text[], %(starts)b::timestamptz[], %(ends)b::timestamptz[])
       AS k(device_id, window_start, window_end)
  JOIN measurements m
    ON m.device_id = k.device_id
   AND m.period_start >= k.window_start AND m.period_start < k.window_end
 WHERE m.period IN ('rtd', 'minute')
 ORDER BY m.device_id, m.period_start, m.factor, m.period
"""

_YEAR_KEYS = """unnest(%(outlets)b::text[], %(factors)b::text[], %(years)b::int[],
              %(starts)b::timestamptz[], %(ends)b::timestamptz[])
       AS k(outlet_id, factor, year, year_start, year_end)"""

_DAILY_YEARS = f"""
SELECT k.outlet_id, k.factor, k.year, a.period_start, a.load_kg, NULL::jsonb AS evidence
  FROM {_YEAR_KEYS}
  JOIN aggregates a
    ON a.outlet_id = k.outlet_id AND a.factor = k.factor AND a.period = 'day'
   AND a.period_start >= k.year_start AND a.period_start < k.year_end
 WHERE a.load_kg IS NOT NULL
UNION ALL
SELECT k.outlet_id, k.factor, k.year, v.period_start, NULL::double precision, v.evidence
  FROM {_YEAR_KEYS}
  JOIN verdicts v
    ON v.outlet_id = k.outlet_id AND v.factor = k.factor AND v.rule = 'daily_load'
   AND v.period_start >= k.year_start AND v.period_start < k.year_end
 WHERE v.evidence ? 'substituted_hours'
"""
"""The stored daily loads (rows with ``load_kg``) and daily load verdicts' substitutions
(rows with ``evidence``) of outlet-factor-years: one statement, one round trip."""


_WATERMARKS = """
SELECT k.device_id,
       max(m.period_start
           + CASE WHEN m.period = 'minute' THEN interval '1 minute' ELSE interval '0' END)
  FROM unnest(%(devices)b::text[], %(starts)b::timestamptz[], %(ends)b::timestamptz[])
       AS k(device_id, window_start, window_end)
  JOIN measurements m
    ON m.device_id = k.device_id
   AND m.period_start >= k.window_start AND m.period_start < k.window_end
 WHERE m.period IN ('rtd', 'minute') AND m.period_start <= m.received_at + %(skew)s
 GROUP BY k.device_id
"""

_HOURLY = """
SELECT a.outlet_id, a.device_id, a.factor, a.period, a.period_start, a.valid, a.valid_count,
       a.invalid_count, a.flag_counts, a.mean, a.min, a.max, a.o2_measured, a.o2_reference,
       a.o2_corrected, a.device_o2_corrected, a.o2_disagrees, a.flow_std_m3h,
       a.emission_rate_kgh, a.load_kg, a.registry_version
  FROM unnest(%(outlets)b::text[], %(devices)b::text[], %(starts)b::timestamptz[],
              %(ends)b::timestamptz[])
       AS k(outlet_id, device_id, window_start, window_end)
  JOIN aggregates a
    ON a.outlet_id = k.outlet_id AND a.device_id = k.device_id AND a.period = 'hour'
   AND a.period_start >= k.window_start AND a.period_start < k.window_end
"""


_STORED_DEVICES = """
SELECT k.device_id
  FROM unnest(%(outlets)b::text[], %(devices)b::text[], %(starts)b::timestamptz[],
              %(ends)b::timestamptz[])
       AS k(outlet_id, device_id, window_start, window_end)
 WHERE EXISTS (SELECT FROM measurements m
                WHERE m.device_id = k.device_id AND m.period IN ('rtd', 'minute')
                  AND m.period_start >= k.window_start AND m.period_start < k.window_end)
    OR EXISTS (SELECT FROM aggregates a
                WHERE a.outlet_id = k.outlet_id AND a.device_id = k.device_id
                  AND a.period = 'hour'
                  AND a.period_start >= k.window_start AND a.period_start < k.window_end)
"""
_RECENT = """
SELECT m.device_id, m.outlet_id, m.factor, m.factor_as_sent, m.period, m.period_start,
       m.rtd, m.avg, m.min, m.max, m.cou, m.zs_rtd, m.zs_avg, m.flag, m.received_at, m.qn
  FROM (SELECT k.device_id,
               (SELECT max(l.period_start) FROM measurements l
                 WHERE l.device_id = k.device_id AND l.period IN ('rtd', 'minute')
                   AND l.period_start >= k.anchor - %(reach)s
                   AND l.period_start < k.anchor + %(reach)s
                   AND l.period_start <= l.received_at + %(skew)s) AS latest
          FROM unnest(%(devices)b::text[], %(anchors)b::timestamptz[]) AS k(device_id, anchor))
       AS d
  JOIN measurements m
    ON m.device_id = d.device_id AND m.period IN ('rtd', 'minute')
   AND m.period_start > d.latest - %(span)s AND m.period_start <= d.latest
 ORDER BY m.device_id, m.period_start, m.factor, m.period
"""


_RATE_FILTER = """a.device_id = k.device_id AND a.outlet_id = k.outlet_id AND a.factor = k.factor
   AND a.period = 'hour' AND a.valid AND a.emission_rate_kgh IS NOT NULL
   AND a.period_start < k.before"""
_RATE_KEYS = """unnest(%(devices)b::text[], %(outlets)b::text[], %(factors)b::text[],
              %(befores)b::timestamptz[], %(quarters)b::timestamptz[])
       WITH ORDINALITY AS k(device_id, outlet_id, factor, before, quarter, i)"""
_RATE_STEPS = f"""
SELECT k.i, s.back, s.rate
  FROM {_RATE_KEYS}
  CROSS JOIN LATERAL (
    SELECT back, rate FROM (
      SELECT row_number() OVER w - 1 AS back, t.emission_rate_kgh AS rate,
             max(t.emission_rate_kgh) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
               AS later
        FROM (SELECT a.period_start, a.emission_rate_kgh FROM aggregates a
               WHERE {_RATE_FILTER} ORDER BY a.period_start DESC LIMIT %(look_back)s) AS t
      WINDOW w AS (ORDER BY t.period_start DESC)
    ) AS r
    WHERE later IS NULL OR rate > later
  ) AS s
"""
_RATE_COUNTS = f"""
SELECT k.i,
       (SELECT count(*) FROM (SELECT 1 FROM aggregates a WHERE {_RATE_FILTER}
                                ORDER BY a.period_start DESC LIMIT %(look_back)s) AS t),
       (SELECT max(a.period_start) FROM aggregates a WHERE {_RATE_FILTER}),
       (SELECT count(*) FROM aggregates a WHERE {_RATE_FILTER} AND a.period_start >= k.quarter),
       (SELECT min(a.period_start) FROM aggregates a
         WHERE {_RATE_FILTER} AND a.period_start >= k.quarter)
  FROM {_RATE_KEYS}
"""


def measurement_from_row(**row: Any) -> Measurement:
    """A stored measurement (the column ``period`` is text: the enum member it names)."""
    row["period"] = PeriodKind(row["period"])
    return Measurement(**row)


class PgStore:
    """``streams.domain.store.Store`` over the sink's tables and pool (``Engine.prepare``)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def device_hours(self, keys: Iterable[DeviceHour]) -> dict[DeviceHour, list[Measurement]]:
        """Stored real-time and minute measurements of each device-hour, in time order.

        Every requested key is in the result (an empty list when nothing is stored). The
        engine asks for whole days at a time: hours are read as one range per device-day.
        """
        found: dict[DeviceHour, list[Measurement]] = {
            (device, _china(hour)): [] for device, hour in keys
        }
        if not found:
            return found
        windows = _windows(found)
        params = {
            "devices": [w[0] for w in windows],
            "starts": [w[1] for w in windows],
            "ends": [w[2] for w in windows],
        }
        with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=kwargs_row(measurement_from_row)) as cur,
        ):
            for m in cur.execute(_WINDOWS, params):
                hour = _china(m.period_start).replace(minute=0, second=0, microsecond=0)
                bucket = found.get((m.device_id, hour))
                if bucket is not None:
                    bucket.append(m)
        return found

    def closed_hours(
        self, keys: Iterable[DeviceHour], outlets: Mapping[str, str], skew: timedelta
    ) -> StoredHours:
        """Stored hourly aggregates of each device-hour and each device's stored watermark
        (``Engine.hydrate_watermark``: the latest rtd/minute event time, leaving out data
        more than ``skew`` ahead of their reception) over its requested hours and
        ``WATERMARK_REACH`` beyond. ``outlets``: device MN → outlet id. Two queries, each
        one range per device; devices without an outlet are left out."""
        wanted = {(d, _china(h)) for d, h in keys if d in outlets}
        found = StoredHours({d: None for d, _ in wanted}, {k: [] for k in wanted})
        if not wanted:
            return found
        spans = _device_spans(wanted)
        devices = sorted(spans)
        params: dict[str, Any] = {
            "outlets": [outlets[d] for d in devices],
            "devices": devices,
            "starts": [spans[d][0] for d in devices],
            "ends": [spans[d][1] + HOUR for d in devices],
        }
        with self._pool.connection() as conn:
            marks = dict(params, ends=[spans[d][1] + HOUR + WATERMARK_REACH for d in devices])
            for device, watermark in conn.execute(_WATERMARKS, dict(marks, skew=skew)):
                found.watermarks[device] = watermark
            with conn.cursor(row_factory=dict_row) as cur:
                for row in cur.execute(_HOURLY, params):
                    hour = _china(row["period_start"])
                    bucket = found.hourly.get((row["device_id"], hour))
                    if bucket is not None:
                        bucket.append(AggregateValue.model_validate(row | {"period_start": hour}))
        return found

    def stored_devices(
        self, spans: Mapping[str, tuple[datetime, datetime]], outlets: Mapping[str, str]
    ) -> set[str]:
        """Devices of ``spans`` with a stored rtd/minute measurement or hourly aggregate in
        their span (``Store.stored_devices``): one query, one ``EXISTS`` pair per device;
        a device without an outlet is returned as having data (it is then read as before)."""
        devices = sorted(d for d in spans if d in outlets)
        found = {d for d in spans if d not in outlets}
        if not devices:
            return found
        params: dict[str, Any] = {
            "outlets": [outlets[d] for d in devices],
            "devices": devices,
            "starts": [spans[d][0] for d in devices],
            "ends": [spans[d][1] for d in devices],
        }
        with self._pool.connection() as conn:
            found.update(device for (device,) in conn.execute(_STORED_DEVICES, params))
        return found

    def daily_years(self, keys: Iterable[OutletYear]) -> dict[OutletYear, StoredYear]:
        """Stored daily loads (China day → kg) and the substitutions of the stored daily load
        verdicts of each outlet, factor and China year (``Store.daily_years``), one query.

        Every requested key is in the result (empty mappings when nothing is stored).
        """
        wanted = sorted(set(keys))
        found: dict[OutletYear, StoredYear] = {k: StoredYear() for k in wanted}
        if not wanted:
            return found
        with self._pool.connection() as conn:
            for outlet_id, factor, year, start, load, evidence in conn.execute(
                _DAILY_YEARS, _year_params(wanted)
            ):
                stored, day = found[(outlet_id, factor, int(year))], _china(start).date()
                if evidence is None:
                    stored.loads[day] = float(load)
                elif (substituted := SubstitutedLoad.from_evidence(evidence)) is not None:
                    stored.substituted[day] = substituted
        return found

    def rate_histories(self, keys: Iterable[RateKey]) -> dict[RateKey, StoredRates]:
        """The valid hourly rates before each day (``Store.rate_histories``): two queries,
        the staircase computed by the database (a window maximum), not 2160 rows a key."""
        wanted = sorted({(d, o, f, _china(b)) for d, o, f, b in keys})
        found: dict[RateKey, StoredRates] = {k: StoredRates() for k in wanted}
        if not wanted:
            return found
        params: dict[str, Any] = {
            "devices": [k[0] for k in wanted],
            "outlets": [k[1] for k in wanted],
            "factors": [k[2] for k in wanted],
            "befores": [k[3] for k in wanted],
            "quarters": [quarter_start(k[3]) for k in wanted],
            "look_back": LOOK_BACK,
        }
        steps: dict[int, list[tuple[int, float]]] = {}
        with self._pool.connection() as conn:
            for i, back, rate in conn.execute(_RATE_STEPS, params):
                steps.setdefault(int(i), []).append((int(back), float(rate)))
            for i, count, last, quarter, first in conn.execute(_RATE_COUNTS, params):
                key = wanted[int(i) - 1]
                found[key] = StoredRates(
                    tuple(sorted(steps.get(int(i), []))),
                    int(count),
                    _china(last) if last is not None else None,
                    int(quarter),
                    _china(first) if first is not None else None,
                )
        return found

    def recent(
        self, anchors: Mapping[str, datetime], span: timedelta, skew: timedelta
    ) -> dict[str, list[Measurement]]:
        """Each device's latest stored rtd/minute measurements (``Store.recent``): one query."""
        found: dict[str, list[Measurement]] = {device: [] for device in anchors}
        if not found:
            return found
        devices = sorted(anchors)
        params: dict[str, Any] = {
            "devices": devices,
            "anchors": [anchors[d] for d in devices],
            "reach": RECENT_REACH,
            "span": span,
            "skew": skew,
        }
        with (
            self._pool.connection() as conn,
            conn.cursor(row_factory=kwargs_row(measurement_from_row)) as cur,
        ):
            for m in cur.execute(_RECENT, params):
                found[m.device_id].append(
                    m.model_copy(update={"period_start": _china(m.period_start)})
                )
        return found


_china = china_time
"""A stored or requested time in China time (as it is, the usual case, when it already is)."""


def _windows(keys: Iterable[DeviceHour]) -> list[tuple[str, datetime, datetime]]:
    """One [first hour, last hour + 1 h) range per device and China day of ``keys`` (China
    time hour starts); a device's hours within one China day, the usual request (a new
    device's day), are one range without a per-hour step."""
    windows: list[tuple[str, datetime, datetime]] = []
    for device, hours in _hours_by_device(keys).items():
        first, last = min(hours), max(hours)
        if first.date() == last.date():
            windows.append((device, first, last + HOUR))
            continue
        spans: dict[date, tuple[datetime, datetime]] = {}
        for hour in hours:
            widen_span(spans, hour.date(), hour)
        windows.extend((device, start, end + HOUR) for start, end in spans.values())
    return sorted(windows)


def _device_spans(keys: Iterable[DeviceHour]) -> dict[str, tuple[datetime, datetime]]:
    """(first hour, last hour) of each device in ``keys``."""
    return {device: (min(hours), max(hours)) for device, hours in _hours_by_device(keys).items()}


def _hours_by_device(keys: Iterable[DeviceHour]) -> dict[str, list[datetime]]:
    """The hours of each device in ``keys`` (one list per device, no call per key)."""
    grouped: dict[str, list[datetime]] = {}
    for device, hour in keys:
        hours = grouped.get(device)
        if hours is None:
            grouped[device] = [hour]
        else:
            hours.append(hour)
    return grouped


def _year_params(wanted: list[OutletYear]) -> dict[str, Any]:
    """The query parameters of (outlet, factor, China year) keys with their years' bounds."""
    return {
        "outlets": [k[0] for k in wanted],
        "factors": [k[1] for k in wanted],
        "years": [k[2] for k in wanted],
        "starts": [_year_start(k[2]) for k in wanted],
        "ends": [_year_start(k[2] + 1) for k in wanted],
    }


def _year_start(year: int) -> datetime:
    return datetime.combine(date(year, 1, 1), datetime.min.time(), CHINA_TZ)
