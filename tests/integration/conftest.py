"""Fixtures for the integration tests of both database flavors.

- ``timescale_usable`` (session): True when the suite's PostgreSQL can run the TimescaleDB
  flavor (installed and preloaded); the local stack's default since ``make install`` builds it.
- ``flavor`` (parametrised plain / timescaledb): run a test once per flavor, each in its own
  schema of the same database (the TimescaleDB case is skipped where the server cannot run it).
- ``plain_cluster`` (module): a second local PostgreSQL of the same server binaries started
  *without* the TimescaleDB preload (extension installed but not loaded, the state a cluster
  from before ``make install`` is in); yields ``(layout, dsn)`` and stops it after the module.
  Only with the local stack (it uses the stack's server binaries and state directory).
- ``run_refresh_policy`` (function): ``run(conn)`` runs the current schema's continuous-aggregate
  refresh policies now, as their schedule would, after unscheduling them (a scheduled run
  racing ours fails with "concurrent refresh"); retries while one is still in progress.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from deploy import postgres_service, timescaledb
from deploy.migrate import Flavor

try:
    from services import Services, free_port
except ImportError:  # pragma: no cover
    from tests.services import Services, free_port


@pytest.fixture(scope="session")
def timescale_usable(services: Services) -> bool:
    with psycopg.connect(services.database_url) as conn:
        return timescaledb.probe(conn).usable


@pytest.fixture(params=[Flavor.PLAIN, Flavor.TIMESCALEDB], ids=["plain", "timescaledb"])
def flavor(request: pytest.FixtureRequest, timescale_usable: bool) -> Flavor:
    chosen = Flavor(request.param)
    if chosen is Flavor.TIMESCALEDB and not timescale_usable:
        pytest.skip("this PostgreSQL cannot run TimescaleDB (see `make install`)")
    return chosen


@pytest.fixture(scope="module")
def plain_cluster(services: Services) -> Iterator[tuple[Any, str]]:
    if services.origin != "local":
        pytest.skip("needs the local stack's server binaries")
    home = services.settings.state_dir / f"plain-cluster-{free_port()}"
    pg = postgres_service.PostgresLayout(home.resolve() / "postgres", free_port(), False)
    postgres_service.start(pg, lambda _: None, {postgres_service.APP_ROLE: "private"})
    try:
        yield pg, postgres_service.owner_dsn(pg, "private")
    finally:
        postgres_service.stop(pg, notify=lambda _: None)
        shutil.rmtree(home, ignore_errors=True)


def _run_refresh_policy(conn: psycopg.Connection[Any]) -> None:
    jobs = conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs WHERE hypertable_schema ="
        " current_schema() AND proc_name = 'policy_refresh_continuous_aggregate'"
    ).fetchall()
    for (job,) in jobs:
        conn.execute("SELECT alter_job(%s, scheduled => false)", (job,))
        deadline = time.monotonic() + 30
        while True:
            try:
                conn.execute("CALL run_job(%s)", (job,))
                break
            except psycopg.errors.LockNotAvailable:  # the scheduled run is still refreshing
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


@pytest.fixture
def run_refresh_policy() -> Callable[[psycopg.Connection[Any]], None]:
    return _run_refresh_policy
