"""The pipeline benchmark's fleet sends recent data, as live devices do (issue 15).

On main its data were dated 2026-03-02: months past ``compress_after_days``, so the TimescaleDB
compression policy of each benchmark schema compressed the chunk the worker and the baselines
were writing into, and their COPYs waited for it (a 31 s batch): every figure measured the
compression job as much as the worker.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bench import pipeline_fleet
from ingest.hj212 import CHINA_TZ
from runtime.settings import Settings


def test_fleet_data_are_younger_than_the_compression_age() -> None:
    now = datetime.now(CHINA_TZ)
    oldest = pipeline_fleet.DAY0
    newest = max(at for _, at in pipeline_fleet.backlog_times())
    assert now - oldest < timedelta(days=Settings().compress_after_days)
    # The paced run continues each device's minutes after its backlog, up to a few hours.
    assert newest + timedelta(hours=6) < now


def test_recent_day_is_a_china_midnight_two_days_back() -> None:
    now = datetime(2026, 12, 6, 1, 30, tzinfo=CHINA_TZ)
    assert pipeline_fleet.recent_day(now) == datetime(2026, 12, 4, tzinfo=CHINA_TZ)
