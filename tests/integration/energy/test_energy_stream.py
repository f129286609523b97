"""POST to the energy API → Kafka → the energy worker → rows and verdicts in PostgreSQL, and a
verdict on the verdicts topic for the alert service; a resend changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from energy_api_harness import Api, running_api
from energy_support import day, energy_document, energy_registry
from services import PgSchema, Services, admin_access, base_settings

from deploy.migrate import migrate
from schemas.verdict import Verdict
from streams.energy_worker import EnergyWorkerOptions, run_energy_worker
from streams.sink import create_pool

pytestmark = pytest.mark.integration
STEP = timedelta(minutes=15)
BASE = day(0).date() - timedelta(days=5)


def potline_body(
    offset: int, kwh_per_t: float, tonnes: float, raw: float
) -> tuple[dict[str, Any], float]:
    """A day of 15-min register values of AL-POT-1 (multiplier 100), from ``raw``."""
    per_step = kwh_per_t * tonnes / 96 / 100.0
    readings = []
    for i in range(1, 97):
        raw = (raw + per_step) % 1_000_000.0
        at = day(offset, BASE) + i * STEP
        readings.append(
            {"meter_id": "AL-POT-1", "value": raw, "unit": "kWh", "instant": at.isoformat()}
        )
    return {"readings": readings}, raw


def output(offset: int, tonnes: float) -> dict[str, Any]:
    start = day(offset, BASE).isoformat()
    item = {
        "indicator": "output",
        "product": "al-liquid",
        "stat_type": "day",
        "period_start": start,
        "value": tonnes,
        "unit": "t",
    }
    return {"statistics": [item]}


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_posted_readings_become_consumption_intensities_and_a_quota_exceedance(
    api: Api,
    pg_schema: PgSchema,
    db_conn: psycopg.Connection[tuple[object, ...]],
    tmp_path: Path,
) -> None:
    migrate(db_conn)
    pool = create_pool(pg_schema.dsn, name="energy-test")
    stop = threading.Event()
    options = EnergyWorkerOptions(
        admin_access(api.bootstrap), api.prefix, group_id=f"energy-{api.prefix}"
    )
    worker = threading.Thread(
        target=run_energy_worker, args=(energy_registry(), pool, options, stop), daemon=True
    )
    worker.start()
    try:
        start = {
            "readings": [
                {
                    "meter_id": "AL-POT-1",
                    "value": 999_000.0,
                    "unit": "kWh",
                    "instant": day(0, BASE).isoformat(),
                }
            ]
        }
        first, raw = potline_body(0, 13_800.0, 600.0, 999_000.0)
        second, _ = potline_body(1, 13_000.0, 600.0, raw)
        for body in (start, first, second):
            assert api.post("/v1/readings", body).json()["accepted"] == len(body["readings"])
        for offset in (0, 1):
            assert api.post("/v1/statistics", output(offset, 600.0)).json()["accepted"] == 1

        def verdict_row() -> Any:
            return db_conn.execute(
                "SELECT status, value, limit_value, evidence, revision FROM verdicts"
                " WHERE rule = 'energy_quota' AND factor = 'kWh/t@30d' AND period_start = %s",
                (day(0, BASE),),
            ).fetchone()

        wait_for(lambda: verdict_row() is not None, "the day-0 quota verdict")
        status, value, limit, evidence, revision = verdict_row()
        assert (status, limit, revision) == ("exceedance", 13_650.0, 1)
        assert value == pytest.approx(13_800.0)
        assert evidence["denominator"] == 600.0 and evidence["excess"] == pytest.approx(150.0)
        days = dict(
            db_conn.execute(
                "SELECT period_start, quantity FROM energy_consumption"
                " WHERE meter_id = 'AL-POT-1' AND period = 'day'"
            ).fetchall()
        )
        assert days[day(0, BASE)] == pytest.approx(13_800.0 * 600.0)
        marks = db_conn.execute(
            "SELECT count(*) FROM energy_readings WHERE 'rollover' = ANY(marks)"
        ).fetchone()
        assert marks == (1,)

        def ytd() -> Any:
            return db_conn.execute(
                "SELECT value, numerator, denominator FROM energy_intensities"
                " WHERE window_name = 'ytd' AND period_start = %s",
                (day(1, BASE),),
            ).fetchone()

        # the day-1 output may be committed a batch after the day-1 readings
        wait_for(lambda: ytd() is not None and ytd()[2] == 1_200.0, "both days' output")
        assert ytd()[0] == pytest.approx((13_800.0 + 13_000.0) / 2)
        published = [Verdict.model_validate_json(v) for v in api.records("verdicts", 1)]
        assert any(
            v.rule.value == "energy_quota" and v.status.value == "exceedance" for v in published
        )

        readings_before = db_conn.execute("SELECT count(*) FROM energy_readings").fetchone()
        assert readings_before == (193,)
        assert api.post("/v1/readings", first).status_code == 202  # the 接入端 resends
        time.sleep(3)
        assert db_conn.execute("SELECT count(*) FROM energy_readings").fetchone() == (193,)
        assert verdict_row()[4] == 1
        assert_replay_equals_worker(api, db_conn, tmp_path)
    finally:
        stop.set()
        worker.join(timeout=30)
        pool.close()


def assert_replay_equals_worker(
    api: Api, db_conn: psycopg.Connection[tuple[object, ...]], tmp_path: Path
) -> None:
    """`greenwatch replay --energy` over the raw topic as the worker read it gives the rows
    and verdicts the worker stored."""
    raw = api.records("raw.energy", 6)  # one record per accepted request
    dump = tmp_path / "raw-energy.jsonl"
    dump.write_bytes(b"\n".join(raw) + b"\n")
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(energy_document(), allow_unicode=True), "utf-8")
    command = [str(Path(sys.executable).parent / "greenwatch"), "replay"]
    command += ["--registry", str(registry), "--energy", str(dump)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    replayed_verdicts = {
        (r["outlet_id"], r["factor"], r["rule"], datetime.fromisoformat(r["period_start"])): (
            r["status"],
            pytest.approx(r["value"]),
        )
        for r in rows
        if r["kind"] == "verdict"
    }
    stored_verdicts = {
        (o, f, rule, start): (status, value)
        for o, f, rule, start, status, value in db_conn.execute(
            "SELECT outlet_id, factor, rule, period_start, status, value FROM verdicts"
            " WHERE rule LIKE 'energy_%'"
        ).fetchall()
    }
    assert stored_verdicts == replayed_verdicts and len(stored_verdicts) >= 4
    replayed = {
        (r["meter_id"], r["period"], datetime.fromisoformat(r["period_start"])): pytest.approx(
            r["quantity"]
        )
        for r in rows
        if r["kind"] == "energy_consumption"
    }
    stored = {
        (m, p, s): q
        for m, p, s, q in db_conn.execute(
            "SELECT meter_id, period, period_start, quantity FROM energy_consumption"
        ).fetchall()
    }
    assert stored == replayed
    replayed_intensities = {
        (r["subject"], r["window"], datetime.fromisoformat(r["period_start"])): pytest.approx(
            r["value"]
        )
        for r in rows
        if r["kind"] == "energy_intensity"
    }
    stored_intensities = {
        (s, w, p): v
        for s, w, p, v in db_conn.execute(
            "SELECT subject, window_name, period_start, value FROM energy_intensities"
        ).fetchall()
    }
    assert stored_intensities == replayed_intensities


def test_a_registry_published_while_the_worker_runs_judges_the_next_days(
    services: Services,
    pg_schema: PgSchema,
    db_conn: psycopg.Connection[tuple[object, ...]],
    tmp_path: Path,
) -> None:
    with running_api(services, tmp_path) as api:  # topics of its own
        _follow_the_registry_topic(api, pg_schema, db_conn)


def _follow_the_registry_topic(
    api: Api, pg_schema: PgSchema, db_conn: psycopg.Connection[tuple[object, ...]]
) -> None:
    from runtime.registry_topic import (
        open_registry_source,
        publish_registry,
        registry_topic,
    )
    from runtime.settings import registry_key
    from schemas.registry import parse_registry

    migrate(db_conn)
    topic = registry_topic(api.prefix)
    key = registry_key(base_settings())
    publish_registry(
        admin_access(api.bootstrap), topic, energy_registry(), datetime.now(UTC), key=key
    )
    source = open_registry_source(
        None, admin_access(api.bootstrap), api.prefix, "energy-it", 30.0, key=key
    )
    assert source.follower is not None
    pool = create_pool(pg_schema.dsn, name="energy-test-follow")
    stop = threading.Event()
    options = EnergyWorkerOptions(
        admin_access(api.bootstrap), api.prefix, group_id=f"energy-f-{api.prefix}"
    )
    worker = threading.Thread(
        target=run_energy_worker,
        args=(source.registry, pool, options, stop, source.updates()),
        daemon=True,
    )
    worker.start()

    def verdict(offset: int) -> Any:
        return db_conn.execute(
            "SELECT status, limit_value, registry_version, revision FROM verdicts"
            " WHERE rule = 'energy_quota' AND factor = 'kWh/t@30d' AND period_start = %s",
            (day(offset, BASE),),
        ).fetchone()

    try:
        first, raw = potline_body(0, 13_800.0, 600.0, 0.0)
        api.post("/v1/readings", first)
        api.post("/v1/statistics", output(0, 600.0))
        second, raw = potline_body(1, 13_300.0, 600.0, raw)
        api.post("/v1/readings", {"readings": second["readings"][:1]})  # closes day 0
        wait_for(lambda: verdict(0) is not None, "day 0 judged under the first registry")
        assert verdict(0) == ("exceedance", 13_650.0, "energy-test-1", 1)

        document = energy_document()
        document["version"] = "energy-test-2"
        document["enterprises"][-1]["energy_quotas"][0]["limit"] = 13_450.0  # the 2023 grading
        publish_registry(
            admin_access(api.bootstrap), topic, parse_registry(document), datetime.now(UTC), key=key
        )
        time.sleep(5)  # the follower hands it over; the swap happens between two batches
        api.post("/v1/readings", {"readings": second["readings"][1:]})
        api.post("/v1/statistics", output(1, 600.0))
        third, _ = potline_body(2, 13_300.0, 600.0, raw)
        api.post("/v1/readings", {"readings": third["readings"][:1]})  # closes day 1
        wait_for(lambda: verdict(1) is not None, "day 1 judged under the second registry")
        assert verdict(1)[1:3] == (13_450.0, "energy-test-2")
        assert verdict(1)[0] == "exceedance"  # (13 800 + 13 300) / 2 = 13 550 > 13 450
        assert verdict(0) == ("exceedance", 13_650.0, "energy-test-1", 1)  # the past stays
    finally:
        stop.set()
        worker.join(timeout=30)
        pool.close()
        source.close()
