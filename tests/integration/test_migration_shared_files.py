"""A migration step of two flavors with a shared file (``011_energy_regions.sql``, the views
both flavors create, applied after the flavor's file) against the real PostgreSQL: the views
exist on both flavors, and the step is recorded with the checksum of its whole text."""

from __future__ import annotations

from typing import Any

import psycopg

from deploy.migrate import Flavor, discover_steps, migrate


def test_the_shared_views_of_011_exist_on_both_flavors(
    db_conn: psycopg.Connection[Any], flavor: Flavor
) -> None:
    assert "011_energy_regions" in migrate(db_conn, flavor).applied
    views = {
        str(row[0])
        for row in db_conn.execute(
            "SELECT table_name FROM information_schema.views WHERE table_schema = current_schema()"
        )
    }
    assert {"energy_enterprise_monthly", "energy_region_monthly"} <= views
    if flavor is Flavor.TIMESCALEDB:  # the flavor file ran too
        hypertable = db_conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables WHERE"
            " hypertable_schema = current_schema() AND hypertable_name = 'energy_process_co2'"
        ).fetchone()
        assert hypertable == (1,)
    recorded = db_conn.execute(
        "SELECT checksum FROM schema_migrations WHERE version = 11"
    ).fetchone()
    # the checksum of flavor file + shared file: the one schemas migrated before the split
    # recorded (tests/unit/test_migration_steps.py pins it)
    (step,) = [s for s in discover_steps(flavor) if s.version == 11]
    assert recorded == (step.checksum,)
