"""``greenwatch replay --jobs N`` (issue 15, fourth slice): the input partitioned by enterprise
over N processes prints exactly what one process prints, in the same order, with the same
counts; and the replay's outputs wait in a file, not in memory."""

from __future__ import annotations

import sys
import zlib
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_streams_hot_path import LINES as HOT_LINES
from test_streams_hot_path import REGISTRY as DEMO

from bench import pipeline_fleet
from ingest.hj212 import encode
from schemas.measurement import AggregateValue
from schemas.registry import Registry, load_registry
from streams.domain.store import MemoryStore
from streams.replay import Replay, ReplayStats, replay_lines
from streams.replay_output import OutputSpill
from streams.replay_parallel import Partitioner, replay_file
from streams.replay_spill import SpilledAggregates, SpilledHours

sys.path.insert(0, str(Path(__file__).parents[2] / "integration" / "streams"))
import stream_dataset

FLEET_DEVICES = 40


def _fleet_registry() -> Registry:
    previous = pipeline_fleet.DEVICES
    pipeline_fleet.DEVICES = FLEET_DEVICES
    try:
        return pipeline_fleet.registry()
    finally:
        pipeline_fleet.DEVICES = previous


FLEET = _fleet_registry()


def _fleet_line(index: int, minute: int, delay: timedelta = timedelta(seconds=63)) -> bytes:
    """A minute frame of fleet device ``index``; devices 1 and 11 copy devices 0 and 10
    (same enterprise: the identical-devices step fires for both pairs)."""
    at = pipeline_fleet.DAY0 - timedelta(hours=1) + timedelta(minutes=minute)
    source = pipeline_fleet.mn(index - 1 if index in (1, 11) else index)
    values = pipeline_fleet.values(source, at)
    frame = encode(st="31", cn="2051", mn=pipeline_fleet.mn(index), pw=pipeline_fleet.PASSWORD,
                   flag=4, data_time=at, values=values)  # fmt: skip
    return (at + delay).isoformat().encode() + b"\t" + frame.encode()


def _fleet_lines() -> list[bytes]:
    """Two hours across a China midnight of 40 devices in 4 enterprises, an outage
    back-filled after the live data, a minute re-sent late, and bad lines of every kind."""
    lines = [
        _fleet_line(index, minute)
        for minute in range(130)
        for index in range(FLEET_DEVICES)
        if not (index == 7 and 40 <= minute < 70)
    ]
    lines += [_fleet_line(7, minute, timedelta(hours=2)) for minute in range(40, 70)]
    lines.append(_fleet_line(23, 5, timedelta(hours=3)))
    frame = _fleet_line(5, 3).split(b"\t", 1)[1]
    lines += [
        b"garbage that is no frame",
        frame[:-4] + b"0000",  # bad CRC
        b"not-a-time\t" + frame,
        b"",
        encode(
            st="31",
            cn="2051",
            mn="NOT-REGISTERED",
            pw="x",
            flag=4,
            data_time=pipeline_fleet.DAY0,
            values={"a21026": {"Avg": 1.0}},
        ).encode(),
    ]
    return lines


FLEET_LINES = _fleet_lines()


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line.rstrip(b"\r\n") + b"\n" for line in lines))
    return path


def _run(path: Path, registry: Registry, jobs: int, batch: int) -> tuple[list[str], ReplayStats]:
    replayed = replay_file(path, registry, include_quality=True, jobs=jobs, batch_lines=batch)
    return [text for _, _, text in replayed.rows], replayed.stats


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Registry]]:
    tmp = tmp_path_factory.mktemp("parallel")
    inputs = stream_dataset.dataset()
    worker = load_registry(stream_dataset.write_registry(tmp / "registry.yaml"))
    (tmp / "worker.hj212").write_bytes(stream_dataset.replay_input(inputs))
    return {
        "fleet": (_write(tmp / "fleet.hj212", FLEET_LINES), FLEET),
        "hot_path": (_write(tmp / "hot.hj212", HOT_LINES), DEMO),
        "worker": (tmp / "worker.hj212", worker),
    }


