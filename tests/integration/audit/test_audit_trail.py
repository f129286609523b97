"""The tamper-evident trail: what the services write chains itself; verify is clean; an edit
made directly in SQL as the owner (with or without the triggers), a deletion, an edited trail
entry and a rewritten chain past an anchor are each caught and named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from audit_data import THEIRS
from typer.testing import CliRunner

from greenwatch.cli import app
from runtime.settings import Settings


def _cli(pg_schema: Any, *args: str) -> Any:
    return CliRunner().invoke(app, ["audit", *args], obj=Settings(database_url=pg_schema.dsn))


def test_a_clean_record_verifies(audit_db: psycopg.Connection[Any], pg_schema: Any) -> None:
    # a legitimate life: a verdict re-issued with a new revision, an order lifted
    audit_db.execute(
        "UPDATE verdicts SET status = 'exceedance', value = 40, revision = revision + 1"
        " WHERE enterprise_id = %s",
        (THEIRS["enterprise"],),
    )
    audit_db.execute("UPDATE regulator_orders SET lifted_at = now(), lifted_by = 'regulator'")
    result = _cli(pg_schema, "verify")
    assert result.exit_code == 0, result.output
    assert "trail intact" in result.output
    count = audit_db.execute("SELECT count(*) FROM audit_trail").fetchone()
    assert count is not None and count[0] >= 10


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ("UPDATE verdicts SET status = 'compliant' WHERE enterprise_id = 'E-CM-01'",
         "value or status changed without a new revision"),
        ("UPDATE regulator_orders SET reason = 'nothing happened' WHERE enterprise_id = 'E-CM-01'",
         "an order was rewritten"),
        ("DELETE FROM regulator_orders WHERE enterprise_id = 'E-CM-01'", "the row was deleted"),
        ("ALTER TABLE verdicts DISABLE TRIGGER gw_trail;"
         " UPDATE verdicts SET value = 1 WHERE enterprise_id = 'E-CM-01';"
         " ALTER TABLE verdicts ENABLE TRIGGER gw_trail",
         "the row was changed outside the trail"),
        ("ALTER TABLE alert_events DISABLE TRIGGER USER;"
         " UPDATE alert_events SET actor = 'someone else' WHERE alert_id LIKE 'E-CM-01-K1%';"
         " ALTER TABLE alert_events ENABLE TRIGGER USER",
         "the row was changed outside the trail"),
        ("ALTER TABLE audit_trail DISABLE TRIGGER USER;"
         " UPDATE audit_trail SET content_hash = repeat('0', 64)"
         " WHERE chain = 'regulator_orders:E-CM-01';"
         " ALTER TABLE audit_trail ENABLE TRIGGER USER",
         "the entry itself was altered"),
    ],
    ids=["verdict-status", "order-reason", "order-deleted", "triggers-off", "event-edited",
         "trail-edited"],
)  # fmt: skip
def test_verify_names_the_first_broken_link(
    audit_db: psycopg.Connection[Any], pg_schema: Any, edit: str, reason: str
) -> None:
    assert _cli(pg_schema, "verify").exit_code == 0
    audit_db.execute(edit)  # type: ignore[arg-type]
    result = _cli(pg_schema, "verify")
    assert result.exit_code == 1, result.output
    assert "first broken link" in result.output and reason in result.output
    assert "E-CM-01" in result.output


def test_a_rewritten_chain_is_caught_by_the_anchor(
    audit_db: psycopg.Connection[Any], pg_schema: Any, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.jsonl"
    anchored = _cli(pg_schema, "anchor", "--file", str(anchors))
    assert anchored.exit_code == 0 and "root" in anchored.output
    assert json.loads(anchors.read_text())["heads"]
    # an owner who rewrites a chain consistently (every hash recomputed) passes the walk …
    audit_db.execute("ALTER TABLE audit_trail DISABLE TRIGGER USER")
    audit_db.execute("DELETE FROM audit_trail WHERE chain = 'regulator_orders:E-CM-01'")
    audit_db.execute("ALTER TABLE audit_trail ENABLE TRIGGER USER")
    audit_db.execute("ALTER TABLE regulator_orders DISABLE TRIGGER gw_trail")
    audit_db.execute(
        "UPDATE regulator_orders SET reason = 'rewritten' WHERE enterprise_id = 'E-CM-01'"
    )
    audit_db.execute("ALTER TABLE regulator_orders ENABLE TRIGGER gw_trail")
    audit_db.execute("SET timezone = 'UTC'")  # as the trigger renders times
    audit_db.execute(
        "SELECT gw_trail_append('regulator_orders', 'INSERT', to_jsonb(o))"
        " FROM regulator_orders o WHERE enterprise_id = 'E-CM-01'"
    )
    assert _cli(pg_schema, "verify").exit_code == 0
    # … but not the anchor
    caught = _cli(pg_schema, "verify", "--anchors", str(anchors))
    assert caught.exit_code == 1
    assert "regulator_orders:E-CM-01" in caught.output and "anchored head" in caught.output


def test_verify_and_anchor_mistakes_exit_2(
    audit_db: psycopg.Connection[Any], pg_schema: Any, tmp_path: Path
) -> None:
    missing = _cli(pg_schema, "verify", "--anchors", str(tmp_path / "none.jsonl"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n")
    bad = _cli(pg_schema, "verify", "--anchors", str(garbage))
    assert bad.exit_code == 2 and "line 1 is not an anchor record" in bad.output
    nowhere = _cli(pg_schema, "anchor", "--file", str(tmp_path / "no" / "dir" / "a.jsonl"))
    assert nowhere.exit_code == 2 and "cannot append" in nowhere.output
