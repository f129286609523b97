"""`greenwatch demo` on the local stack as a user runs it (no GREENWATCH_DATABASE_URL, no Kafka
login of the tests): every process it starts logs in to PostgreSQL as its own role and the
demo's own summary reads as gw_reader; the owner is used only for the run's schema work
(create, migrate, prune), named ``greenwatch demo <step>``, and ``stack up``'s health probe
(issue 11, item 4). Client sessions are sampled from pg_stat_activity while the demo runs
(TimescaleDB's background policy jobs run as the owner of the migrated schema; they are not
processes of the demo)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.e2e

SESSIONS = (
    "SELECT usename, application_name FROM pg_stat_activity"
    " WHERE datname = 'greenwatch' AND pid <> pg_backend_pid() AND usename IS NOT NULL"
    # clients only: TimescaleDB's policy jobs (continuous-aggregate refresh, compression) are
    # background workers run as the owner of the job the migration created, not demo processes.
    # The sampler (the owner, not a superuser) sees the type of its own role's sessions only;
    # other roles' show NULL, and every one of those is a client.
    " AND coalesce(backend_type, 'client backend') = 'client backend'"
)


class SessionSampler(threading.Thread):
    """Every 0.2 s: the (login, application) pairs of the database's sessions."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.seen: set[tuple[str, str]] = set()
        self.done = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True, application_name="sampler") as conn:
            while not self.done.wait(0.2):
                self.seen |= {(str(u), str(a)) for u, a in conn.execute(SESSIONS).fetchall()}


def test_every_demo_process_logs_in_as_its_own_role(services: Any) -> None:
    if services.origin != "local":
        pytest.skip("the service roles and their passwords are the local stack's")
    env = {
        name: value
        for name, value in os.environ.items()
        if name
        not in (
            "GREENWATCH_DATABASE_URL",
            "GREENWATCH_KAFKA_USERNAME",
            "GREENWATCH_KAFKA_PASSWORD",
        )
    }
    env |= {
        "GREENWATCH_STATE_DIR": str(services.settings.state_dir),
        "GREENWATCH_TOPIC_PREFIX": f"roles{uuid.uuid4().hex[:6]}",
    }
    sampler = SessionSampler(services.database_url)
    sampler.start()
    try:
        args = ["demo", "--seconds", "40", "--hours", "4", "--enterprises", "2", "--keep", "1"]
        result = subprocess.run(
            [sys.executable, "-m", "greenwatch", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        sampler.done.set()
        sampler.join(10)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "final summary" in result.stdout and "plan progress (issue 10)" in result.stdout
    assert "GREENWATCH_DATABASE_SCHEMA=demo_" in result.stdout  # how to look further: no DSN
    owner = {app for login, app in sampler.seen if login == "greenwatch" and app != "sampler"}
    schema_work = {"greenwatch demo create", "greenwatch demo migrate", "greenwatch demo prune"}
    assert owner <= {*schema_work, "greenwatch stack probe"}, sampler.seen  # stack up's SELECT 1
    logins = {login for login, _ in sampler.seen}
    # the services' long-lived sessions; the summary's read as gw_reader lasts milliseconds and
    # can fall between two samples on a loaded machine, so it is not required here (what the
    # sampling proves for it: it never ran as the owner)
    assert {"gw_worker", "gw_energy_worker", "gw_alerts"} <= logins, sampler.seen
