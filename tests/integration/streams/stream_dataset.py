"""A deterministic HJ 212 dataset for the worker's reliability tests.

Four demo devices (two flue-gas stacks, two wastewater outlets of
``schemas/examples/demo-province.yaml``) report five minute frames (CN 2051) per hour for two
days and two hours, with a maintenance-flagged hour, hours above the warning fraction and
above the limit, a late re-send for a day already closed and dropped from memory, and poison
inputs of every kind the worker dead-letters. The registry's policy is tuned to the sparse
data (4 valid minutes make an hour, 3 valid hours a day, 2 minutes of grace): the policy is
registry data, so this is the same code path a province's settings take.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import yaml

from ingest.hj212 import CHINA_TZ, encode
from schemas.envelope import Protocol, RawEnvelope

EXAMPLE: Final = Path(__file__).parents[3] / "schemas" / "examples" / "demo-province.yaml"
DAY0: Final = datetime(2026, 3, 2, tzinfo=CHINA_TZ)
HOURS: Final = 50
MINUTES_PER_HOUR: Final = 5
GAS: Final = ("DEMO-TP01-G1", "DEMO-CM01-K1")
WATER: Final = ("DEMO-CH01-W1", "DEMO-WW01-W1")
RECEIVE_DELAY: Final = timedelta(seconds=3)
LATE_DEVICE: Final = "DEMO-TP01-G1"
LATE_HOUR: Final = DAY0 + timedelta(hours=10)
PARTITION: Final = {mn: index for index, mn in enumerate(GAS + WATER)}


@dataclass(frozen=True, slots=True)
class Input:
    """One message of the raw topic: key, value, partition and (for frames) the replay line.

    Every device has its own partition (the demo MNs all hash to one partition of four, so
    the dataset does what a gateway's partitioner does for a larger fleet).
    """

    key: bytes
    value: bytes
    replay_line: bytes | None
    poison_reason: str | None = None
    partition: int = 0


def write_registry(path: Path) -> Path:
    """The demo registry with the test policy, written to ``path``."""
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    document["version"] = "streams-test-1"
    document["policy"] = {
        **document.get("policy", {}),
        "valid_minutes_per_hour": 4,
        "valid_hours_per_day": 3,
        "grace_minutes": 2,
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def _gas(index: int, hour: int, minute: int) -> dict[str, dict[str, float | str]]:
    so2 = 18.0 + (hour % 9) * 2.5 + minute * 0.1 + index * 60.0
    flag = "M" if hour == 5 else "N"
    values: dict[str, float] = {
        "a21026": so2,
        "a21002": 30.0 + (hour % 5) * 4.0 + index * 150.0,
        "a34013": 4.0 + minute * 0.05,
        "a19001": 7.5 + (minute % 2) * 0.5,
        "a00000": 120.0 + hour % 3,
        "a01012": 90.0,
        "a01013": 0.5,
        "a01014": 8.0,
    }
    return {f: {"Avg": round(v, 3), "Flag": flag} for f, v in values.items()}


def _water(index: int, hour: int, minute: int) -> dict[str, dict[str, float | str]]:
    values: dict[str, float] = {
        "w01018": 40.0 + (hour % 6) * 9.0 + minute * 0.2,
        "w21003": 3.0 + (hour % 4) * 0.8,
        "w00000": 30.0 + index,
    }
    if index == 0:
        values["w20120"] = 0.05 + (0.6 if hour == 30 else 0.0)  # Pb: 3.25× its limit at 06:00
    return {f: {"Avg": round(v, 3), "Flag": "N"} for f, v in values.items()}


def _frame(mn: str, at: datetime, values: dict[str, dict[str, float | str]]) -> bytes:
    return encode(st="31", cn="2051", mn=mn, pw="123456", flag=5, data_time=at, values=values)[
        :-2
    ].encode()


def _envelope(mn: str, frame: bytes, received_at: datetime) -> bytes:
    raw = RawEnvelope(
        protocol=Protocol.HJ212,
        device_id=mn,
        peer="127.0.0.1:40001",
        received_at=received_at,
        payload=frame + b"\r\n",
    )
    return raw.model_dump_json().encode()


def frame_input(mn: str, at: datetime, values: dict[str, dict[str, float | str]]) -> Input:
    frame = _frame(mn, at, values)
    received = at + RECEIVE_DELAY
    line = f"{received.isoformat()}\t".encode() + frame
    return Input(mn.encode(), _envelope(mn, frame, received), line, None, PARTITION[mn])


def _poison() -> list[Input]:
    good = _frame(GAS[0], DAY0, _gas(0, 0, 0))
    bad_crc = good[:-4] + (b"0000" if good[-4:] != b"0000" else b"FFFF")
    nul = good.replace(b"ST=31", b"ST=3\x00", 1)
    stranger = _frame("NOT-IN-REGISTRY", DAY0, _gas(0, 0, 0))
    at = DAY0 + RECEIVE_DELAY
    return [
        Input(b"DEMO-TP01-G1", b"\x00not json at all", None, "bad_envelope", 0),
        Input(b"DEMO-TP01-G1", b'{"protocol": "hj212"}', None, "bad_envelope", 1),
        Input(GAS[0].encode(), _envelope(GAS[0], bad_crc, at), None, "bad_crc", 2),
        Input(GAS[0].encode(), _envelope(GAS[0], nul, at), None, "nul_byte", 3),
        Input(b"NOT-IN-REGISTRY", _envelope("NOT-IN-REGISTRY", stranger, at), None,
              "unknown_device", 0),
    ]  # fmt: skip


def dataset() -> list[Input]:
    """Every input in production order (one device's frames in event-time order)."""
    inputs: list[Input] = []
    poison = _poison()
    for hour in range(HOURS):
        for minute in range(MINUTES_PER_HOUR):
            at = DAY0 + timedelta(hours=hour, minutes=minute)
            for index, mn in enumerate(GAS):
                inputs.append(frame_input(mn, at, _gas(index, hour, minute)))
            for index, mn in enumerate(WATER):
                inputs.append(frame_input(mn, at, _water(index, hour, minute)))
        if hour % 10 == 3 and poison:
            inputs.append(poison.pop())
    late = _gas(0, 10, 2)
    late["a21026"] = {"Avg": 80.0, "Flag": "N"}  # re-sent, corrected minute of a dropped day
    inputs.append(frame_input(LATE_DEVICE, LATE_HOUR + timedelta(minutes=2), late))
    return inputs + poison


def frame_count() -> int:
    """Distinct measurement keys the dataset stores (the late frame replaces one minute)."""
    gas = len(_gas(0, 0, 0)) * len(GAS)
    water = len(_water(0, 0, 0)) + len(_water(1, 0, 0))
    return (gas + water) * HOURS * MINUTES_PER_HOUR


def poison_reasons() -> list[str]:
    """The dead-letter reasons the dataset must produce, sorted."""
    return sorted(p.poison_reason for p in _poison() if p.poison_reason)


def replay_input(inputs: list[Input]) -> bytes:
    """The replay command's input for the same frames (receive time, TAB, frame)."""
    return b"".join(i.replay_line + b"\n" for i in inputs if i.replay_line is not None)
