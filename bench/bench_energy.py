"""Energy path: readings/s accepted by the HTTP API (Kafka acknowledged), and readings/s through
the energy worker to committed rows beside a raw COPY of the same rows, in the same run.

Setup: the local stack's Kafka and PostgreSQL (``greenwatch stack up`` first; never started or
stopped here), topics under a fresh prefix and fresh migrated schemas, dropped at the end; a
synthetic registry of ``ENTERPRISES`` aluminium smelters with ``METERS`` electricity registers
each (15-minute readings, ``DAYS`` days).

1. API: ``greenwatch gateway energy`` (the real command), one process, then two processes on
   two ports; ``CLIENTS`` concurrent httpx clients post batches of ``BATCH`` readings; figure
   = readings answered 202 (every one acknowledged by Kafka before the reply) per second of
   wall time. The client runs on the same machine and takes CPU from the servers.
2. Stream: the API run leaves every reading on the raw topic; ``greenwatch energy-worker``
   (the real command) drains it into a fresh schema; figure = readings stored per second
   from the first committed row to the last (polling count(*)), consumption, intensities
   and verdicts included. Baseline in the same run: a binary COPY of the same reading rows
   into ``energy_readings`` of another fresh schema (one COPY + COMMIT per 2 000 rows).

The machine is shared: figures vary between runs; nothing asserts a time. Targets (issue 9):
≥ 5 000 readings/s accepted per API process, energy stream ≥ 20 000 readings/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

from bench.bench_pipeline import _delete_topics, _free_port, _schemas
from bench.db import unreachable
from bench.kafka import bench_kafka, service_env
from deploy.processes import http_answers, wait_until
from runtime.kafka_access import Principal
from runtime.settings import Settings, database_dsn

ENTERPRISES = int(os.environ.get("BENCH_ENERGY_ENTERPRISES", "40"))
METERS = int(os.environ.get("BENCH_ENERGY_METERS", "5"))
DAYS = int(os.environ.get("BENCH_ENERGY_DAYS", "2"))
CLIENTS = int(os.environ.get("BENCH_ENERGY_CLIENTS", "8"))
BATCH = 480
SECRET = "bench-secret"
CHINA = timezone(timedelta(hours=8))
DAY0 = datetime(2026, 3, 1, tzinfo=CHINA)
TARGETS = "targets: ≥ 5 000 readings/s accepted per API process; energy stream ≥ 20 000/s"


def run() -> list[str]:
    settings = Settings()
    dsn = database_dsn(settings)
    if missing := unreachable(dsn):
        return missing
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    kafka = bench_kafka(settings, prefix)
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp, _schemas(dsn) as schema:
        registry = Path(tmp) / "registry.yaml"
        registry.write_text(yaml.safe_dump(_registry(), allow_unicode=True), "utf-8")
        try:
            return _measure(settings, prefix, registry, schema, Path(tmp))
        finally:
            _delete_topics(kafka, prefix)


def _measure(
    settings: Settings, prefix: str, registry: Path, schema: Callable[[], str], tmp: Path
) -> list[str]:
    bodies = _bodies()
    total = sum(len(b.get("readings", [])) for _, b in bodies)
    half = len(bodies) // 2
    one = _api_rate(settings, prefix, registry, tmp, bodies[:half], processes=1)
    two = _api_rate(settings, prefix, registry, tmp, bodies[half:], processes=2)
    worker_dsn = schema()
    stream_rate, seconds = _stream_rate(settings, prefix, registry, worker_dsn, total, tmp)
    copy_rate = _copy_rate(schema(), bodies)
    return [
        f"fleet: {ENTERPRISES} enterprises × {METERS} registers × {DAYS} days of 15-min "
        f"readings = {total} readings, posted in batches of {BATCH} by {CLIENTS} clients",
        f"API, 1 process: {one:,.0f} readings/s accepted and acknowledged by Kafka",
        f"API, 2 processes: {two:,.0f} readings/s ({two / 2:,.0f} per process)",
        f"energy stream: {stream_rate:,.0f} readings/s to committed rows ({total} readings in "
        f"{seconds:.1f} s, with consumption, intensities and verdicts)",
        f"raw COPY of the same reading rows: {copy_rate:,.0f} rows/s; stream / raw COPY = "
        f"{stream_rate / copy_rate:.1%}",
        TARGETS,
    ]


def _registry() -> dict[str, Any]:
    example = Path(__file__).parents[1] / "schemas/examples/demo-province.yaml"
    document: dict[str, Any] = dict(yaml.safe_load(example.read_text("utf-8")))
    document["version"] = "bench-energy-1"
    for e in range(ENTERPRISES):
        document["enterprises"].append(
            {
                "id": f"B-AL-{e:03d}",
                "name": f"bench aluminium {e}",
                "region_code": "520400",
                "industry_code": "3216",
                "energy_quotas": [
                    {"product": "al", "indicator": "AC power", "limit": 13650.0,
                     "unit": "kWh/t", "standard": "bench"}
                ],
                "energy": {
                    "api_key_hmac": _digest(_key(e)),
                    "products": [{"id": "al", "name": "aluminium"}],
                    "meters": [
                        {"id": f"B-AL-{e:03d}-M{m}", "carrier": "electricity", "unit": "kWh",
                         "kind": "cumulative", "multiplier": 10.0, "product": "al"}
                        for m in range(METERS)
                    ],
                },
            }
        )  # fmt: skip
    return document


def _key(enterprise: int) -> str:
    return f"bench-key-{enterprise:03d}"


def _digest(key: str) -> str:
    return hmac.new(SECRET.encode(), key.encode(), hashlib.sha256).hexdigest()


def _bodies() -> list[tuple[str, dict[str, Any]]]:
    """(key, body) per request: each enterprise's readings in time order, ``BATCH`` a body."""
    bodies: list[tuple[str, dict[str, Any]]] = []
    for e in range(ENTERPRISES):
        readings = [
            {"meter_id": f"B-AL-{e:03d}-M{m}", "value": 1000.0 + i * 85.0, "unit": "kWh",
             "instant": (DAY0 + i * timedelta(minutes=15)).isoformat()}
            for i in range(DAYS * 96 + 1)
            for m in range(METERS)
        ]  # fmt: skip
        for start in range(0, len(readings), BATCH):
            bodies.append((_key(e), {"readings": readings[start : start + BATCH]}))
        output = [
            {"indicator": "output", "product": "al", "stat_type": "day", "unit": "t",
             "period_start": (DAY0 + timedelta(days=d)).isoformat(), "value": 600.0}
            for d in range(DAYS)
        ]  # fmt: skip
        bodies.append((_key(e), {"statistics": output}))
    return bodies


