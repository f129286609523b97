"""The revision tables of migration 007 repeat the columns of the tables they keep the history
of (002): a column added to ``measurements``, ``aggregates`` or ``verdicts`` but not to its
revision table (or not copied by the sink, ``streams.revisions``) would silently drop from
every superseded version. Compared on a migrated schema of each flavor, from
information_schema."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from deploy.migrate import Flavor, migrate
from streams import revisions

# table → (its revision table, the columns only the revision table has: what a superseded
# version records about its superseding, docs/database.md "Revision history")
REVISED = {
    "measurements": (
        "measurement_revisions",
        {"revision_id", "superseded_at", "superseded_by_received_at", "reason", "source_topic",
         "source_partition", "source_offset"},
    ),
    "aggregates": ("aggregate_revisions", {"revision_id", "superseded_at", "reason", "source"}),
    "verdicts": (
        "verdict_revisions",
        {"revision_id", "superseded_at", "superseded_by", "reason", "source"},
    ),
}  # fmt: skip
# the columns the sink copies into each revision table (streams/revisions.py)
COPIED = {
    "measurements": revisions._MEASUREMENT_PRIOR,
    "aggregates": revisions._AGGREGATE_PRIOR,
    "verdicts": revisions._VERDICT_PRIOR,
}


def _columns(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _disagreements(conn: psycopg.Connection[Any]) -> list[str]:
    """Each way a revision table (or the sink's copy) fails to keep its table's columns."""
    found: list[str] = []
    for table, (revision_table, own) in REVISED.items():
        kept, revised = _columns(conn, table), _columns(conn, revision_table)
        assert kept and revised, f"{table} or {revision_table} not migrated"
        for column, kind in sorted(kept.items()):
            if revised.get(column) != kind:
                found.append(
                    f"{table}.{column} ({kind}): {revision_table} has {revised.get(column)}"
                )
        for column in sorted(set(revised) - set(kept) - own):
            found.append(f"{revision_table}.{column}: not a column of {table}")
        copied = {c.strip() for c in COPIED[table].split(",")}
        for column in sorted(set(kept) - copied):
            found.append(f"{table}.{column}: streams.revisions does not copy it")
    return found


def test_every_revision_table_keeps_every_column_of_its_table(
    db_conn: psycopg.Connection[Any], flavor: Flavor
) -> None:
    migrate(db_conn, flavor)
    assert _disagreements(db_conn) == []


@pytest.mark.parametrize("table", sorted(REVISED))
def test_a_column_added_to_a_table_alone_is_caught(
    db_conn: psycopg.Connection[Any], table: str
) -> None:
    migrate(db_conn, Flavor.PLAIN)
    db_conn.execute(f"ALTER TABLE {table} ADD COLUMN operator_note text")
    assert _disagreements(db_conn) == [
        f"{table}.operator_note (text): {REVISED[table][0]} has None",
        f"{table}.operator_note: streams.revisions does not copy it",
    ]
