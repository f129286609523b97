"""``greenwatch replay`` end to end: HJ 212 frames in, the JSON lines a user checks out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from greenwatch.cli import app
from ingest.hj212 import encode
from schemas.registry import hash_password

pytestmark = pytest.mark.e2e

CHINA = timezone(timedelta(hours=8))
DAY = datetime(2024, 5, 1, tzinfo=CHINA)
CAPTURE = Path("/work/shared/data/hj212/capture-2016")
runner = CliRunner()


def write_registry(path: Path, outlets: list[dict[str, Any]]) -> Path:
    for outlet in outlets:
        for device in outlet["devices"]:
            device["password_sha256"] = hash_password(device["mn"], "123456")
    document = {
        "version": "e2e-1",
        "region": {"code": "520000", "name": "e2e"},
        "enterprises": [
            {
                "id": "E1",
                "name": "demo power",
                "region_code": "520100",
                "industry_code": "4411",
                "outlets": outlets,
            }
        ],
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    return path


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    stack = {
        "id": "STACK-1",
        "name": "1号烟囱",
        "medium": "gas",
        "standard": "ULE-coal-power",  # SO2 35 mg/m³ at 6 % O2
        "load_quotas": {"a21026": {"daily_kg": 5.0, "annual_kg": 1000.0}},
        "devices": [{"mn": "MN-STACK-1"}],
    }
    return write_registry(tmp_path / "registry.yaml", [stack])


def minute_frames(hour: int, so2: float) -> Iterator[str]:
    """A CEMS hour as CN 2051 minute frames: SO2 at 9 % O2 (× 15/12 corrected), 10 m³/s."""
    for minute in range(60):
        start = DAY + timedelta(hours=hour, minutes=minute)
        yield encode(
            qn=start.strftime("%Y%m%d%H%M%S000"),
            st="31",
            cn="2051",
            pw="123456",
            mn="MN-STACK-1",
            flag=4,
            data_time=start,
            values={
                "a21026": {"Avg": so2, "Min": so2, "Max": so2, "Flag": "N"},
                "a19001": {"Avg": 9.0, "Flag": "N"},
                "a00000": {"Avg": 10.0, "Flag": "N"},
                "a01012": {"Avg": 0.0, "Flag": "N"},
            },
        )


def replay(registry: Path, input_file: Path, *extra: str) -> tuple[list[dict[str, Any]], str]:
    result = runner.invoke(
        app, ["replay", "--registry", str(registry), "--input", str(input_file), *extra]
    )
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def test_a_two_hour_episode_gives_exceedances_for_exactly_those_hours(
    registry: Path, tmp_path: Path
) -> None:
    levels = {0: 20.0, 1: 32.0, 2: 36.0, 3: 20.0}  # corrected: 25, 40, 45, 25 mg/m³
    lines = [frame for hour, so2 in levels.items() for frame in minute_frames(hour, so2)]
    lines.append("##0010garbage\r\n")
    lines.append(
        encode(st="31", cn="2011", mn="MN-ELSEWHERE", data_time=DAY, values={"02": {"Rtd": 1}})
    )
    input_file = tmp_path / "frames.h212"
    input_file.write_text("".join(lines), "ascii")

    rows, stderr = replay(registry, input_file)

    hourly_verdicts = [
        r for r in rows if r["kind"] == "verdict" and r["rule"] == "hourly_concentration"
    ]
    assert [(r["period_start"], r["status"]) for r in hourly_verdicts] == [
        ("2024-05-01T00:00:00+08:00", "compliant"),
        ("2024-05-01T01:00:00+08:00", "exceedance"),
        ("2024-05-01T02:00:00+08:00", "exceedance"),
        ("2024-05-01T03:00:00+08:00", "compliant"),
    ]
    assert [r["value"] for r in hourly_verdicts] == pytest.approx([25.0, 40.0, 45.0, 25.0])
    assert all(
        r["limit"] == 35.0 and r["evidence"]["basis"] == "o2_corrected" for r in hourly_verdicts
    )

    so2_hours = [r for r in rows if r["kind"] == "hourly" and r["factor"] == "a21026"]
    assert [r["mean"] for r in so2_hours] == pytest.approx([20.0, 32.0, 36.0, 20.0])
    assert all(r["valid"] and r["valid_count"] == 60 for r in so2_hours)
    # Load from the MEASURED concentration: 32 mg/m³ × 36 000 m³/h × 1e-6 = 1.152 kg.
    assert so2_hours[1]["load_kg"] == pytest.approx(1.152)

    [so2_day] = [r for r in rows if r["kind"] == "daily" and r["factor"] == "a21026"]
    assert so2_day["load_kg"] == pytest.approx(sum(r["load_kg"] for r in so2_hours))
    assert so2_day["valid"] is False and so2_day["valid_count"] == 4
    daily_load = [r for r in rows if r["kind"] == "verdict" and r["rule"] == "daily_load"]
    assert [(r["status"], r["limit"]) for r in daily_load] == [("invalid", 5.0)]

    assert "1 undecodable" in stderr
    assert "1 packets from 1 unknown MNs skipped: MN-ELSEWHERE" in stderr


def test_the_output_is_the_same_whatever_order_the_frames_come_in(
    registry: Path, tmp_path: Path
) -> None:
    frames = [f for hour, so2 in {0: 20.0, 1: 36.0}.items() for f in minute_frames(hour, so2)]
    in_order, reversed_order = tmp_path / "in.h212", tmp_path / "reversed.h212"
    in_order.write_text("".join(frames), "ascii")
    reversed_order.write_text("".join(reversed(frames)), "ascii")
    assert replay(registry, in_order)[0] == replay(registry, reversed_order)[0]


def test_quality_lines_on_request_and_bad_registry_exit_code(
    registry: Path, tmp_path: Path
) -> None:
    frames = list(minute_frames(0, 20.0))  # constant non-zero SO2: a flatline after 30 min
    input_file = tmp_path / "flat.h212"
    input_file.write_text("".join(frames), "ascii")
    rows, _ = replay(registry, input_file, "--quality")
    quality = [r for r in rows if r["kind"] == "quality"]
    assert [(r["signal"], r["factor"], r["active"]) for r in quality] == [
        ("flatline", "a21026", True),
        ("low_capture", "a21026", True),  # the input's only day has 1 of 20 valid hours
    ]
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: [", "utf-8")
    result = runner.invoke(app, ["replay", "--registry", str(broken), "--input", str(input_file)])
    assert result.exit_code == 2 and "replay:" in result.stderr


def test_an_outage_in_the_frames_replays_as_a_silent_pair(registry: Path, tmp_path: Path) -> None:
    # The stack reports 00:00–00:59, is off until 02:30, then reports to 03:00. Frames carry
    # their receive time, as a dump of the raw topic does.
    frames = [*minute_frames(0, 20.0), *list(minute_frames(2, 20.0))[30:]]
    lines = [f"{_received(frame)}\t{frame}" for frame in frames]
    input_file = tmp_path / "outage.h212"
    input_file.write_text("".join(lines), "ascii")

    rows, _ = replay(registry, input_file, "--quality")

    silent = [r for r in rows if r["kind"] == "quality" and r["signal"] == "silent"]
    assert [(r["active"], r["observed_at"]) for r in silent] == [
        (True, "2024-05-01T01:05:00+08:00"),  # last minute's end + 5 × 60 s allowed
        (False, "2024-05-01T02:30:00+08:00"),
    ]
    assert silent[0]["detail"] == {
        "basis": "event_time",
        "last_event_at": "2024-05-01T01:00:00+08:00",
        "resumed_at": "2024-05-01T02:30:00+08:00",
        "gap_seconds": 5400.0,
        "allowed_seconds": 300.0,
    }
    assert silent[0]["device_id"] == "MN-STACK-1" and silent[0]["outlet_id"] == "STACK-1"
    # The same frames in reverse: every value is late, nothing resumes after a gap.
    reversed_file = tmp_path / "reversed.h212"
    reversed_file.write_text("".join(reversed(lines)), "ascii")
    rows, _ = replay(registry, reversed_file, "--quality")
    assert [r for r in rows if r["kind"] == "quality" and r["signal"] == "silent"] == []


def _received(frame: str) -> str:
    """The receive time of a minute frame: 5 s after its minute ends."""
    stamp = frame.split("DataTime=", 1)[1][:14]
    start = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=CHINA)
    return (start + timedelta(minutes=1, seconds=5)).isoformat()


def test_the_2016_capture_replays_known_mns_and_counts_the_rest(tmp_path: Path) -> None:
    outlets = [
        {"id": "CAP-G-488", "name": "stack", "medium": "gas", "standard": "GB13271-2014-coal-new",
         "load_quotas": {"a21026": {"daily_kg": 100.0, "annual_kg": 20000.0}},
         "devices": [{"mn": "LD130182000488"}]},
        {"id": "CAP-G-211", "name": "stack with a clock in 2000", "medium": "gas",
         "standard": "GB13271-2014-coal-new", "devices": [{"mn": "LD130131000211"}]},
        {"id": "CAP-W-315", "name": "outfall", "medium": "water",
         "standard": "demo-water-municipal", "devices": [{"mn": "ZG130182201315"}]},
        {"id": "CAP-W-295", "name": "outfall (2051 + re-sent history)", "medium": "water",
         "standard": "demo-water-municipal", "devices": [{"mn": "LD130182000295"}]},
    ]  # fmt: skip
    registry = write_registry(tmp_path / "capture.yaml", outlets)
    capture = tmp_path / "capture.h212"
    capture.write_bytes(b"".join(p.read_bytes() for p in sorted(CAPTURE.glob("*.h212"))))

    rows, stderr = replay(registry, capture, "--quality")

    outlets_seen = {r["outlet_id"] for r in rows if r["kind"] == "hourly"}
    assert outlets_seen == {"CAP-G-488", "CAP-G-211", "CAP-W-315", "CAP-W-295"}
    so2_488 = [
        r
        for r in rows
        if r["kind"] == "verdict" and r["outlet_id"] == "CAP-G-488" and r["factor"] == "a21026"
        and r["rule"] == "hourly_concentration"
    ]  # fmt: skip
    # 00:00 and 04:00–05:00 on 24 Aug have ≥45 minutes of real-time data; 23:00 and 03:00
    # are the capture's edges.
    valid_hours = [r["period_start"][11:13] for r in so2_488 if r["status"] != "invalid"]
    assert valid_hours == ["00", "04", "05"]
    assert all(r["evidence"]["basis"] == "o2_corrected" for r in so2_488)
    assert "26777 lines, 26761 decoded, 16 undecodable" in stderr
    assert "unknown MNs skipped" in stderr
