"""The plans' consequences at the edges: verdicts to the alert service over Kafka, rows in
``plan_consequences``, and the credit-system list (``greenwatch plan credit-list``).

Kafka: one idempotent producer (``acks=all``, client id ``greenwatch-plan``) per call of
``publish_verdicts``, writing ``<prefix>.verdicts`` keyed by subject as the stream workers do;
returns once every record is acknowledged, raises ``kafka.errors.KafkaError`` otherwise.

Credit list (征信/信用记录, Guizhou plan): per enterprise and year, every missed plan target
(``subsidy_loss``) and every alert of the year that reached exceedance or above on an emission
or energy rule (bad emission and energy records), one CSV row each, stored as
``credit_entry`` rows too so the list can be audited.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaProducer
from psycopg.types.json import Jsonb

from runtime.kafka_access import KafkaAccess
from runtime.topics import catalogue_topics, ensure_topics
from schemas.topics import Topic, topic_name
from schemas.verdict import Verdict
from streams.domain.periods import day_start_of
from streams.domain.plan_consequences import Consequence


def publish_verdicts(kafka: KafkaAccess, prefix: str, verdicts: Sequence[Verdict]) -> int:
    """Send ``verdicts`` to the verdicts topic (as the ``plan`` principal: write on that topic
    only, ``runtime.kafka_acls``) and wait for every acknowledgement."""
    ensure_topics(kafka, catalogue_topics(prefix, [Topic.VERDICTS]), client_id="greenwatch-plan")
    producer = KafkaProducer(
        **kafka.client_config(), client_id="greenwatch-plan", acks="all",
        enable_idempotence=True,
    )  # fmt: skip
    try:
        topic = topic_name(prefix, Topic.VERDICTS)
        futures = [
            producer.send(topic, key=v.outlet_id.encode(), value=v.model_dump_json().encode())
            for v in verdicts
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close(timeout=10)
    return len(verdicts)


_CONSEQUENCE = """
INSERT INTO plan_consequences AS t (kind, subject_kind, subject_id, basis, year, subject_name,
    region_code, addressee, reason, evidence, first_seen, last_seen)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (kind, subject_kind, subject_id, basis, year) DO UPDATE SET
    subject_name = EXCLUDED.subject_name, region_code = EXCLUDED.region_code,
    addressee = EXCLUDED.addressee, reason = EXCLUDED.reason, evidence = EXCLUDED.evidence,
    first_seen = least(t.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(t.last_seen, EXCLUDED.last_seen)
"""


def store_consequences(
    conn: psycopg.Connection[Any], found: Sequence[Consequence], seen: date
) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            _CONSEQUENCE,
            [
                (c.kind, c.subject_kind, c.subject_id, c.basis, c.year, c.subject_name,
                 c.region_code, c.addressee, c.reason, Jsonb(c.evidence), seen, seen)
                for c in found
            ],
        )  # fmt: skip


_BAD_RECORDS = """
SELECT a.enterprise_id, coalesce(e.name, a.enterprise_id), coalesce(e.region_code, ''),
       ev.rule, max(ev.level), count(DISTINCT (ev.alert_id, ev.episode)), min(ev.at), max(ev.at),
       array_agg(DISTINCT ev.alert_id)
  FROM alert_events ev
  JOIN alerts a ON a.alert_id = ev.alert_id
  LEFT JOIN enterprises e ON e.enterprise_id = a.enterprise_id
 WHERE ev.at >= %s AND ev.at < %s AND ev.level >= 2 AND ev.rule <> 'plan_progress'
 GROUP BY a.enterprise_id, e.name, e.region_code, ev.rule
 ORDER BY a.enterprise_id, ev.rule
"""

CREDIT_COLUMNS = (
    "year", "enterprise_id", "enterprise_name", "region_code", "record", "basis",
    "highest_level", "episodes", "first_at", "last_at", "reason", "evidence",
)  # fmt: skip


def credit_entries(conn: psycopg.Connection[Any], year: int) -> list[dict[str, Any]]:
    """The credit-system entries of ``year`` (see the module doc), oldest rule first."""
    start, end = day_start_of(date(year, 1, 1)), day_start_of(date(year + 1, 1, 1))
    rows: list[dict[str, Any]] = []
    for enterprise, name, region, rule, level, episodes, first, last, ids in conn.execute(
        _BAD_RECORDS, (start, end)
    ).fetchall():
        record = "energy" if str(rule).startswith("energy_") else "emission"
        rows.append(_entry(year, enterprise, name, region, record, rule, level, episodes,
                           first, last, f"{episodes} alert episode(s) at exceedance or above",
                           {"alerts": sorted(ids)}))  # fmt: skip
    for subject, name, region, basis, reason, evidence, first, last in conn.execute(
        """SELECT subject_id, subject_name, region_code, basis, reason, evidence, first_seen,
                  last_seen FROM plan_consequences
            WHERE kind = 'subsidy_loss' AND year = %s ORDER BY subject_id, basis""",
        (year,),
    ).fetchall():
        rows.append(_entry(year, subject, name, region, "plan_target", basis, None, None,
                           first, last, reason, evidence))  # fmt: skip
    return rows


def _entry(year: int, enterprise: str, name: str, region: str, record: str, basis: str,
           level: int | None, episodes: int | None, first: date | datetime,
           last: date | datetime, reason: str, evidence: Any) -> dict[str, Any]:  # fmt: skip
    return dict(zip(CREDIT_COLUMNS, (year, enterprise, name, region, record, basis, level,
                                     episodes, first.isoformat(), last.isoformat(), reason,
                                     json.dumps(evidence, ensure_ascii=False, default=str)),
                    strict=True))  # fmt: skip


def store_credit_entries(conn: psycopg.Connection[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Upsert the entries as ``credit_entry`` consequences (their evidence kept)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            _CONSEQUENCE,
            [
                ("credit_entry", "enterprise", r["enterprise_id"], f"{r['record']}:{r['basis']}",
                 r["year"], r["enterprise_name"], r["region_code"], None, r["reason"],
                 Jsonb(json.loads(r["evidence"])), r["first_at"][:10], r["last_at"][:10])
                for r in rows
            ],
        )  # fmt: skip


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """UTF-8 with BOM (opens in the spreadsheet programs regulators use), one header row."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CREDIT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