@pytest.mark.parametrize("name", ["fleet", "hot_path", "worker"])
def test_any_number_of_processes_prints_what_one_prints(
    name: str, datasets: dict[str, tuple[Path, Registry]]
) -> None:
    path, registry = datasets[name]
    with path.open("rb") as lines:
        today, today_stats = replay_lines(lines, registry, include_quality=True)
    one, one_stats = _run(path, registry, 1, 2000)
    assert [_loads(text) for text in one] == today and one_stats == today_stats
    assert one, "the dataset has outputs to compare"
    for jobs, batch in ((2, 2000), (3, 7), (5, 50)):
        lines, stats = _run(path, registry, jobs, batch)
        assert lines == one, (name, jobs, batch)
        assert stats == one_stats, (name, jobs, batch)


def test_the_fleet_dataset_exercises_what_crosses_devices(
    datasets: dict[str, tuple[Path, Registry]],
) -> None:
    path, registry = datasets["fleet"]
    rows = [_loads(text) for text in _run(path, registry, 3, 2000)[0]]
    identical = [
        r
        for r in rows
        if r["kind"] == "quality" and r["detail"].get("rules") == ["identical_devices"]
    ]
    assert {r["device_id"] for r in identical} == {pipeline_fleet.mn(i) for i in (0, 1, 10, 11)}
    partition = Partitioner(registry, 3)
    used = {partition(line) for line in FLEET_LINES}
    assert used == {0, 1, 2}, "every process has lines"
    stats = _run(path, registry, 3, 2000)[1]
    assert stats.undecodable and stats.bad_receive_time == 1
    assert stats.unknown_devices == Counter({"NOT-REGISTERED": 1})


def test_a_device_goes_to_its_enterprises_partition_whatever_the_frame_looks_like() -> None:
    partition = Partitioner(FLEET, 7)
    for index in range(FLEET_DEVICES):
        enterprise = f"BENCH-E{index // 10:04d}".encode()
        assert partition(_fleet_line(index, 0)) == zlib.crc32(enterprise) % 7
    line = _fleet_line(3, 0)
    stamp, frame = line.split(b"\t", 1)
    moved = _mn_first(frame)
    assert partition(stamp + b"\t" + moved) == partition(line)  # MN first: parsed
    assert partition(b"no frame at all") == 0


def _mn_first(frame: bytes) -> bytes:
    """The same packet with MN as the segment's first field (fields may come in any order)."""
    segment = frame.rstrip(b"\r\n")[6:-4].decode()
    fields = segment.split(";CP=&&", 1)[0].split(";")
    mn = next(f for f in fields if f.startswith("MN="))
    head = ";".join([mn, *(f for f in fields if f != mn)])
    body = head + ";CP=&&" + segment.split(";CP=&&", 1)[1]
    from ingest.hj212.crc import crc_hj212

    return b"##%04d" % len(body) + body.encode() + b"%04X" % crc_hj212(body.encode())


def test_an_unreadable_input_is_an_oserror_whatever_the_number_of_processes(
    tmp_path: Path,
) -> None:
    for jobs in (1, 3):
        with pytest.raises(FileNotFoundError):
            replay_file(tmp_path / "missing.hj212", FLEET, jobs=jobs)


def test_outputs_and_hourly_aggregates_are_not_held_whatever_the_input_length() -> None:
    """Memory bounded by the open windows, not the input: the pydantic aggregates alive at the
    end are the same few whether the input is one hour or four (on main every hourly and
    daily value and verdict stayed, ~3 KB each)."""
    held = []
    for minutes in (70, 250):
        hourly = SpilledAggregates(held=50)
        store = MemoryStore(cold=SpilledHours(), hourly=hourly)
        replay = Replay(FLEET, store=store, outputs=OutputSpill(pending=100))
        replay.feed_lines(_fleet_line(i, m) for m in range(minutes) for i in range(FLEET_DEVICES))
        held.append(_alive(AggregateValue, replay))
        assert hourly.held() <= 50
        rows = [_loads(text) for _, _, text in replay.finish_rows()]
        assert sum(1 for r in rows if r["kind"] == "hourly") >= FLEET_DEVICES * 8 * (minutes // 60)
    assert held[1] <= held[0] + FLEET_DEVICES * 8, held


def _alive(kind: type, replay: Replay) -> int:
    import gc

    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


def _loads(text: str) -> Any:
    import json

    return json.loads(text)
