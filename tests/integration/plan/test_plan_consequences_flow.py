"""Consequences end to end (issue 10 item 3): ``plan progress --publish`` sends the plan
verdicts to the real Kafka verdicts topic in the form the alert service decodes, stores the
限批缓批 recommendation of a red region in ``plan_consequences``; ``plan credit-list`` exports
the year's bad emission and energy records and missed targets as CSV."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer
from plan_support import AS_OF, CHINA, prepared, seed_year
from services import PgSchema, Services, kafka_config
from typer.testing import CliRunner

from alerts.service import decode
from greenwatch.cli import app
from runtime.settings import Settings
from schemas.topics import Topic, topic_name
from schemas.verdict import Rule, Verdict


def test_publish_stores_consequences_and_the_alert_service_can_read_them(
    services: Services, topic_prefix: str, pg_schema: PgSchema, db_conn: psycopg.Connection[Any]
) -> None:
    prepared(db_conn)
    seed_year(db_conn)
    settings = Settings(database_url=pg_schema.dsn, kafka_bootstrap=services.kafka_bootstrap,
                        topic_prefix=topic_prefix)  # fmt: skip
    result = CliRunner().invoke(
        app, ["plan", "progress", "--region", "520000", "--as-of", AS_OF.isoformat(),
              "--publish"], obj=settings,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"to {topic_prefix}.verdicts" in result.output
    topic = topic_name(topic_prefix, Topic.VERDICTS)
    consumer = KafkaConsumer(topic, **kafka_config(services.kafka_bootstrap),
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)  # fmt: skip
    records = list(consumer)
    consumer.close()
    verdicts = [decode(r.topic, topic, r.partition, r.offset, r.value) for r in records]
    assert all(isinstance(v, Verdict) for v in verdicts)
    by = {(v.outlet_id, v.factor): v for v in verdicts if isinstance(v, Verdict)}
    province = by[("region:520000", "gz-energy-per-va-2018")]
    assert province.rule is Rule.PLAN_PROGRESS
    assert province.status.value == "exceedance"
    assert province.evidence["addressee"] == "贵州省发展和改革委员会 (demo)"
    stored = db_conn.execute(
        "SELECT kind, addressee FROM plan_consequences WHERE subject_id = '520000'"
        " AND basis = 'gz-energy-per-va-2018' AND year = 2026"
    ).fetchall()
    assert stored == [("restrict_approvals", "贵州省发展和改革委员会 (demo)")]


def _alert(conn: psycopg.Connection[Any], alert_id: str, enterprise: str, rule: str,
           level: int, at: datetime) -> None:  # fmt: skip
    conn.execute(
        """INSERT INTO alerts (alert_id, subject, factor, rule, enterprise_id, state, level,
               episode, basis, registry_version) VALUES (%s, %s, 'f', %s, %s, 'firing', %s, 1,
               'exceedance', 'v') ON CONFLICT DO NOTHING""",
        (alert_id, alert_id, rule, enterprise, level),
    )
    conn.execute(
        """INSERT INTO alert_events (alert_id, episode, at, kind, actor, level, state, rule,
               registry_version) VALUES (%s, 1, %s, 'opened', 'alerts', %s, 'firing', %s, 'v')""",
        (alert_id, at, level, rule),
    )


def test_credit_list_exports_bad_records_and_missed_targets(
    pg_schema: PgSchema, db_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    prepared(db_conn)
    _alert(db_conn, "a1", "E-CM-01", "hourly_concentration", 3, datetime(2026, 3, 1, tzinfo=CHINA))
    _alert(db_conn, "a2", "E-CM-01", "energy_quota", 2, datetime(2026, 4, 1, tzinfo=CHINA))
    _alert(db_conn, "a3", "E-TP-01", "hourly_concentration", 1, datetime(2026, 4, 1, tzinfo=CHINA))
    _alert(db_conn, "a4", "E-TP-01", "daily_load", 2, datetime(2025, 4, 1, tzinfo=CHINA))
    db_conn.execute(
        """INSERT INTO plan_consequences (kind, subject_kind, subject_id, basis, year,
               subject_name, region_code, reason, first_seen, last_seen)
           VALUES ('subsidy_loss', 'enterprise', 'E-TP-01', 'gz-energy-per-va-2018', 2026,
               '黔中示范火电厂', '520100', 'intensity rose (不降反升)', '2026-08-31',
               '2026-08-31')"""
    )
    out = tmp_path / "credit.csv"
    settings = Settings(database_url=pg_schema.dsn)
    result = CliRunner().invoke(app, ["plan", "credit-list", "--year", "2026", "--out", str(out)],
                                obj=settings)  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    got = [(r["enterprise_id"], r["record"], r["basis"], r["highest_level"]) for r in rows]
    # a3 (a warning) and a4 (2025) are not credit records.
    assert got == [
        ("E-CM-01", "energy", "energy_quota", "2"),
        ("E-CM-01", "emission", "hourly_concentration", "3"),
        ("E-TP-01", "plan_target", "gz-energy-per-va-2018", ""),
    ]
    assert rows[0]["enterprise_name"] == "示范水泥有限公司 (demo cement)"
    stored = db_conn.execute(
        "SELECT count(*) FROM plan_consequences WHERE kind = 'credit_entry' AND year = 2026"
    ).fetchone()
    assert stored == (3,)
    bad = CliRunner().invoke(app, ["plan", "credit-list", "--year", "2026", "--out",
                                   str(tmp_path / "nope" / "x.csv")], obj=settings)  # fmt: skip
    assert bad.exit_code == 2 and "does not exist" in bad.output
