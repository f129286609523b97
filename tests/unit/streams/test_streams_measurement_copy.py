"""The sink's binary COPY of new measurements built per frame (``streams.measurement_copy``;
docs/perf.md, "Eighth slice (cols)"): the bytes are exactly what psycopg's own binary COPY
formatter makes of ``measurement_rows`` with the table's column types, whatever the frames
hold (any text, any float including NaN and infinities, NULLs in every nullable column, any
time zone, a measurement whose outlet or QN is not its frame's first one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import postgres, pq
from psycopg._copy_base import BinaryFormatter  # psycopg's formatter (pinned 3.3.9)
from psycopg.adapt import Transformer

from schemas.measurement import Measurement, PeriodKind
from streams.domain.frames import Frame, frames_of
from streams.measurement_copy import MEASUREMENT_COLUMNS, measurement_copy_data
from streams.upserts import _copy_statement, measurement_rows

texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
numbers = st.one_of(st.none(), st.floats(), st.floats(-1e6, 1e6))
times = st.builds(
    lambda at, minutes: at.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1)),
    st.integers(-14 * 60, 14 * 60),
)


@st.composite
def frames(draw: st.DrawFn) -> list[Measurement]:
    """One frame's measurements, sharing the frame's objects as ``normalize_packet``'s do."""
    device, period = draw(texts), draw(st.sampled_from(list(PeriodKind)))
    start, received = draw(times), draw(times)
    outlet, qn = draw(st.none() | texts), draw(st.none() | texts)
    measurements = []
    for _ in range(draw(st.integers(1, 5))):
        values = [draw(numbers) for _ in range(7)]
        measurements.append(
            Measurement(
                device, draw(texts), draw(texts), period, start, received, 1,
                draw(st.sampled_from([outlet, outlet, None, "O-other"])),
                *values,
                draw(st.sampled_from(["N", "F", "M", "x", "标"])),
                draw(st.sampled_from([qn, qn, None, "QN-other"])),
            )
        )  # fmt: skip
    return measurements


def psycopg_copy(rows: list[tuple[object, ...]]) -> bytes:
    """What psycopg's binary COPY sends for ``rows`` with the sink's column types."""
    _, types = _copy_statement("measurements", MEASUREMENT_COLUMNS)
    transformer = Transformer()
    oids = [postgres.types.get(name).oid for name in types]  # type: ignore[union-attr]
    transformer.set_dumper_types(oids, pq.Format.BINARY)
    formatter = BinaryFormatter(transformer)
    data = bytearray()
    for row in rows:
        data += formatter.write_row(row)
    data += formatter.end()
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(frames(), max_size=6))
def test_frames_copy_data_is_psycopgs_binary_copy_of_the_rows(
    batch: list[list[Measurement]],
) -> None:
    measurements = [m for frame in batch for m in frame]
    # one row per measurement (the COPY does not deduplicate keys: its caller's contract)
    expected = psycopg_copy([measurement_rows([m])[0] for m in measurements])
    assert measurement_copy_data(frames_of(measurements)) == expected


def test_a_drain_frame_is_the_rows_psycopg_would_send() -> None:
    start = datetime(2026, 3, 2, 10, 1, tzinfo=timezone(timedelta(hours=8)))
    received = datetime(2026, 3, 2, 2, 1, 3, 250_000, tzinfo=UTC)
    frame = [
        Measurement("MN1", f, f, PeriodKind.MINUTE, start, received, 1, "O1",
                    avg=1.5 * n, min=1.0, max=None if n else 2.0, flag="DN"[n % 2], qn="Q1")
        for n, f in enumerate(("a21026", "a21002", "a34013"))
    ]  # fmt: skip
    data = measurement_copy_data([Frame("MN1", PeriodKind.MINUTE, start, received, frame)])
    assert data == psycopg_copy(measurement_rows(frame))


def test_no_frames_is_an_empty_copy() -> None:
    assert measurement_copy_data([]) == psycopg_copy([])


def test_a_naive_time_is_refused() -> None:
    at = datetime(2026, 3, 2, 10)
    m = Measurement("MN1", "a21026", "a21026", PeriodKind.MINUTE, at, at, avg=1.0)
    with pytest.raises(TypeError):
        measurement_copy_data(frames_of([m]))
