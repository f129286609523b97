"""`greenwatch demo` with the evading enterprise (issue 13 items 3, 2 and 8): both hiding
tricks caught on the running platform (simulator → gateway → worker → alert service).

E-CM-001's kiln launders SO2 as a calibration nobody declared while its NOx exceeds, then
rewrites an SO2 exceedance by re-sending the same minutes lower. The regulator is told of
both, the rewritten hours keep their first verdicts in the revision history, and the NOx
exceedance while evading walks the ladder to the Art. 6(1) suspension recommendation."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg

MN, OUTLET = "SIMCM001K1", "E-CM-001-K1"
EPISODES = ";".join(
    (
        f"calibration@{MN}+1h/4h:a21026",  # SO2 exceedance values flagged C, not declared
        f"exceedance@{MN}+2h/2h:a21002x2",  # NOx exceeds meanwhile
        f"rewrite@{MN}+6h/2h:a21026x6",  # SO2 exceeds, re-sent lower at 8:30
    )
)


def test_the_regulator_is_told_of_both_tricks_and_art6_1_is_recommended(
    services: Any, pg_schema: Any, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "GREENWATCH_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "GREENWATCH_DATABASE_URL": pg_schema.dsn,
        "GREENWATCH_TOPIC_PREFIX": f"demo{uuid.uuid4().hex[:8]}",
        "GREENWATCH_STATE_DIR": str(tmp_path / "state"),
    }
    args = ["demo", "--in-place", "--seconds", "75", "--hours", "10", "--enterprises", "2"]
    result = subprocess.run(
        [sys.executable, "-m", "greenwatch", *args, "--episodes", EPISODES],
        env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with psycopg.connect(pg_schema.dsn) as conn:
        told = dict(
            conn.execute(
                "SELECT o.alert_id, count(*) FROM notification_outbox o"
                " JOIN alert_subscriptions s USING (subscription_id)"
                " WHERE s.audience = 'regulator' AND o.alert_id IN (%s, %s) GROUP BY 1",
                (f"{MN}/a21026/quality.undeclared_flag", f"{OUTLET}/a21026/quality.revised_down"),
            ).fetchall()
        )
        rewritten = conn.execute(
            "SELECT count(*) FROM verdict_revisions WHERE outlet_id = %s AND factor = 'a21026'"
            " AND rule = 'hourly_concentration' AND status = 'exceedance' AND reason = 'resent'",
            (OUTLET,),
        ).fetchone()
        first_values = conn.execute(
            "SELECT count(*) FROM measurement_revisions WHERE device_id = %s"
            " AND factor = 'a21026' AND reason = 'resent'",
            (MN,),
        ).fetchone()
        bases = {
            row[0]
            for row in conn.execute(
                "SELECT e.evidence ->> 'basis' FROM alert_events e"
                " WHERE e.alert_id = %s AND e.kind IN ('fired', 'escalated')",
                (f"{OUTLET}/a21002/hourly_concentration",),
            )
        }
    assert told.get(f"{MN}/a21026/quality.undeclared_flag", 0) > 0, (told, result.stdout[-2000:])
    assert told.get(f"{OUTLET}/a21026/quality.revised_down", 0) > 0, told
    assert rewritten is not None and rewritten[0] >= 1  # the exceedance verdicts kept
    assert first_values is not None and first_values[0] >= 60  # and the first minutes
    assert "order30_art6_1_evasion" in bases, bases
