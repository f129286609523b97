"""The database half of "enforced twice": hand-written SQL under each API role, with the
scope the API would set, cannot read another enterprise's or region's rows of any table the
API serves, whatever the query says (migration 009's row-level security and scoped view)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from audit_data import OURS, THEIRS
from psycopg import sql

from audit.db import enter_scope
from audit.principal import Principal, Role

# table → a condition selecting "their" rows (and "ours" with the other mark).
TABLES = {
    "enterprises": "enterprise_id = %(e)s",
    "outlets": "enterprise_id = %(e)s",
    "devices": "outlet_id = %(o)s",
    "outlet_limits": "outlet_id = %(o)s",
    "measurements_scoped": "outlet_id = %(o)s",
    "aggregates": "outlet_id = %(o)s",
    "verdicts": "enterprise_id = %(e)s",
    "alerts": "enterprise_id = %(e)s",
    "alert_events": "alert_id LIKE %(o)s || '/%%'",
    "regulator_orders": "enterprise_id = %(e)s",
    "notification_outbox": "enterprise_id = %(e)s",
    "notification_deliveries": "outbox_id IN (SELECT outbox_id FROM notification_outbox"
    " WHERE enterprise_id = %(e)s)",
    "energy_consumption": "enterprise_id = %(e)s",
    "energy_intensities": "enterprise_id = %(e)s",
    "dead_letters": "device_id = %(d)s",
    # the revision history (migration 007), scoped by migration 012
    "measurement_revisions": "outlet_id = %(o)s",
    "aggregate_revisions": "outlet_id = %(o)s",
    "verdict_revisions": "enterprise_id = %(e)s",
    # an entity's history through migration 007's views, which run with the reader's rights
    # (security_invoker, migration 016): the policies of the tables under them apply
    "aggregate_versions": "outlet_id = %(o)s",
    "verdict_versions": "enterprise_id = %(e)s",
}
PRINCIPALS = {
    Role.ENTERPRISE: Principal(Role.ENTERPRISE, OURS["enterprise"]),
    Role.REGULATOR: Principal(Role.REGULATOR, regions=("5201",)),
    Role.AUDITOR: Principal(Role.AUDITOR, regions=("5201",)),
}


def _count(conn: psycopg.Connection[Any], table: str, who: dict[str, str]) -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE ").format(sql.Identifier(table))
    marks = {"e": who["enterprise"], "o": who["outlet"], "d": who["device"]}
    row = conn.execute(query + sql.SQL(TABLES[table]), marks).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row else 0


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_hand_written_sql_under_an_api_role_sees_only_its_scope(
    audit_db: psycopg.Connection[Any], role: Role
) -> None:
    for table in TABLES:
        assert _count(audit_db, table, THEIRS) > 0, f"the owner sees their {table}"
        with audit_db.transaction():
            enter_scope(audit_db, PRINCIPALS[role])
            try:
                with audit_db.transaction():
                    theirs = _count(audit_db, table, THEIRS)
                    ours = _count(audit_db, table, OURS)
            except psycopg.errors.InsufficientPrivilege:
                assert (table, role) in {
                    ("dead_letters", Role.ENTERPRISE),
                    ("dead_letters", Role.AUDITOR),
                }, f"{role} cannot read {table} at all"
                continue
        assert theirs == 0, f"{role} reads another enterprise's {table}"
        assert ours > 0, f"{role} cannot read its own {table}"


def test_no_scope_set_means_nothing_seen(audit_db: psycopg.Connection[Any]) -> None:
    with audit_db.transaction():
        audit_db.execute("SET LOCAL ROLE greenwatch_api_enterprise")
        assert _count(audit_db, "verdicts", OURS) == 0
        audit_db.execute(
            "SELECT set_config('greenwatch.enterprise', %s, true)", (THEIRS["enterprise"],)
        )
        assert _count(audit_db, "verdicts", THEIRS) == 1  # the role itself is not a key


def test_the_api_roles_cannot_read_the_raw_measurements_table_or_the_tokens(
    audit_db: psycopg.Connection[Any],
) -> None:
    for table in ("measurements", "measurement_versions", "api_tokens"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), audit_db.transaction():
            enter_scope(audit_db, PRINCIPALS[Role.REGULATOR])
            audit_db.execute(sql.SQL("SELECT 1 FROM {}").format(sql.Identifier(table)))


def test_the_api_roles_cannot_write(audit_db: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), audit_db.transaction():
        enter_scope(audit_db, PRINCIPALS[Role.ENTERPRISE])
        audit_db.execute("UPDATE verdicts SET status = 'compliant'")
