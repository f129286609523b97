"""Fixture ``province``: the demo province of ``grafana_province`` (with the alerts of
``grafana_alert_seed``) seeded in a private schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from grafana_alert_seed import seed_alerts
from grafana_province import END, START, Province, seed_province

from grafana.macros import QueryContext


@pytest.fixture
def province(db_conn: psycopg.Connection[tuple[Any, ...]]) -> Iterator[Province]:
    seed_province(db_conn)
    seed_alerts(db_conn)
    yield Province(db_conn, QueryContext(start=START, end=END, interval=timedelta(minutes=1)))
