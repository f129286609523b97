"""The pipeline benchmark's synthetic province (bench/bench_pipeline.py).

``DEVICES`` flue-gas CEMS of ultra-low-emission coal power stacks (SO2 daily/annual quotas),
each sending CN 2051 minute frames with 8 factors (SO2, NOx, PM, O2, flow, temperature,
pressure, moisture), as the gateway writes them to the raw topic (``runtime.raw_record``).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.hj212 import CHINA_TZ, encode
from runtime.raw_record import Headers, encode_raw
from schemas.envelope import Protocol
from schemas.registry import Registry, hash_password, parse_registry

DEVICES = int(os.environ.get("BENCH_PIPELINE_DEVICES", "10000"))
FRAMES_PER_DEVICE = int(os.environ.get("BENCH_PIPELINE_FRAMES_PER_DEVICE", "6"))
GRACE_MINUTES = 2
PASSWORD = "bench-pw"


def recent_day(now: datetime | None = None) -> datetime:
    """Midnight, China time, two days before ``now``: the fleet's first minute.

    Recent as live data are, not a fixed date: the benchmark's schemas are migrated with the
    TimescaleDB compression policy (``compress_after_days``, 30 by default), whose job
    compressed a chunk of months-old benchmark data while the worker and the baselines were
    writing into it, and their COPYs waited for it (up to 31 s for one batch, docs/perf.md).
    Two days back, the paced run's later minutes are still in the past.
    """
    today = (now or datetime.now(CHINA_TZ)).astimezone(CHINA_TZ)
    return today.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)


DAY0 = recent_day()


@dataclass(frozen=True, slots=True)
class Frame:
    """One raw-topic record as the gateway writes it (``runtime.raw_record`` version 2)."""

    mn: str
    data_time: datetime
    value: bytes
    headers: Headers


def registry() -> Registry:
    outlets = [
        {
            "id": f"BENCH-O{i:05d}",
            "name": f"stack {i}",
            "medium": "gas",
            "standard": "ULE-coal-power",
            "load_quotas": {"a21026": {"daily_kg": 900.0, "annual_kg": 300000.0}},
            "devices": [
                {"mn": mn(i), "password_sha256": hash_password(mn(i), PASSWORD)},
            ],
        }
        for i in range(DEVICES)
    ]
    enterprises = [
        {
            "id": f"BENCH-E{e:04d}",
            "name": f"enterprise {e}",
            "region_code": "520100",
            "industry_code": "4411",
            "outlets": outlets[e * 10 : e * 10 + 10],
        }
        for e in range((DEVICES + 9) // 10)
    ]
    return parse_registry(
        {
            "version": "bench-pipeline-1",
            "region": {"code": "520000", "name": "bench"},
            "policy": {"grace_minutes": GRACE_MINUTES},
            "enterprises": enterprises,
        }
    )


def mn(index: int) -> str:
    return f"BENCH{index:06d}"


def backlog_times() -> Iterator[tuple[str, datetime]]:
    """Frame times in production order: every device's k-th frame before any (k+1)-th."""
    for k in range(FRAMES_PER_DEVICE):
        for index in range(DEVICES):
            yield mn(index), DAY0 + timedelta(minutes=index % 60 + k)


def values(mn: str, at: datetime) -> dict[str, dict[str, float | str]]:
    wobble = (zlib.crc32(f"{mn}{at.minute}".encode()) % 100) / 100.0
    values = {
        "a21026": 20.0 + wobble * 10,
        "a21002": 30.0 + wobble * 15,
        "a34013": 3.0 + wobble,
        "a19001": 7.0 + wobble,
        "a00000": 150.0 + wobble * 20,
        "a01012": 90.0,
        "a01013": 0.4,
        "a01014": 8.0,
    }
    return {factor: {"Avg": round(v, 3), "Flag": "N"} for factor, v in values.items()}


def frame(mn: str, at: datetime, received_at: datetime) -> Frame:
    text = encode(st="31", cn="2051", mn=mn, pw=PASSWORD, flag=4, data_time=at,
                  values=values(mn, at))  # fmt: skip
    value, headers = encode_raw(Protocol.HJ212, mn, "127.0.0.1:40000", received_at, text.encode())
    return Frame(mn, at, value, headers)
