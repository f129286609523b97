"""`greenwatch demo` end to end on the real services: a small province through gateway, worker
and alert service as separate processes, with notices arriving at the local receivers.

The demo is pointed at the session's services with a private schema and topic prefix, so it
leaves the shared database and topics alone."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

EPISODE = "exceedance@SIMTP001G1+2h/4h:a21026x3"  # 4 h of SO2 at 3× the ultra-low limit
OUTAGE = "outage@SIMCM001K1+3h/2h"  # 2 simulated hours without data: 4 s of wall time


def test_demo_runs_the_platform_and_notifies(services: Any, pg_schema: Any, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GREENWATCH_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "GREENWATCH_DATABASE_URL": pg_schema.dsn,
        "GREENWATCH_TOPIC_PREFIX": f"demo{uuid.uuid4().hex[:8]}",
        "GREENWATCH_STATE_DIR": str(tmp_path / "state"),
    }
    args = ["demo", "--in-place", "--seconds", "75", "--hours", "10", "--enterprises", "2"]
    result = subprocess.run(
        [sys.executable, "-m", "greenwatch", *args, "--episodes", f"{EPISODE};{OUTAGE}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # the plan summary and its report add a few seconds at the end
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout
    assert "simulating 10 h from" in output
    assert "final summary" in output
    final = output[output.index("final summary") :]
    assert "frames accepted" in final and "rejects" in final
    assert "restrict_production" in final  # 4 sustained hours → Art. 5
    # The outage is too short on the wall clock for the worker's tick; it is found in event
    # time when the device's data resume and recorded as a data-quality alert that fired
    # and resolved.
    quality = final[final.index("data-quality alerts:") :]
    assert "quality.silent" in quality and "SIMCM001K1" in quality
    with psycopg.connect(pg_schema.dsn) as conn:
        hours = conn.execute("SELECT count(*) FROM aggregates WHERE period = 'hour'").fetchone()
        exceedances = conn.execute(
            "SELECT count(*) FROM verdicts WHERE outlet_id = 'E-TP-001-G1'"
            " AND factor = 'a21026' AND status = 'exceedance'"
        ).fetchone()
        silent = conn.execute(
            "SELECT e.kind, e.at FROM alert_events e JOIN alerts a USING (alert_id)"
            " WHERE a.alert_id = 'SIMCM001K1/-/quality.silent' ORDER BY e.event_id"
        ).fetchall()
        sent = conn.execute(
            "SELECT count(*) FROM notification_outbox WHERE status = 'sent'"
        ).fetchone()
    assert hours is not None and hours[0] > 0
    assert exceedances is not None and exceedances[0] >= 3
    assert sent is not None and sent[0] > 0
    # Fired and resolved at the signals' time stamps (simulated time): 2 hours apart, though
    # the outage lasted seconds.
    moments = {kind: at for kind, at in reversed(silent)}  # each kind's first event
    assert moments["resolved"] - moments["fired"] > timedelta(hours=1), silent
    assert "📧 to e-tp-001@enterprise.demo" in output  # delivered over real SMTP
    assert "🔔 /robot/E-TP-001" in output  # and to the webhook receiver
    # The plan (issue 10): the enterprises' monthly statistics went through the energy API;
    # the barometer of the province and its cities is printed, the quarterly report written.
    plan = output[output.index("plan progress (issue 10)") :]
    assert "Plan progress of 520000 as of" in plan and "region 520000" in plan
    assert "gz-solid-waste-utilisation-2018" in plan
    report = plan[plan.index("plan: quarterly report") :].split(" written to ")[1].split()[0]
    assert Path(report).stat().st_size > 10_000
    with psycopg.connect(pg_schema.dsn) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM plan_progress WHERE subject_id = '520000'"
        ).fetchone()
    assert stored is not None and stored[0] > 0