def _api_rate(
    settings: Settings,
    prefix: str,
    registry: Path,
    tmp: Path,
    bodies: list[tuple[str, dict[str, Any]]],
    processes: int,
) -> float:
    ports = [_free_port() for _ in range(processes)]
    servers = [_start(settings, prefix, registry, port, tmp) for port in ports]
    try:
        for port in ports:
            _wait_http(f"http://127.0.0.1:{port}/openapi.json")
        started = time.monotonic()
        accepted = asyncio.run(_post_all(ports, bodies))
        return accepted / (time.monotonic() - started)
    finally:
        for server in servers:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=30)


async def _post_all(ports: list[int], bodies: list[tuple[str, dict[str, Any]]]) -> int:
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    accepted = 0

    async def client(index: int) -> None:
        nonlocal accepted
        url = f"http://127.0.0.1:{ports[index % len(ports)]}"
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            while not queue.empty():
                key, body = queue.get_nowait()
                path = "/v1/readings" if "readings" in body else "/v1/statistics"
                reply = await http.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
                if reply.status_code != 202:
                    raise RuntimeError(f"{reply.status_code}: {reply.text[:200]}")
                accepted += int(reply.json()["accepted"]) if "readings" in body else 0

    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return accepted


def _start(
    settings: Settings, prefix: str, registry: Path, port: int, tmp: Path
) -> subprocess.Popen[bytes]:
    env = {**os.environ, **service_env(settings, Principal.ENERGY_GATEWAY),
           "GREENWATCH_TOPIC_PREFIX": prefix, "GREENWATCH_ENERGY_KEY_SECRET": SECRET}  # fmt: skip
    command = [str(Path(sys.executable).parent / "greenwatch"), "gateway", "energy",
               "--registry", str(registry), "--port", str(port)]  # fmt: skip
    log = (tmp / f"api-{port}.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def _stream_rate(
    settings: Settings, prefix: str, registry: Path, dsn: str, total: int, tmp: Path
) -> tuple[float, float]:
    env = {**os.environ, **service_env(settings, Principal.ENERGY_WORKER),
           "GREENWATCH_DATABASE_URL": dsn, "GREENWATCH_TOPIC_PREFIX": prefix}  # fmt: skip
    command = [str(Path(sys.executable).parent / "greenwatch"), "energy-worker",
               "--registry", str(registry)]  # fmt: skip
    log = (tmp / "energy-worker.log").open("wb")
    worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        first: float | None = None
        deadline = time.monotonic() + 900
        stored = 0
        with psycopg.connect(dsn, autocommit=True) as conn:
            while stored < total and time.monotonic() < deadline and worker.poll() is None:
                before = time.monotonic()
                row = conn.execute("SELECT count(*) FROM energy_readings").fetchone()
                stored = int(row[0]) if row else 0
                if first is None and stored > 0:
                    first = before
                time.sleep(0.05)
        if first is None or stored < total:
            raise RuntimeError(f"the energy worker stored {stored} of {total} readings")
        seconds = time.monotonic() - first
        return total / seconds, seconds
    finally:
        worker.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)


def _copy_rate(dsn: str, bodies: list[tuple[str, dict[str, Any]]]) -> float:
    rows = [
        (r["meter_id"], "realtime", datetime.fromisoformat(r["instant"]), r["meter_id"][:8],
         r["value"], "kWh", True)
        for _, body in bodies
        for r in body.get("readings", [])
    ]  # fmt: skip
    statement = (
        "COPY energy_readings (meter_id, stat_type, at, enterprise_id, value, unit, register)"
        " FROM STDIN (FORMAT BINARY)"
    )
    types = ["text", "text", "timestamptz", "text", "float8", "text", "bool"]
    with psycopg.connect(dsn) as conn:
        started = time.monotonic()
        for start in range(0, len(rows), 2000):
            with conn.cursor() as cur, cur.copy(statement) as copy:
                copy.set_types(types)
                for row in rows[start : start + 2000]:
                    copy.write_row(row)
            conn.commit()
        return len(rows) / (time.monotonic() - started)


def _wait_http(url: str, timeout_s: float = 60.0) -> None:
    if not wait_until(lambda: http_answers(url), timeout_s, 0.2):
        raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")
