"""The PostgreSQL sink against the real database: upserts on natural keys, revisions, dead
letters once per Kafka position, the hourly rollup on both flavors, and what it sends per
flush (issue 15: fewer statements), read from libpq's own protocol trace of its connection: a
batch of new measurement keys is one COPY straight into the table with no savepoint; a batch
that meets stored keys still replaces them (staging + upsert) in a transaction of its own."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import pq, sql
from psycopg_pool import ConnectionPool

from deploy.migrate import Flavor, migrate
from schemas.envelope import DeadLetter
from schemas.measurement import AggregateValue, Measurement, PeriodKind
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.domain.frames import frames_of
from streams.measurement_copy import MEASUREMENT_COLUMNS
from streams.sink import KeyedDeadLetter, PgSink, SinkBatch, SourcePosition, create_pool
from streams.upserts import measurement_rows

CST = timezone(timedelta(hours=8))
HOUR = datetime(2026, 3, 2, 10, tzinfo=CST)


def minute(i: int, value: float, flag: str = "N") -> Measurement:
    return Measurement(
        device_id="MN1",
        outlet_id="O1",
        factor="a21026",
        factor_as_sent="a21026",
        period=PeriodKind.MINUTE,
        period_start=HOUR + timedelta(minutes=i),
        avg=value,
        flag=flag,
        received_at=datetime(2026, 3, 2, 3, tzinfo=UTC),
    )


def verdict(value: float, status: VerdictStatus, evidence: dict[str, Any]) -> Verdict:
    return Verdict(
        enterprise_id="E1",
        outlet_id="O1",
        factor="a21026",
        rule=Rule.HOURLY_CONCENTRATION,
        period=PeriodKind.HOUR,
        period_start=HOUR,
        value=value,
        limit=35.0,
        ratio=value / 35.0,
        status=status,
        evidence=evidence,
        registry_version="v1",
    )


def hourly(mean: float) -> AggregateValue:
    return AggregateValue(
        outlet_id="O1",
        device_id="MN1",
        factor="a21026",
        period=PeriodKind.HOUR,
        period_start=HOUR,
        valid=True,
        valid_count=60,
        invalid_count=0,
        flag_counts={"N": 60},
        mean=mean,
        registry_version="v1",
    )


def test_replayed_batch_changes_no_row(
    sink_pool: ConnectionPool, db_conn: psycopg.Connection[Any]
) -> None:
    sink = PgSink(sink_pool)
    batch = SinkBatch(
        measurements=[minute(i, 10.0 + i) for i in range(60)] + [minute(0, 99.0)],
        aggregates=[hourly(39.5)],
        verdicts=[verdict(20.0, VerdictStatus.COMPLIANT, {"valid_minutes": 60})],
    )
    first = sink.flush(batch)
    second = sink.flush(batch)
    assert first.measurements == 60  # the re-sent minute 0 replaced the first in the batch
    assert (first.replaced, second.replaced) == (False, True)
    assert (
        second.revisions == first.revisions == {("O1", "a21026", "hourly_concentration", HOUR): 1}
    )
    rows = db_conn.execute(
        "SELECT count(*), max(avg) FILTER (WHERE period_start = %s) FROM measurements", (HOUR,)
    ).fetchone()
    assert rows == (60, 99.0)
    assert db_conn.execute("SELECT count(*) FROM aggregates").fetchone() == (1,)
    rollup = db_conn.execute(
        "SELECT samples, max_value FROM measurement_hourly WHERE device_id = 'MN1'"
    ).fetchall()
    assert rollup == [(60, 99.0)]


def test_verdict_revision_counts_only_changed_judgements(
    sink_pool: ConnectionPool, db_conn: psycopg.Connection[Any]
) -> None:
    sink = PgSink(sink_pool)
    key = ("O1", "a21026", "hourly_concentration", HOUR)
    sink.flush(SinkBatch(verdicts=[verdict(20.0, VerdictStatus.COMPLIANT, {"n": 50})]))
    same = sink.flush(SinkBatch(verdicts=[verdict(20.0, VerdictStatus.COMPLIANT, {"n": 51})]))
    changed = sink.flush(SinkBatch(verdicts=[verdict(40.0, VerdictStatus.EXCEEDANCE, {"n": 60})]))
    assert same.revisions[key] == 1
    assert changed.revisions[key] == 2
    row = db_conn.execute("SELECT status, revision, evidence FROM verdicts").fetchone()
    assert row == ("exceedance", 2, {"n": 60})


def test_dead_letter_is_stored_once_per_kafka_position(
    sink_pool: ConnectionPool, db_conn: psycopg.Connection[Any]
) -> None:
    sink = PgSink(sink_pool)
    letter = DeadLetter(
        source="streams.hj212",
        reason="bad_crc",
        message="CRC does not match",
        device_id="MN1",
        received_at=datetime(2026, 3, 2, 3, tzinfo=UTC),
        payload=b"##0010garbage\x00\r\n",
    )
    at = SourcePosition("gw.raw.hj212", 2, 41)
    first = sink.flush(SinkBatch(dead_letters=[KeyedDeadLetter(letter, at)]))
    again = sink.flush(SinkBatch(dead_letters=[KeyedDeadLetter(letter, at)]))
    assert (first.dead_letters, again.dead_letters) == (1, 0)
    row = db_conn.execute("SELECT reason, payload, source_offset FROM dead_letters").fetchall()
    assert row == [("bad_crc", b"##0010garbage\x00\r\n", 41)]


def test_hourly_rollup_takes_a_late_minute_on_both_flavors(
    db_conn: psycopg.Connection[Any],
    pg_schema: Any,
    flavor: Flavor,
    run_refresh_policy: Callable[[psycopg.Connection[Any]], None],
) -> None:
    """plain: the sink recomputes the touched device-hours in its transaction; TimescaleDB: the
    continuous aggregate's refresh policy does, however old the hour."""
    migrate(db_conn, flavor)
    pool = create_pool(pg_schema.dsn)
    try:
        sink = PgSink(pool)
        sink.flush(
            SinkBatch(measurements=[minute(i, 10.0) for i in range(59)], aggregates=[hourly(10.0)])
        )
        if flavor is Flavor.TIMESCALEDB:
            run_refresh_policy(db_conn)
        query = "SELECT samples, max_value FROM measurement_hourly WHERE device_id = 'MN1'"
        assert db_conn.execute(query).fetchall() == [(59, 10.0)]
        sink.flush(SinkBatch(measurements=[minute(59, 70.0)], aggregates=[hourly(11.0)]))
        if flavor is Flavor.TIMESCALEDB:
            run_refresh_policy(db_conn)
        assert db_conn.execute(query).fetchall() == [(60, 70.0)]
    finally:
        pool.close()


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


