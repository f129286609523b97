"""`greenwatch demo`'s energy half end to end: simulated energy management systems post to the
energy API over HTTP, the energy worker fills PostgreSQL, and the aluminium potline's quota
exceedance reaches its notice through the alert service."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg


def test_demo_posts_energy_and_notifies_a_quota_exceedance(
    services: Any, pg_schema: Any, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "GREENWATCH_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "GREENWATCH_DATABASE_URL": pg_schema.dsn,
        "GREENWATCH_TOPIC_PREFIX": f"demo{uuid.uuid4().hex[:8]}",
        "GREENWATCH_STATE_DIR": str(tmp_path / "state"),
    }
    # default span: from yesterday 00:00 China time, so the first day closes; 3 enterprises:
    # thermal power (own use), cement (clinker coal) and the aluminium potline
    args = ["demo", "--in-place", "--seconds", "110", "--enterprises", "3", "--episodes", "none"]
    result = subprocess.run(
        [sys.executable, "-m", "greenwatch", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with psycopg.connect(pg_schema.dsn) as conn:
        marks = dict(
            conn.execute(
                "SELECT m, count(*) FROM energy_readings, unnest(marks) AS m GROUP BY m"
            ).fetchall()
        )
        quota = conn.execute(
            "SELECT status, value, limit_value FROM verdicts WHERE rule = 'energy_quota'"
            " AND outlet_id = 'E-AL-001/al-liquid' AND factor = 'kWh/t@30d'"
            " ORDER BY period_start LIMIT 1"
        ).fetchone()
        notices = conn.execute(
            "SELECT count(*) FROM notification_outbox o JOIN alerts a USING (alert_id)"
            " WHERE a.rule = 'energy_quota' AND a.level = 2 AND o.status = 'sent'"
        ).fetchone()
        clinker = conn.execute(
            "SELECT count(*) FROM energy_intensities WHERE subject = 'clinker'"
        ).fetchone()
    assert {"rollover", "backwards", "replacement"} <= set(marks), marks
    assert quota is not None and quota[0] == "exceedance" and quota[2] == 13_650.0
    assert 13_700 < quota[1] < 13_900
    assert notices is not None and notices[0] >= 2  # the enterprise and its regulator
    assert clinker is not None and clinker[0] > 0
    assert "energy: first aluminium potline" in result.stdout
    final = result.stdout[result.stdout.index("final summary") :]
    assert "E-AL-001/al-liquid 13,8" in final and "vs quota 13,650: exceedance" in final
    assert "📧 to e-al-001@enterprise.demo" in result.stdout  # notices over real SMTP
