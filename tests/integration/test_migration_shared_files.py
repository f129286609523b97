"""A migration step of two flavors with a shared file (``011_energy_regions.sql``, the views
both flavors create, applied after the flavor's file) against the real PostgreSQL: the views
exist on both flavors, and the step is recorded with the checksum it always had."""

from __future__ import annotations

from typing import Any

import psycopg

from deploy.migrate import Flavor, migrate

# as tests/unit/test_migration_steps.py: what schemas migrated before the split recorded
RECORDED_011 = {Flavor.PLAIN: "f3a9a8ad21da8812", Flavor.TIMESCALEDB: "49e153801ffde4c6"}


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
    assert recorded == (RECORDED_011[flavor],)
