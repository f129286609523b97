"""A frame's measurements as one unit: the seam between the decoder and the engine.

``normalize_packet`` makes one ``Measurement`` per factor of an HJ 212 frame, and every one of
them carries the frame's device, period, period start and ``received_at`` (the same objects).
The engine's per-frame work (the device's state, reception and clock, the hour buffer, the
instant of the period start, the watermark) is done once per ``Frame`` and only the
per-factor work once per measurement (docs/perf.md, "Seventh slice (frame)"). The worker
builds its frames as it decodes (``streams.pipeline.decode_records``: one per raw record);
anything holding a flat list of measurements (the replay, tests) gets the same frames from
``frames_of``, so both drive the same engine code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from schemas.measurement import Measurement, PeriodKind


class Frame(NamedTuple):
    """The measurements of one frame (one per factor), alike in device, period, period start
    and ``received_at``, with those shared fields read once. ``measurements`` is never empty
    and is taken in its order (a factor repeated in it: the later one wins, as in a batch)."""

    device_id: str
    period: PeriodKind
    period_start: datetime
    received_at: datetime
    measurements: Sequence[Measurement]


def frame_of(measurements: Sequence[Measurement]) -> Frame:
    """The ``Frame`` of one normalised packet's measurements (non-empty, all of one frame:
    what ``normalize_packet`` returns). Pure; raises ``IndexError`` on an empty sequence."""
    first = measurements[0]
    return Frame(first.device_id, first.period, first.period_start, first.received_at, measurements)


def frames_of(measurements: Sequence[Measurement]) -> list[Frame]:
    """The runs of ``measurements`` alike in device, period, period start and ``received_at``,
    in order, as frames. Runs are told apart by identity of those fields (a decoded packet's
    measurements share the objects); equal ones not shared only make a run shorter, and a
    frame cut in two is handled as two frames (idempotent: the same outputs)."""
    frames: list[Frame] = []
    run: list[Measurement] = []
    device: str | None = None
    period: PeriodKind | None = None
    start: datetime | None = None
    received: datetime | None = None
    for m in measurements:
        if (
            m.period_start is not start
            or m.device_id is not device
            or m.received_at is not received
            or m.period is not period
        ):
            if run:
                frames.append(frame_of(run))
            device, period, start, received = m.device_id, m.period, m.period_start, m.received_at
            run = [m]
        else:
            run.append(m)
    if run:
        frames.append(frame_of(run))
    return frames
