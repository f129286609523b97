"""The worker connects as its own role on the local stack (issue 11, item 4): started without
GREENWATCH_DATABASE_URL, ``greenwatch worker`` logs in as ``gw_worker`` — never the owner — and
still does its whole job: measurements, the hourly rollup (SECURITY DEFINER refresh, migration
013), aggregates, verdicts, a re-judged hour and its revision history."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from conftest import StackFactory
from services import sessions_as
from test_worker_resent import HOUR, hour_verdict, minutes, store_an_exceedance

from runtime.settings import DbLogin


@pytest.mark.integration
def test_the_worker_logs_in_as_gw_worker_and_does_its_job(
    stream_stack_factory: StackFactory, services: Any
) -> None:
    if services.origin != "local":
        pytest.skip("the service roles and their passwords are the local stack's")
    stack = stream_stack_factory()
    stack.local_stack_state = services.settings.state_dir
    store_an_exceedance(stack)
    sessions = sessions_as(stack.direct_dsn, DbLogin.WORKER)  # (no DSN in a failure)
    assert sessions > 0, stack.logs()
    stack.produce(minutes(HOUR, 5.0))  # re-sent lower: re-judged, with a revision
    stack.wait_for(
        "re-judged", lambda: (hour_verdict(stack.direct_dsn) or ("",))[0] == "compliant", 60
    )
    found = hour_verdict(stack.direct_dsn)
    assert found is not None and found[1] == 2
    with psycopg.connect(stack.direct_dsn, autocommit=True) as conn:
        hourly = conn.execute("SELECT count(*) FROM measurement_hourly").fetchone()
        revisions = conn.execute("SELECT count(*) FROM verdict_revisions").fetchone()
    assert hourly is not None and hourly[0] > 0
    assert revisions is not None and revisions[0] > 0
    assert all(worker.alive() for worker in stack.workers), stack.logs()
