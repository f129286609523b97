"""Reproduce: a verdict the worker's engine issued and its sink stored re-derives equal from
the stored measurements; after someone edits the verdict or a measurement it is judged on
directly in SQL, it answers different and names the fields (API and CLI)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from audit_data import DAY
from fastapi.testclient import TestClient
from record import DEVICE, OUTLET, demo_registry, minutes, write_record
from typer.testing import CliRunner

from audit.principal import Role
from audit.verdict_id import verdict_id
from greenwatch.cli import app
from runtime.settings import Settings
from schemas.verdict import Rule, VerdictStatus


@pytest.fixture
def recorded(audit_db: psycopg.Connection[Any], pg_schema: Any) -> dict[str, str]:
    next_day = DAY.replace(day=5)
    verdicts = write_record(pg_schema.dsn, demo_registry(), minutes(next_day))
    hourly = next(
        v
        for v in verdicts
        if v.rule is Rule.HOURLY_CONCENTRATION
        and v.factor == "a21026"
        and v.status is VerdictStatus.EXCEEDANCE
    )
    daily = next(v for v in verdicts if v.rule is Rule.DAILY_LOAD and v.factor == "a21026")
    return {
        "hourly": verdict_id(
            hourly.outlet_id, hourly.factor, hourly.rule.value, hourly.period_start
        ),
        "daily": verdict_id(daily.outlet_id, daily.factor, daily.rule.value, daily.period_start),
    }


def _reproduce(client: TestClient, token: str, vid: str) -> Any:
    return client.get(f"/v1/verdicts/{vid}/reproduce", headers={"Authorization": f"Bearer {token}"})


def test_stored_verdicts_reproduce_equal(
    client: TestClient, tokens: dict[Role, str], recorded: dict[str, str]
) -> None:
    for kind, vid in recorded.items():
        body = _reproduce(client, tokens[Role.AUDITOR], vid).json()
        assert body["result"] == "equal", (kind, body)
        assert body["diff"] == {} and body["measurements_used"] > 0
        assert body["registry_version"] == "demo-province-2026.1"


def test_an_edited_verdict_or_measurement_answers_different(
    client: TestClient,
    tokens: dict[Role, str],
    recorded: dict[str, str],
    audit_db: psycopg.Connection[Any],
) -> None:
    outlet, factor, rule, _ = recorded["hourly"].split("~")
    audit_db.execute(
        "UPDATE verdicts SET status = 'compliant' WHERE outlet_id = %s AND factor = %s"
        " AND rule = %s AND status = 'exceedance'",
        (outlet, factor, rule),
    )
    body = _reproduce(client, tokens[Role.REGULATOR], recorded["hourly"]).json()
    assert body["result"] == "different"
    assert body["diff"]["status"] == {"recorded": "compliant", "reproduced": "exceedance"}
    # the day's measurements rewritten downwards: the stored daily load no longer follows
    audit_db.execute(
        "UPDATE measurements SET avg = avg / 2 WHERE device_id = %s AND factor = 'a21026'",
        (DEVICE,),
    )
    daily = _reproduce(client, tokens[Role.AUDITOR], recorded["daily"]).json()
    assert daily["result"] == "different" and "value" in daily["diff"]


def test_reproduce_is_refused_outside_the_scope_and_for_enterprises(
    client: TestClient, tokens: dict[Role, str], recorded: dict[str, str]
) -> None:
    assert _reproduce(client, tokens[Role.ENTERPRISE], recorded["hourly"]).status_code == 403
    theirs = recorded["hourly"].replace(OUTLET, "E-CM-01-K1")
    assert _reproduce(client, tokens[Role.AUDITOR], theirs).status_code == 404
    assert _reproduce(client, tokens[Role.AUDITOR], "not-an-id").status_code == 400


def test_cli_reproduce(
    recorded: dict[str, str], audit_db: psycopg.Connection[Any], pg_schema: Any
) -> None:
    settings = Settings(database_url=pg_schema.dsn)
    runner = CliRunner()
    equal = runner.invoke(app, ["audit", "reproduce", recorded["hourly"]], obj=settings)
    assert equal.exit_code == 0, equal.output
    assert '"result": "equal"' in equal.output
    audit_db.execute("UPDATE verdicts SET value = value + 1 WHERE rule = 'hourly_concentration'")
    changed = runner.invoke(app, ["audit", "reproduce", recorded["hourly"]], obj=settings)
    assert changed.exit_code == 1 and '"different"' in changed.output
    bad = runner.invoke(app, ["audit", "reproduce", "nope"], obj=settings)
    assert bad.exit_code == 2 and "not a verdict id" in bad.output
