"""``GET /v1/verdicts/{id}/reproduce`` and ``greenwatch audit reproduce ID``: read what a
verdict was judged on (its row, the registry version it recorded, the stored measurements of
its outlet's devices over its window) and re-derive it (``audit.rederive``).

Runs on the caller's connection: in the API, inside the principal's scoped transaction (the
measurements through ``measurements_scoped``, the registry only for regulators and auditors).
Blocks; raises NotFound (no such verdict in scope, registry version gone), BadQuery (not an
id, a rule that cannot be reproduced) and psycopg's errors.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row, kwargs_row

from audit.errors import NotFound
from audit.rederive import Reproduction, compare, rederive, window_of
from audit.verdict_id import parse_verdict_id, verdict_id
from schemas.registry import Registry, RegistryError, parse_registry
from streams.store import measurement_from_row

_MEASUREMENTS = """
SELECT device_id, outlet_id, factor, factor_as_sent, period, period_start, rtd, avg, min, max,
       cou, zs_rtd, zs_avg, flag, received_at, qn
  FROM measurements_scoped
 WHERE device_id = ANY(%s) AND period IN ('rtd', 'minute')
   AND period_start >= %s AND period_start < %s
 ORDER BY period_start, device_id, factor, period
"""


def stored_registry(conn: psycopg.Connection[Any], version: str) -> Registry:
    """The registry document stored under ``version``; NotFound when it is not there."""
    row = conn.execute(
        "SELECT document FROM registry_versions WHERE version = %s", (version,)
    ).fetchone()
    if row is None:
        raise NotFound(f"registry version {version!r} is not stored")
    document = dict(row[0])
    document.pop("standards_version", None)
    try:
        return parse_registry(document, f"database:{version}")
    except RegistryError as exc:
        raise NotFound(f"registry version {version!r} no longer parses: {exc}") from exc


def verdict_row(conn: psycopg.Connection[Any], text: str) -> dict[str, Any]:
    outlet, factor, rule, start = parse_verdict_id(text)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM verdicts WHERE outlet_id = %s AND factor = %s AND rule = %s"
            " AND period_start = %s",
            (outlet, factor, rule, start),
        ).fetchone()
    if row is None:
        raise NotFound(f"no verdict {text} (within this token's scope)")
    return row


def reproduce(conn: psycopg.Connection[Any], text: str) -> Reproduction:
    """Re-derive the verdict ``text`` (a verdict id) and compare it with the stored one."""
    row = verdict_row(conn, text)
    start, end = window_of(row["rule"], row["period_start"])
    registry = stored_registry(conn, row["registry_version"])
    site = registry.outlet(row["outlet_id"])
    if site is None:
        raise NotFound(f"outlet {row['outlet_id']} is not in registry {registry.version}")
    devices = [device.mn for device in site[1].devices]
    with conn.cursor(row_factory=kwargs_row(measurement_from_row)) as cur:
        measurements = cur.execute(_MEASUREMENTS, (devices, start, end)).fetchall()
    key = (row["outlet_id"], row["factor"], row["rule"], row["period_start"])
    reproduced = rederive(registry, measurements, key)
    diff = compare(row, reproduced)
    return Reproduction(
        verdict_id(*key),
        not diff,
        diff,
        registry.version,
        len(measurements),
        (start, end),
    )
