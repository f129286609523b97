"""Period locking through the CLI and the API: after `audit lock --quarter`, late data still
re-aggregate and re-issue verdicts (nothing refused), and each such write shows in
/v1/after-lock with the row before and after, within the token's scope."""

from __future__ import annotations

from typing import Any

import psycopg
from audit_data import DAY, OURS, THEIRS
from fastapi.testclient import TestClient
from record import DEVICE, demo_registry, minutes, write_record
from typer.testing import CliRunner

from audit.principal import Role
from greenwatch.cli import app
from runtime.settings import Settings


def _lock(pg_schema: Any, *args: str) -> Any:
    return CliRunner().invoke(
        app, ["audit", "lock", *args], obj=Settings(database_url=pg_schema.dsn)
    )


def test_lock_cli_refuses_mistakes(audit_db: psycopg.Connection[Any], pg_schema: Any) -> None:
    assert _lock(pg_schema, "--quarter", "2026Q2").exit_code == 0
    again = _lock(pg_schema, "--quarter", "2026q2")
    assert again.exit_code == 2 and "already locked" in again.output
    bad = _lock(pg_schema, "--quarter", "2026-Q5")
    assert bad.exit_code == 2 and "is not a quarter" in bad.output
    future = _lock(pg_schema, "--quarter", "2099Q1")
    assert future.exit_code == 2 and "has not ended" in future.output


def test_late_data_after_the_lock_is_kept_and_shown(
    client: TestClient, tokens: dict[Role, str], audit_db: psycopg.Connection[Any], pg_schema: Any
) -> None:
    day = DAY.replace(day=5)
    data = minutes(day, hours=12)
    write_record(pg_schema.dsn, demo_registry(), data)  # 2026Q3 is locked by the seed
    before = audit_db.execute(
        "SELECT count(*) FROM after_lock_changes WHERE outlet_id = %s AND period_start >= %s",
        (OURS["outlet"], day),
    ).fetchone()
    assert before is not None and before[0] > 0  # first writes into a locked quarter count too
    late = [m.model_copy(update={"avg": 90.0}) if m.factor == "a21026" and m.period_start.hour == 3
            else m for m in data]  # fmt: skip
    write_record(pg_schema.dsn, demo_registry(), late)
    headers = {"Authorization": f"Bearer {tokens[Role.AUDITOR]}"}
    body = client.get(
        "/v1/after-lock", params={"table": "verdicts", "factor": "a21026"}, headers=headers
    ).json()
    changed = [
        i for i in body["items"]
        if i["op"] == "UPDATE" and i["current"]["rule"] == "hourly_concentration"
        and i["period_start"] == "2026-07-05T03:00:00+08:00"
    ]  # fmt: skip
    assert changed, body
    assert changed[-1]["previous"]["status"] != changed[-1]["current"]["status"]
    assert changed[-1]["current"]["revision"] == changed[-1]["previous"]["revision"] + 1
    stored = audit_db.execute(
        "SELECT status FROM verdicts WHERE outlet_id = %s AND factor = 'a21026'"
        " AND rule = 'hourly_concentration' AND period_start = %s",
        (OURS["outlet"], day.replace(hour=3)),
    ).fetchone()
    assert stored is not None and stored[0] == "exceedance"  # the late data still count
    mine = client.get(
        "/v1/after-lock", headers={"Authorization": f"Bearer {tokens[Role.ENTERPRISE]}"}
    ).json()["items"]
    assert mine and {i["outlet_id"] for i in mine} == {OURS["outlet"]}
    assert THEIRS["outlet"] not in str(mine) and DEVICE
