"""A frame's measurements as one unit (``streams.domain.frames``; docs/perf.md, "Seventh slice
(frame)"): the engine does a frame's shared work once and gives what it gave one measurement at
a time, and the worker's decoder hands the engine one ``Frame`` per raw record."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from streams_support import (
    FLOW,
    GAS,
    O2,
    SO2,
    T0,
    TEMP,
    WATER,
    make_registry,
)

from ingest.hj212 import encode
from schemas.envelope import Protocol, RawEnvelope
from schemas.measurement import Measurement, PeriodKind
from schemas.registry import Medium
from streams.domain.engine import Engine
from streams.domain.frames import Frame, frame_of, frames_of
from streams.domain.minutes import FactorReadings, add_frame, minute_values
from streams.domain.normalize import normalize_packet
from streams.domain.windows import add_reading
from streams.pipeline import RawRecord, decode_records
from streams.sink import SourcePosition

REGISTRY = make_registry()
COD = "w01018"
FACTORS = {GAS: (SO2, O2, FLOW, TEMP, "a21002"), WATER: (COD, "w21003")}
FLAGS = ("N", "N", "N", "N", "T", "S", "F", "M", "C", "D", "B", "x")
numbers = st.one_of(st.none(), st.sampled_from([0.0, 12.5, 12.5, 40.0, 80.0]))


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    """One decoded packet's measurements: a device, a period and start, several factors
    (now and then one repeated, or without a value), often a flatline, flags of every kind."""
    device = draw(st.sampled_from([GAS, WATER]))
    period = draw(st.sampled_from([PeriodKind.MINUTE, PeriodKind.MINUTE, PeriodKind.RTD,
                                   PeriodKind.HOUR]))  # fmt: skip
    step = {PeriodKind.MINUTE: 60, PeriodKind.RTD: 20, PeriodKind.HOUR: 3600}[period]
    start = T0 + timedelta(seconds=step * draw(st.integers(0, 200)))
    if period is PeriodKind.HOUR:
        start = start.replace(minute=0, second=0)
    received = start + timedelta(seconds=draw(st.sampled_from([60, 61, 90, 4000])))
    codes = draw(st.lists(st.sampled_from(FACTORS[device]), min_size=1, max_size=6))
    made: list[Measurement] = []
    for code in codes:
        value = draw(numbers)
        extra = draw(st.sampled_from([None, None, None, 1.0]))
        made.append(
            Measurement(
                device, code, code, period, start, received,
                outlet_id="G1" if device == GAS else "W1",
                rtd=value if period is PeriodKind.RTD else None,
                avg=None if period is PeriodKind.RTD else value,
                zs_rtd=extra if period is PeriodKind.RTD else None,
                zs_avg=None if period is PeriodKind.RTD else extra,
                min=draw(st.sampled_from([None, None, 3.0])),
                flag=draw(st.sampled_from(FLAGS)),
            )
        )  # fmt: skip
    return frame_of(made)


def _singletons(batch: list[Frame]) -> list[Frame]:
    return [frame_of([m]) for frame in batch for m in frame.measurements]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(frames(), max_size=12), min_size=1, max_size=4))
def test_frames_give_the_outputs_of_their_measurements_one_at_a_time(
    batches: list[list[Frame]],
) -> None:
    """Whole frames (one shared start, instant, hour buffer and watermark step per frame) and
    the same measurements as frames of one (each measurement's own) give the same outputs,
    batch by batch and when every window closes; so does the flat ``ingest``."""
    whole, single, flat = Engine(REGISTRY), Engine(REGISTRY), Engine(REGISTRY)
    for batch in batches:
        measurements = [m for frame in batch for m in frame.measurements]
        expected = single.ingest_frames(_singletons(batch))
        assert whole.ingest_frames(batch) == expected
        assert flat.ingest(measurements) == expected
    assert whole.close_all() == single.close_all() == flat.close_all()


@settings(max_examples=300, deadline=None)
@given(st.lists(frames(), max_size=20), st.sampled_from([Medium.GAS, Medium.WATER]))
def test_a_frame_added_at_once_holds_what_each_measurement_added_holds(
    batch: list[Frame], medium: Medium
) -> None:
    """``add_frame`` (the usual value appended in its loop) leaves every factor's readings as
    ``add_reading`` per measurement does, and names the first measurement that added."""
    at_once: dict[str, FactorReadings] = {}
    each: dict[str, FactorReadings] = {}
    for frame in batch:
        added = [m for m in frame.measurements if add_reading(each, m)]
        assert add_frame(at_once, frame.measurements) == (added[0] if added else None)
    assert list(at_once) == list(each)
    for factor, readings in each.items():
        assert minute_values(at_once[factor], medium, 0.75) == minute_values(readings, medium, 0.75)
        assert at_once[factor].resent == readings.resent


def test_runs_of_one_frame_are_told_apart_by_identity() -> None:
    """``frames_of`` cuts where device, period, period start or ``received_at`` change."""
    start, later = T0, T0 + timedelta(minutes=1)
    received = start + timedelta(minutes=1)

    def value(factor: str, at: datetime = start, device: str = GAS) -> Measurement:
        return Measurement(device, factor, factor, PeriodKind.MINUTE, at, received, avg=1.0)

    batch = [value(SO2), value(O2), value(SO2, later), value(O2, later), value(COD, later, WATER)]
    assert [[m.factor for m in f.measurements] for f in frames_of(batch)] == [
        [SO2, O2], [SO2, O2], [COD],
    ]  # fmt: skip
    assert [(f.device_id, f.period_start) for f in frames_of(batch)] == [
        (GAS, start), (GAS, later), (WATER, later),
    ]  # fmt: skip
    assert frames_of([]) == []


def test_the_decoder_hands_the_engine_one_frame_per_raw_record() -> None:
    """``decode_records``: each decoded raw record is one ``Frame`` of its measurements, in
    the batch's order; a record without measurements (a heartbeat) gives none."""
    at = T0.replace(hour=10, minute=5)
    values = {SO2: {"Avg": 12.5, "Flag": "N"}, O2: {"Avg": 6.0, "Flag": "N"}}
    minute = encode(st="31", cn="2051", mn=GAS, pw="123456", data_time=at, values=values)
    heartbeat = encode(st="31", cn="9015", mn=GAS, pw="123456")
    later = encode(st="31", cn="2051", mn=GAS, pw="123456", data_time=at + timedelta(minutes=1),
                   values={SO2: {"Avg": 13.0, "Flag": "N"}})  # fmt: skip
    records = [
        RawRecord(SourcePosition("raw", 0, offset), _envelope(frame), at)
        for offset, frame in enumerate((minute, heartbeat, later))
    ]
    decoded = decode_records(records, REGISTRY, normalize_packet)
    assert [[m.factor for m in f.measurements] for f in decoded.frames] == [[SO2, O2], [SO2]]
    assert [m for f in decoded.frames for m in f.measurements] == decoded.measurements
    assert [f.period_start for f in decoded.frames] == [at, at + timedelta(minutes=1)]
    assert all(f.period is PeriodKind.MINUTE and f.device_id == GAS for f in decoded.frames)


def _envelope(frame: str) -> bytes:
    raw = RawEnvelope(protocol=Protocol.HJ212, device_id=GAS, peer="10.0.0.1:5000",
                      received_at=T0, payload=frame.encode())  # fmt: skip
    return raw.model_dump_json().encode()
