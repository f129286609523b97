"""What the sink sends PostgreSQL per flush (issue 15: fewer statements per flush), read from
libpq's own protocol trace of the sink's one connection: a batch of new measurement keys is
one COPY straight into the table with no savepoint around it; a batch that meets stored keys
still replaces them (staging + upsert) in a transaction of its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import pq
from psycopg_pool import ConnectionPool

from deploy.migrate import migrate
from schemas.measurement import Measurement, PeriodKind
from streams.sink import PgSink, SinkBatch, create_pool

CST = timezone(timedelta(hours=8))
HOUR = datetime(2026, 3, 2, 10, tzinfo=CST)


def minute(device: str, i: int, value: float) -> Measurement:
    return Measurement(
        device_id=device,
        outlet_id="O1",
        factor="a21026",
        factor_as_sent="a21026",
        period=PeriodKind.MINUTE,
        period_start=HOUR + timedelta(minutes=i),
        avg=value,
        flag="N",
        received_at=datetime(2026, 3, 2, 3, tzinfo=UTC),
    )


@pytest.fixture
def one_connection_pool(
    db_conn: psycopg.Connection[Any], pg_schema: Any
) -> Iterator[ConnectionPool]:
    migrate(db_conn)
    pool = create_pool(pg_schema.dsn, max_size=1)
    pool.wait(timeout=30)
    try:
        yield pool
    finally:
        pool.close()


def traced_statements(pool: ConnectionPool, trace: Path, flush: Any) -> list[str]:
    """The SQL texts the pool's connection sent (simple and extended protocol) during
    ``flush()``, from libpq's trace."""
    with trace.open("w") as out:
        with pool.connection() as conn:
            conn.pgconn.trace(out.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            flush()
        finally:
            with pool.connection() as conn:
                conn.pgconn.untrace()
    sent = re.compile(r'^F\s+\d+\s+(?:Query|Parse)\s+(?:"[^"]*"\s+)?"(.*)"', re.MULTILINE)
    return [m.group(1) for m in sent.finditer(trace.read_text(errors="replace"))]


def test_new_keys_are_one_copy_without_savepoint(
    one_connection_pool: ConnectionPool, db_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    sink = PgSink(one_connection_pool)
    batch = SinkBatch(measurements=[minute("MN1", i, 10.0 + i) for i in range(30)])
    sent = traced_statements(one_connection_pool, tmp_path / "new.trace", lambda: sink.flush(batch))
    assert not [s for s in sent if "SAVEPOINT" in s.upper()], sent
    copies = [s for s in sent if s.upper().startswith("COPY")]
    assert len(copies) == 1 and '"measurements"' in copies[0], sent
    assert db_conn.execute("SELECT count(*) FROM measurements").fetchone() == (30,)


def test_a_stored_key_still_replaces_in_a_transaction_of_its_own(
    one_connection_pool: ConnectionPool, db_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    sink = PgSink(one_connection_pool)
    sink.flush(SinkBatch(measurements=[minute("MN1", i, 10.0) for i in range(3)]))
    resent = SinkBatch(measurements=[minute("MN1", i, 20.0) for i in range(5)])
    result = None

    def flush() -> None:
        nonlocal result
        result = sink.flush(resent)

    sent = traced_statements(one_connection_pool, tmp_path / "resent.trace", flush)
    assert result is not None and result.replaced and result.measurements == 5
    assert not [s for s in sent if "SAVEPOINT" in s.upper()], sent
    assert [s for s in sent if s.upper() == "ROLLBACK"], sent
    rows = db_conn.execute("SELECT count(*), min(avg), max(avg) FROM measurements").fetchone()
    assert rows == (5, 20.0, 20.0)
    kept = db_conn.execute("SELECT count(*) FROM measurement_revisions").fetchone()
    assert kept == (3,)
