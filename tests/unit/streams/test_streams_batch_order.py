"""``Engine.ingest`` takes each device's data in the order they came (issue 15): a back-fill
(补发) that arrives in the same batch as the live data after it gives the quality signals it
gives one frame at a time, and not those of the batch sorted by event time."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from ingest.hj212 import CHINA_TZ, encode
from schemas.registry import load_registry
from streams.replay import Replay

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "demo-province.yaml"
REGISTRY = load_registry(EXAMPLE)
MN = "DEMO-TP01-G1"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=CHINA_TZ)


def _line(at: datetime, so2: float, flag: str, received: datetime) -> bytes:
    values: dict[str, dict[str, float | str]] = {
        "a21026": {"Avg": so2, "Flag": flag},
        "a19001": {"Avg": 7.5, "Flag": "N"},
    }
    frame = encode(st="31", cn="2051", mn=MN, pw="123456", flag=5, data_time=at, values=values)
    return received.isoformat().encode() + b"\t" + frame.encode()


def _lines() -> list[bytes]:
    """Ten live minutes, then the ten minutes before them back-filled 25 minutes late and
    flagged M (maintenance): all within one hour, so no window closes in between."""
    live = [
        _line(at, 20.0 + i, "N", at + timedelta(minutes=1, seconds=3))
        for i, at in enumerate(T0 + timedelta(minutes=20 + k) for k in range(10))
    ]
    late = T0 + timedelta(minutes=55)
    back_fill = [_line(T0 + timedelta(minutes=10 + k), 30.0, "M", late) for k in range(10)]
    return live + back_fill


def _signals(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [row for row in rows if row["kind"] == "quality"]


def test_a_back_fill_in_the_batch_of_the_live_data_signals_as_frame_by_frame() -> None:
    lines = _lines()
    one_by_one = Replay(REGISTRY, include_quality=True)
    for line in lines:
        one_by_one.feed_line(line)
    expected = one_by_one.finish()
    assert any(s["signal"] == "clock_skew" for s in _signals(expected))
    assert not any(s["signal"] == "flagged" for s in _signals(expected))  # older than seen

    batch = Replay(REGISTRY, include_quality=True)
    measurements = [m for line in lines for m in batch._measurements(line)]
    batch.process(measurements)  # one engine batch: live data, then their back-fill
    assert batch.finish() == expected
