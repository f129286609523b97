"""The revision statements look each staged row up by its key, on both flavors (issue 15,
seventh slice): a closing hour of many devices is compared row by row with the stored row
of the same key, not with every stored row of the same hour.

On main the hourly values' revision insert was a plain join that PostgreSQL planned, with no
statistics on the temporary staging table, as a merge join on ``(period, period_start)``
through ``aggregates_time_idx``: every staged value of an hour against every stored value of
that hour (in the one-worker drain ~0.5 M rows compared per flush, 2.2 of PostgreSQL's 5.2 s).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from deploy.migrate import Flavor
from schemas.measurement import AggregateValue, PeriodKind
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.revisions import AGGREGATE_REVISIONS, VERDICT_REVISIONS
from streams.sink import PgSink, SinkBatch
from streams.upserts import stage_aggregates, stage_verdicts

CST = timezone(timedelta(hours=8))
HOUR = datetime(2026, 3, 2, 10, tzinfo=CST)
OUTLETS = 60
FACTORS = ("a21026", "a21002", "a34013", "a19001", "a01011", "a01012", "a01013", "a01014")


def hourly(outlet: int, factor: str, mean: float, hour: datetime) -> AggregateValue:
    return AggregateValue(
        outlet_id=f"O{outlet:04d}", device_id=f"MN{outlet:04d}", factor=factor,
        period=PeriodKind.HOUR, period_start=hour, valid=True, valid_count=60,
        invalid_count=0, flag_counts={"N": 60}, mean=mean, registry_version="v1",
    )  # fmt: skip


def verdict(outlet: int, factor: str, value: float, hour: datetime) -> Verdict:
    return Verdict(
        enterprise_id="E1", outlet_id=f"O{outlet:04d}", factor=factor,
        rule=Rule.HOURLY_CONCENTRATION, period=PeriodKind.HOUR, period_start=hour,
        value=value, limit=35.0, ratio=value / 35.0, status=VerdictStatus.COMPLIANT,
        evidence={"valid_minutes": 60}, registry_version="v1",
    )  # fmt: skip


def closing_hour(value: float, hour: datetime = HOUR) -> SinkBatch:
    keys = [(o, f) for o in range(OUTLETS) for f in FACTORS]
    return SinkBatch(
        aggregates=[hourly(o, f, value, hour) for o, f in keys],
        verdicts=[verdict(o, f, value, hour) for o, f in keys],
    )


def _rows_compared(plan: dict[str, Any]) -> int:
    """Rows a plan read and threw away by a join or scan filter, over all its nodes."""
    own = int(plan.get("Rows Removed by Join Filter", 0)) + int(
        plan.get("Rows Removed by Filter", 0)
    ) * int(plan.get("Actual Loops", 1))
    return own + sum(_rows_compared(child) for child in plan.get("Plans", []))


@pytest.mark.integration
@pytest.mark.parametrize("analyzed", [False, True], ids=["new-chunk", "analyzed"])
def test_a_closing_hours_revisions_compare_each_value_with_its_own_stored_row(
    flavored_pool: ConnectionPool,
    db_conn: psycopg.Connection[Any],
    flavor: Flavor,
    analyzed: bool,
) -> None:
    if flavor is Flavor.PLAIN and not analyzed:
        pytest.skip("plain aggregates is one ordinary table: without statistics only once")
    sink = PgSink(flavored_pool)
    for earlier in range(1, 4):  # the chunk as a drain leaves it: hours before this one
        sink.flush(closing_hour(1.0, HOUR - timedelta(hours=earlier)))
    sink.flush(closing_hour(10.0))
    if analyzed:  # what autovacuum does to a busy table; a new chunk has no statistics yet
        db_conn.execute("ANALYZE aggregates")
        db_conn.execute("ANALYZE verdicts")
    staged = closing_hour(20.0)
    with (
        flavored_pool.connection() as conn,
        conn.cursor() as cur,
        conn.transaction(force_rollback=True),
    ):
        assert stage_aggregates(cur, staged.aggregates) == len(staged.aggregates)
        assert stage_verdicts(cur, staged.verdicts) == len(staged.verdicts)
        for statement in (AGGREGATE_REVISIONS, VERDICT_REVISIONS):
            cur.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", (None,))
            row = cur.fetchone()
            assert row is not None
            plan = row[0][0]["Plan"]
            # one stored row per staged value, none thrown away (main: 480 × 480)
            assert _rows_compared(plan) <= len(staged.aggregates), statement[:40]

    sink.flush(staged)  # and the history is what it was: every changed value kept once
    kept = db_conn.execute(
        "SELECT (SELECT count(*) FROM aggregate_revisions WHERE mean = 10.0),"
        " (SELECT count(*) FROM verdict_revisions WHERE value = 10.0 AND revision = 1)"
    ).fetchone()
    assert kept == (len(staged.aggregates), len(staged.verdicts))


@pytest.mark.integration
def test_hourly_values_of_a_time_range_are_still_read_through_an_index(
    flavored_pool: ConnectionPool, db_conn: psycopg.Connection[Any], flavor: Flavor
) -> None:
    """Migration 018 drops ``aggregates_time_idx`` on TimescaleDB only: the panels' time
    ranges over hourly values (grafana/queries.py) are served by the hypertable's own time
    index there, by ``aggregates_time_idx`` on plain PostgreSQL."""
    indexes = {
        row[0]
        for row in db_conn.execute(
            "SELECT indexname FROM pg_indexes"
            " WHERE tablename = 'aggregates' AND schemaname = current_schema()"
        )
    }
    assert ("aggregates_time_idx" in indexes) is (flavor is Flavor.PLAIN)
    PgSink(flavored_pool).flush(closing_hour(10.0))
    with db_conn.transaction(force_rollback=True):
        db_conn.execute("SET LOCAL enable_seqscan = off")  # an index if any can serve it
        plan = "\n".join(
            str(row[0])
            for row in db_conn.execute(
                "EXPLAIN SELECT count(*) FROM aggregates a WHERE a.period = 'hour'"
                " AND a.period_start >= %s AND a.period_start < %s",
                (HOUR - timedelta(days=1), HOUR + timedelta(hours=1)),
            )
        )
    assert "Index" in plan and "Seq Scan" not in plan, plan
