"""Revision history against the real database, on both flavors (issue 13 item 1): a re-sent
hour keeps its first minutes, hourly value and verdict readable beside the current ones, with
when, why and the raw-topic position; a replayed batch adds nothing; the history is
append-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from schemas.measurement import AggregateValue, Measurement, PeriodKind
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.revisions import aggregate_history, measurement_history, verdict_history
from streams.sink import PgSink, SinkBatch, SourcePosition

CST = timezone(timedelta(hours=8))
HOUR = datetime(2026, 3, 2, 10, tzinfo=CST)
RAW = "gw.raw.hj212"
FIRST_AT = datetime(2026, 3, 2, 3, 5, tzinfo=UTC)
RESENT_AT = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


def minutes(value: float, received_at: datetime) -> list[Measurement]:
    return [
        Measurement(
            device_id="MN1",
            outlet_id="O1",
            factor="a21026",
            factor_as_sent="a21026",
            period=PeriodKind.MINUTE,
            period_start=HOUR + timedelta(minutes=i),
            avg=value,
            received_at=received_at,
        )
        for i in range(60)
    ]


def sources(batch: list[Measurement], first_offset: int) -> dict[Any, SourcePosition]:
    return {
        (m.device_id, m.factor, m.period.value, m.period_start): SourcePosition(
            RAW, 1, first_offset + i
        )
        for i, m in enumerate(batch)
    }


def hourly(mean: float) -> AggregateValue:
    return AggregateValue(
        outlet_id="O1", device_id="MN1", factor="a21026", period=PeriodKind.HOUR,
        period_start=HOUR, valid=True, valid_count=60, invalid_count=0,
        flag_counts={"N": 60}, mean=mean, registry_version="v1",
    )  # fmt: skip


def verdict(value: float, status: VerdictStatus, evidence: dict[str, Any]) -> Verdict:
    return Verdict(
        enterprise_id="E1", outlet_id="O1", factor="a21026", rule=Rule.HOURLY_CONCENTRATION,
        period=PeriodKind.HOUR, period_start=HOUR, value=value, limit=35.0,
        ratio=value / 35.0, status=status, evidence=evidence, registry_version="v1",
    )  # fmt: skip


def first_batch() -> SinkBatch:
    sent = minutes(100.0, FIRST_AT)
    return SinkBatch(
        measurements=sent,
        aggregates=[hourly(100.0)],
        verdicts=[verdict(100.0, VerdictStatus.EXCEEDANCE, {"valid_minutes": 60})],
        sources=sources(sent, 1000),
    )


def resent_batch() -> SinkBatch:
    sent = minutes(5.0, RESENT_AT)
    return SinkBatch(
        measurements=sent,
        aggregates=[hourly(5.0)],
        verdicts=[
            verdict(5.0, VerdictStatus.COMPLIANT, {"valid_minutes": 60, "resent_values": 60})
        ],
        sources=sources(sent, 5000),
    )


@pytest.mark.integration
def test_a_rewritten_hour_keeps_both_values_with_when_why_and_where(
    flavored_pool: ConnectionPool, db_conn: psycopg.Connection[Any]
) -> None:
    sink = PgSink(flavored_pool)
    sink.flush(first_batch())
    sink.flush(resent_batch())

    versions = measurement_history(db_conn, "MN1", "a21026", "minute", HOUR)
    assert [(v["avg"], v["current"]) for v in versions] == [(100.0, False), (5.0, True)]
    prior = versions[0]
    assert prior["reason"] == "resent" and prior["received_at"] == FIRST_AT
    assert (prior["source_topic"], prior["source_partition"], prior["source_offset"]) == (
        RAW, 1, 5000,
    )  # fmt: skip
    assert prior["superseded_at"] is not None

    hours = aggregate_history(db_conn, "O1", "a21026", "hour", HOUR)
    assert [(h["mean"], h["current"]) for h in hours] == [(100.0, False), (5.0, True)]
    assert hours[0]["reason"] == "late_or_resent_data"
    assert hours[0]["source"] == {
        "positions": [{"topic": RAW, "partition": 1, "first": 5000, "last": 5059}]
    }

    judged = verdict_history(db_conn, "O1", "a21026", "hourly_concentration", HOUR)
    assert [(j["revision"], j["status"], j["value"], j["current"]) for j in judged] == [
        (1, "exceedance", 100.0, False),
        (2, "compliant", 5.0, True),
    ]
    assert judged[0]["reason"] == "resent"
    assert judged[0]["evidence"] == {"valid_minutes": 60}


@pytest.mark.integration
def test_a_replayed_batch_adds_no_revision(
    flavored_pool: ConnectionPool, db_conn: psycopg.Connection[Any]
) -> None:
    sink = PgSink(flavored_pool)
    sink.flush(first_batch())
    sink.flush(first_batch())
    counts = db_conn.execute(
        "SELECT (SELECT count(*) FROM measurement_revisions),"
        " (SELECT count(*) FROM aggregate_revisions), (SELECT count(*) FROM verdict_revisions)"
    ).fetchone()
    assert counts == (0, 0, 0)


@pytest.mark.integration
@pytest.mark.parametrize(
    "table", ["measurement_revisions", "aggregate_revisions", "verdict_revisions"]
)
def test_the_history_cannot_be_rewritten(
    sink_pool: ConnectionPool, db_conn: psycopg.Connection[Any], table: str
) -> None:
    sink = PgSink(sink_pool)
    sink.flush(first_batch())
    sink.flush(resent_batch())
    for statement in (f"UPDATE {table} SET reason = reason", f"DELETE FROM {table}"):
        refused = pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only")
        with refused, db_conn.transaction():
            db_conn.execute(statement)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), db_conn.transaction():
        db_conn.execute(f"TRUNCATE {table}")
    assert db_conn.execute(f"SELECT count(*) FROM {table}").fetchone() != (0,)
