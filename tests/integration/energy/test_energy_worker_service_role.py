"""The energy worker connects as its own role on the local stack (issue 11, item 4): the real
``greenwatch energy-worker`` process, started without GREENWATCH_DATABASE_URL, logs in as
``gw_energy_worker`` and still turns posted readings into consumption and a quota verdict."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from energy_api_harness import Api
from energy_support import day, energy_document
from services import PgSchema, Services, as_service_role, sessions_as
from test_energy_stream import BASE, output, potline_body, wait_for

from deploy.migrate import migrate
from runtime.settings import DbLogin

pytestmark = pytest.mark.integration
GREENWATCH = Path(sys.executable).parent / "greenwatch"


def test_the_energy_worker_logs_in_as_gw_energy_worker_and_does_its_job(
    services: Services, api: Api, pg_schema: PgSchema, tmp_path: Path
) -> None:
    if services.origin != "local":
        pytest.skip("the service roles and their passwords are the local stack's")
    with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
        migrate(conn)
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(energy_document(), allow_unicode=True), "utf-8")
    env = as_service_role(dict(os.environ), services.settings.state_dir, pg_schema.dsn) | {
        "GREENWATCH_KAFKA_BOOTSTRAP": api.bootstrap,
        "GREENWATCH_TOPIC_PREFIX": api.prefix,
    }
    log = tmp_path / "energy-worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(GREENWATCH), "energy-worker", "--registry", str(registry)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        first, _ = potline_body(0, 13_800.0, 600.0, 999_000.0)
        start = {"readings": [{"meter_id": "AL-POT-1", "value": 999_000.0, "unit": "kWh",
                               "instant": day(0, BASE).isoformat()}]}  # fmt: skip
        for body in (start, first):
            assert api.post("/v1/readings", body).json()["accepted"] == len(body["readings"])
        assert api.post("/v1/statistics", output(0, 600.0)).json()["accepted"] == 1

        def verdict() -> Any:
            with psycopg.connect(pg_schema.dsn, autocommit=True) as conn:
                return conn.execute(
                    "SELECT status FROM verdicts WHERE rule = 'energy_quota'"
                    " AND factor = 'kWh/t@30d' AND period_start = %s",
                    (day(0, BASE),),
                ).fetchone()

        try:
            wait_for(lambda: verdict() is not None or worker.poll() is not None, "a verdict")
        except AssertionError:
            raise AssertionError(log.read_text("utf-8", "replace")) from None
        assert worker.poll() is None, log.read_text("utf-8", "replace")
        assert verdict() == ("exceedance",)
        sessions = sessions_as(pg_schema.dsn, DbLogin.ENERGY_WORKER)  # (no DSN in a failure)
        assert sessions > 0
    finally:
        worker.terminate()
        worker.wait(timeout=30)
