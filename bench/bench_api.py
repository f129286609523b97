"""Audit API: p50/p99 latency of reading a day of a province's hourly values at 1, 10 and 50
concurrent clients, and export throughput (MB/s) as CSV and as Parquet, each beside a baseline
measured in the same run.

Setup: the local stack's PostgreSQL (``greenwatch stack up`` first; never started or stopped
here), a fresh migrated schema (dropped at the end) holding ``OUTLETS`` synthetic outlets of
one province (region 52) with ``FACTORS`` factors, one day of hourly values each (OUTLETS ×
FACTORS × 24 rows), and a regulator token for region 52. The API is the real command
(``greenwatch api serve``, one process).

1. Latency: each client walks the whole day page by page (``limit=1000``, keyset cursor);
   figure = p50 and p99 of one page request, over every request of the run. Baseline: the same
   keyset page queries straight through psycopg as the owner (no HTTP, no token, no row-level
   security), one client.
2. Export: ``/v1/exports/values/hourly`` of the same day as CSV and as Parquet; figure = MB of
   file per second of wall time (the request, spooling, sending). Baseline: ``COPY (the same
   rows) TO STDOUT (FORMAT csv)`` through psycopg.

The client runs on the same machine as the server and the database and takes CPU from them;
figures vary between runs; nothing asserts a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.bench_pipeline import _free_port
from bench.db import migrated_schema, service_db_env, unreachable
from deploy.processes import http_answers, wait_until
from runtime.settings import Settings, database_dsn

OUTLETS = int(os.environ.get("BENCH_API_OUTLETS", "300"))
FACTORS = ("a21026", "a21002", "a34013")
CONCURRENCY = (1, 10, 50)
CHINA = timezone(timedelta(hours=8))
DAY = datetime(2026, 7, 4, tzinfo=CHINA)
RANGE = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()}
GREENWATCH = str(Path(sys.executable).parent / "greenwatch")


def run() -> list[str]:
    dsn = database_dsn(Settings())
    down = unreachable(dsn)
    if down:
        return down
    with migrated_schema(dsn, "bench_api") as scoped:
        rows = _seed(scoped)
        token = _token(scoped)
        lines = [f"{OUTLETS} outlets × {len(FACTORS)} factors × 24 h = {rows} hourly values"]
        lines += _baseline_pages(scoped)
        with _server(scoped) as url:
            for clients in CONCURRENCY:
                lines.append(_latency(url, token, clients))
            lines += _exports(url, token, scoped)
    return lines


def _seed(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO registry_versions (version, document) VALUES ('bench', '{}')")
        with conn.cursor() as cur:
            with cur.copy("COPY enterprises (enterprise_id, name, region_code, industry_code,"
                          " registry_version) FROM STDIN") as copy:  # fmt: skip
                for e in range(OUTLETS // 3 + 1):
                    copy.write_row((f"E{e}", f"bench {e}", f"52{e % 9 + 1:02d}00", "4411", "bench"))
            with cur.copy("COPY outlets (outlet_id, enterprise_id, name, medium, standard_id,"
                          " registry_version) FROM STDIN") as copy:  # fmt: skip
                for o in range(OUTLETS):
                    copy.write_row((f"O{o}", f"E{o // 3}", f"outlet {o}", "gas", "ULE", "bench"))
            with cur.copy("COPY aggregates (outlet_id, factor, period, period_start, device_id,"
                          " valid, valid_count, invalid_count, mean, registry_version)"
                          " FROM STDIN") as copy:  # fmt: skip
                for o in range(OUTLETS):
                    for factor in FACTORS:
                        for hour in range(24):
                            start = DAY + timedelta(hours=hour)
                            copy.write_row((f"O{o}", factor, "hour", start, f"D{o}", True, 55, 5,
                                            12.5 + hour, "bench"))  # fmt: skip
        conn.execute("ANALYZE")  # as autovacuum would have by the time anyone reads a day
    return OUTLETS * len(FACTORS) * 24


def _token(dsn: str) -> str:
    from audit.principal import Principal, Role
    from audit.tokens import create_token

    with psycopg.connect(dsn, autocommit=True) as conn:
        expires = datetime.now(UTC) + timedelta(hours=2)
        return create_token(
            conn, Principal(Role.REGULATOR, regions=("52",)), expires, "bench"
        ).token


class _server:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if k != "GREENWATCH_DATABASE_URL"}
        env |= service_db_env(Settings(), self._dsn)  # the API's own role, gw_api
        self._process = subprocess.Popen(
            [GREENWATCH, "api", "serve", "--port", str(port), "--pool-size", "20"],
            env=env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url, process = f"http://127.0.0.1:{port}", self._process
        health = url + "/health"
        settled = wait_until(lambda: process.poll() is not None or http_answers(health), 60, 0.2)
        if settled and process.poll() is None:
            return url
        raise RuntimeError("greenwatch api serve did not start")

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"


def _baseline_pages(dsn: str) -> list[str]:
    query = (
        "SELECT * FROM aggregates WHERE period = 'hour' AND period_start >= %s"
        " AND period_start < %s AND (period_start, outlet_id, factor) > (%s, %s, %s)"
        " ORDER BY period_start, outlet_id, factor LIMIT 1001"
    )
    samples: list[float] = []
    with psycopg.connect(dsn) as conn:
        after: tuple[Any, ...] = (DAY - timedelta(seconds=1), "", "")
        while True:
            began = time.perf_counter()
            rows = conn.execute(query, (DAY, DAY + timedelta(days=1), *after)).fetchall()
            samples.append(time.perf_counter() - began)
            if len(rows) <= 1000:
                break
            after = (rows[999][3], rows[999][0], rows[999][1])
    return [f"baseline, psycopg keyset pages as owner (1 client): {_percentiles(samples)}"]


async def _walk(client: httpx.AsyncClient, samples: list[float]) -> None:
    cursor = None
    while True:
        params = {**RANGE, "limit": "1000", **({"cursor": cursor} if cursor else {})}
        began = time.perf_counter()
        response = await client.get("/v1/values/hourly", params=params)
        samples.append(time.perf_counter() - began)
        response.raise_for_status()
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return


def _latency(url: str, token: str, clients: int) -> str:
    samples: list[float] = []

    async def main() -> None:
        limits = httpx.Limits(max_connections=clients)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=url, headers=headers, timeout=120, limits=limits
        ) as client:
            await asyncio.gather(*(_walk(client, samples) for _ in range(clients)))

    began = time.perf_counter()
    asyncio.run(main())
    wall = time.perf_counter() - began
    return (
        f"API, {clients:>2} client(s) each reading the day: {_percentiles(samples)} per page "
        f"({len(samples)} requests in {wall:.1f} s)"
    )


def _exports(url: str, token: str, dsn: str) -> list[str]:
    lines = []
    headers = {"Authorization": f"Bearer {token}"}
    for fmt in ("csv", "parquet"):
        began = time.perf_counter()
        response = httpx.get(
            url + "/v1/exports/values/hourly", params={**RANGE, "format": fmt},
            headers=headers, timeout=600,
        )  # fmt: skip
        wall = time.perf_counter() - began
        response.raise_for_status()
        size = len(response.content) / 1e6
        count = int(json.loads(response.headers["greenwatch-manifest"])["rows"])
        lines.append(
            f"export {fmt:<7}: {size:.2f} MB in {wall:.2f} s = {size / wall:.2f} MB/s"
            f" ({count / wall:,.0f} rows/s)"
        )
    began = time.perf_counter()
    copied = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        copy_sql = (
            "COPY (SELECT * FROM aggregates WHERE period = 'hour' AND period_start >= '{}'"
            " AND period_start < '{}' ORDER BY period_start, outlet_id, factor)"
            " TO STDOUT (FORMAT csv, HEADER)"
        ).format(RANGE["from"], RANGE["to"])
        with cur.copy(copy_sql) as copy:
            for chunk in copy:
                copied += len(chunk)
    wall = time.perf_counter() - began
    rows = OUTLETS * len(FACTORS) * 24
    lines.append(
        f"baseline, COPY TO STDOUT csv as owner: {copied / 1e6:.2f} MB in {wall:.2f} s"
        f" = {copied / 1e6 / wall:.2f} MB/s ({rows / wall:,.0f} rows/s)"
    )
    return lines
