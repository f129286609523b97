"""The trail trigger's key function (migration 017, issue 15 p99 slice): PL/pgSQL, so the
trigger that runs it once per verdict no longer re-plans a SQL function body per row (the
verdict upsert's ~0.3 ms per row), and it still computes exactly what migration 009's SQL
function computed, so chains written before and after 017 link and verify."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from deploy.migrate import migrate
from schemas.measurement import PeriodKind
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.sink import PgSink, SinkBatch, create_pool

MIGRATION_009 = Path(__file__).parents[3] / "deploy" / "migrations" / "009_audit_api.sql"

ROWS: list[tuple[str, dict[str, Any]]] = [
    ("alert_events", {"alert_id": "A-1", "event_id": "7"}),
    ("regulator_orders", {"enterprise_id": "E1", "order_id": "O-9", "kind": "restrict"}),
    ("regulator_orders", {"enterprise_id": "E1", "order_id": "O-9", "lifted_at": "2026-03-02",
                          "lifted_by": "regulator"}),
    ("registry_versions", {"version": "v3", "document": {"enterprises": [1, 2]}}),
    ("verdicts", {"outlet_id": "O1", "factor": "a21026", "rule": "hourly_concentration",
                  "period_start": "2026-03-02T02:00:00+00:00", "value": 41.5,
                  "status": "exceedance", "revision": 2}),
    ("verdicts", {"outlet_id": "O2", "factor": "a21002", "rule": "daily_load",
                  "period_start": "2026-03-02T16:00:00+00:00", "value": None,
                  "status": "no_data", "revision": 1}),
]  # fmt: skip


def _sql_key_of_009() -> str:
    """Migration 009's gw_trail_key, renamed ``ref_trail_key`` (the reference)."""
    text = MIGRATION_009.read_text("utf-8")
    found = re.search(r"CREATE OR REPLACE FUNCTION gw_trail_key\(.*?\n\$\$;", text, re.S)
    assert found is not None
    return found.group(0).replace("gw_trail_key", "ref_trail_key", 1)


@pytest.fixture
def migrated(db_conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    migrate(db_conn)
    return db_conn


def test_the_trail_key_is_plpgsql_with_009s_results(migrated: psycopg.Connection[Any]) -> None:
    language = migrated.execute(
        "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
        " WHERE p.proname = 'gw_trail_key' AND p.pronamespace = current_schema()::regnamespace"
    ).fetchone()
    # a SQL function with OUT parameters read in FROM is planned again at every call
    assert language == ("plpgsql",)
    migrated.execute(_sql_key_of_009())
    for table, row in ROWS:
        ours = migrated.execute("SELECT * FROM gw_trail_key(%s, %s)", (table, Jsonb(row)))
        reference = migrated.execute("SELECT * FROM ref_trail_key(%s, %s)", (table, Jsonb(row)))
        assert ours.fetchone() == reference.fetchone(), table


def test_verdicts_written_by_the_sink_chain_and_verify(
    migrated: psycopg.Connection[Any], pg_schema: Any
) -> None:
    from audit.verify import verify

    start = datetime(2026, 3, 2, 2, tzinfo=UTC)
    verdicts = [
        Verdict(enterprise_id="E1", outlet_id=f"O{i % 3}", factor="a21026",
                rule=Rule.HOURLY_CONCENTRATION, period=PeriodKind.HOUR,
                period_start=start + timedelta(hours=i // 3), value=20.0 + i, limit=35.0,
                ratio=(20.0 + i) / 35.0, status=VerdictStatus.COMPLIANT,
                evidence={"valid_minutes": 60}, registry_version="v1")
        for i in range(12)
    ]  # fmt: skip
    with create_pool(pg_schema.dsn) as pool:
        pool.wait(timeout=30)
        sink = PgSink(pool)
        sink.flush(SinkBatch(verdicts=verdicts))
        changed = [v.model_copy(update={"value": 50.0, "status": VerdictStatus.EXCEEDANCE})
                   for v in verdicts[:4]]  # fmt: skip
        sink.flush(SinkBatch(verdicts=changed))
    entries = migrated.execute(
        "SELECT chain, op, count(*) FROM audit_trail WHERE chain LIKE 'verdicts:%'"
        " GROUP BY chain, op ORDER BY chain, op"
    ).fetchall()
    assert entries == [
        ("verdicts:O0", "INSERT", 4), ("verdicts:O0", "UPDATE", 2),
        ("verdicts:O1", "INSERT", 4), ("verdicts:O1", "UPDATE", 1),
        ("verdicts:O2", "INSERT", 4), ("verdicts:O2", "UPDATE", 1),
    ]  # fmt: skip
    result = verify(migrated)
    assert result.breaks == [] and result.rows >= 12