def traced(pool: ConnectionPool, trace: Path, flush: Any) -> str:
    """libpq's protocol trace of the pool's connection during ``flush()``."""
    with trace.open("w") as out:
        with pool.connection() as conn:
            conn.pgconn.trace(out.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            flush()
        finally:
            with pool.connection() as conn:
                conn.pgconn.untrace()
    return trace.read_text(errors="replace")


def traced_statements(pool: ConnectionPool, trace: Path, flush: Any) -> list[str]:
    """The SQL texts the pool's connection sent (simple and extended protocol) during
    ``flush()``, from libpq's trace."""
    sent = re.compile(r'^F\s+\d+\s+(?:Query|Parse)\s+(?:"[^"]*"\s+)?"(.*)"', re.MULTILINE)
    return [m.group(1) for m in sent.finditer(traced(pool, trace, flush))]


def round_trips(trace: str) -> int:
    """How often the client waited for the server: a run of frontend (``F``) messages in
    libpq's trace followed by a backend (``B``) one."""
    sides = re.findall(r"^([FB])\s", trace, re.MULTILINE)
    return sum(1 for sent, answer in itertools.pairwise(sides) if (sent, answer) == ("F", "B"))


def test_new_keys_are_one_copy_without_savepoint(
    one_connection_pool: ConnectionPool, db_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    sink = PgSink(one_connection_pool)
    batch = SinkBatch(measurements=[minute(i, 10.0 + i) for i in range(30)])
    sent = traced_statements(one_connection_pool, tmp_path / "new.trace", lambda: sink.flush(batch))
    assert not [s for s in sent if "SAVEPOINT" in s.upper()], sent
    copies = [s for s in sent if s.upper().startswith("COPY")]
    assert len(copies) == 1 and '"measurements"' in copies[0], sent
    assert db_conn.execute("SELECT count(*) FROM measurements").fetchone() == (30,)


def test_a_stored_key_still_replaces_in_a_transaction_of_its_own(
    one_connection_pool: ConnectionPool, db_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    sink = PgSink(one_connection_pool)
    sink.flush(SinkBatch(measurements=[minute(i, 10.0) for i in range(3)]))
    resent = SinkBatch(measurements=[minute(i, 20.0) for i in range(5)])
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


def closing_hour(devices: int, value: float) -> SinkBatch:
    """A batch in which an hour closes: the devices' last minute, their hourly values and
    verdicts (trail trigger), so the rollup refresh runs too."""
    batch = SinkBatch()
    for index in range(devices):
        device, outlet = f"MN{index}", f"O{index}"
        last = minute(59, value)._replace(device_id=device, outlet_id=outlet)
        batch.measurements.append(last)
        batch.sources[(device, last.factor, last.period, last.period_start)] = SourcePosition(
            "gw.raw.hj212", 0, index
        )
        batch.aggregates.append(
            hourly(value).model_copy(update={"outlet_id": outlet, "device_id": device})
        )
        batch.verdicts.append(
            verdict(value, VerdictStatus.COMPLIANT, {"valid_minutes": 60}).model_copy(
                update={"outlet_id": outlet}
            )
        )
    return batch


def test_a_closing_hours_flush_pipelines_its_upserts(
    one_connection_pool: ConnectionPool, db_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    """Issue 15 (batch slice): the revision inserts, upserts and the rollup refresh of a
    closing hour go in one pipeline: BEGIN, three COPYs (two waits each), the pipeline's one
    sync, COMMIT = 9 waits for the server (13 when each statement waited for its answer)."""
    sink = PgSink(one_connection_pool)
    result = None

    def flush() -> None:
        nonlocal result
        result = sink.flush(closing_hour(4, 20.0))

    trace = traced(one_connection_pool, tmp_path / "closing.trace", flush)
    assert result is not None and (result.measurements, result.aggregates) == (4, 4)
    assert result.revisions == {
        (f"O{i}", "a21026", "hourly_concentration", HOUR): 1 for i in range(4)
    }
    assert round_trips(trace) <= 9, trace
    assert db_conn.execute("SELECT count(*) FROM aggregates").fetchone() == (4,)
    assert db_conn.execute("SELECT count(*) FROM audit_trail").fetchone() == (4,)
    rollup = db_conn.execute("SELECT count(*) FROM measurement_hourly").fetchone()
    assert rollup == (4,)
    # the same hour again with other values: the superseded versions and new revisions
    # come back through the pipeline as they did statement by statement
    again = sink.flush(closing_hour(4, 40.0))
    assert again.replaced and set(again.revisions.values()) == {2}
    kept = db_conn.execute(
        "SELECT (SELECT count(*) FROM aggregate_revisions), (SELECT count(*) FROM"
        " verdict_revisions), (SELECT count(*) FROM measurement_revisions)"
    ).fetchone()
    assert kept == (4, 4, 4)


def test_a_flush_composes_no_sql(
    one_connection_pool: ConnectionPool,
    db_conn: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15 (batch slice): the COPY and upsert statements are composed and quoted once,
    not for every batch (a fixed client cost of each flush); what is stored is the same,
    a verdict's evidence with non-ASCII text and nested values included."""
    sink = PgSink(one_connection_pool)
    sink.flush(closing_hour(2, 20.0))  # the first flush may compose (import, caches)
    composed: list[str] = []
    as_bytes = sql.Composed.as_bytes

    def counted(self: sql.Composed, context: Any = None) -> bytes:
        composed.append(repr(self)[:80])
        return as_bytes(self, context)

    monkeypatch.setattr(sql.Composed, "as_bytes", counted)
    batch = closing_hour(2, 30.0)
    evidence = {"valid_minutes": 60, "note": "烟尘 超标", "flags": {"N": 59, "D": 1}, "r": 0.1}
    batch.verdicts = [v.model_copy(update={"evidence": evidence}) for v in batch.verdicts]
    sink.flush(batch)
    assert composed == []
    stored = db_conn.execute("SELECT DISTINCT evidence FROM verdicts").fetchall()
    assert stored == [(evidence,)]


@pytest.mark.parametrize("client_encoding", ["UTF8", "LATIN1"])
def test_a_batch_of_frames_stores_every_column_as_its_rows(
    one_connection_pool: ConnectionPool, db_conn: psycopg.Connection[Any], client_encoding: str
) -> None:
    """The usual batch (one source per measurement: new keys, each once) is written from its
    frames' COPY bytes (``streams.measurement_copy``, UTF-8 text): every column reads back as
    the rows, whatever client encoding the sink's session had."""
    with one_connection_pool.connection() as conn:
        conn.execute(sql.SQL("SET client_encoding TO {}").format(sql.Literal(client_encoding)))
    received = datetime(2026, 3, 2, 3, 0, 1, 123_456, tzinfo=UTC)
    frames = [
        [
            Measurement(f"MNé{d}", f, f"0{n}", PeriodKind.MINUTE, HOUR + timedelta(minutes=d),
                        received, 1, None if d else "O1", rtd=-1.25 * n, avg=None,
                        min=0.5, max=float(n), cou=None if n else 3.0, zs_rtd=2.0,
                        zs_avg=None, flag="NDM"[n], qn=None if d else "20260302100000123")
            for n, f in enumerate(("a21026", "a21002", "a34013"))
        ]
        for d in range(2)
    ]  # fmt: skip
    measurements = [m for frame in frames for m in frame]
    position = SourcePosition("gw.raw.hj212", 0, 7)
    batch = SinkBatch(
        measurements=measurements,
        sources={(m.device_id, m.factor, m.period, m.period_start): position for m in measurements},
        frames=frames_of(measurements),
    )
    assert PgSink(one_connection_pool).flush(batch).measurements == 6
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in MEASUREMENT_COLUMNS)
    stored = db_conn.execute(
        sql.SQL("SELECT {} FROM measurements ORDER BY device_id, factor").format(columns)
    ).fetchall()
    expected = sorted(measurement_rows(measurements), key=lambda row: (row[0], row[1]))
    assert stored == expected
