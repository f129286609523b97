"""Data-quality signals of one device (design.md, data-quality rung of the alert ladder).

Each signal is emitted only when its condition starts (``active=True``) or ends
(``active=False``), never per measurement:

- ``flagged`` (per factor): a real-time or minute value flagged F/M/C/D/B (stopped,
  maintenance, calibration, fault, communication fault); cleared by the next value with any
  other flag.
- ``flatline`` (per pollutant factor of a gas outlet): the same non-zero valid value for at
  least ``policy.flatline_minutes`` (first value's period start to the latest value's period
  end); cleared when the value changes. Water outlets are left out: their analysers (COD,
  NH3-N, TP, TN; HJ 353–356-2019) measure in cycles, typically an hour, and repeat the last
  result between cycles, so a constant value there is normal.
- ``clock_skew`` (per device): ``|DataTime − received_at| > policy.clock_skew_seconds`` for
  real-time data (DataTime is the sampling instant) and minute data (compared with the end of
  the minute, when it is sent); cleared by the next value within the bound. Minute data
  re-sent long after the fact (补发) also count as skewed: the signal says "this device's
  data arrive far from their time stamps", which an operator should look at either way.
- ``silent`` (per device), on two clocks, with ``allowed = policy.silence_intervals ×
  interval_s`` (an HJ 212-2017 device reports every ``interval_s``; reports that do not come
  are 数据缺失, shuju queshi, missing data):

  * wall clock (``check_silence``, driven by ``Engine.tick(now)``): no data received for
    more than ``allowed`` (counted from ``expected_since`` for a device nothing was received
    from yet: ``last_received_at`` is then null); stamped ``now``, cleared by the next
    measurement (stamped at its ``received_at``). This reports a live device while it is
    silent.
  * event time (``resume``, driven by ``Engine.ingest``): the device's rtd/minute data resume
    after a gap in DataTime longer than ``allowed``, measured from the device's watermark
    (its latest event time so far: sampling instant, or minute end) to the resuming value's
    period start. Emitted as a retroactive pair: ``active=True`` stamped ``last event +
    allowed``, then ``active=False`` stamped at the resume time, both with detail
    ``{"basis": "event_time", "last_event_at", "resumed_at", "gap_seconds",
    "allowed_seconds"}``. Late or re-sent data (not past the watermark) never count, and no
    pair is emitted when the wall clock already reported this outage (a ``silent`` raised by
    ``tick`` and not yet followed by data past the watermark). This is what ``greenwatch
    replay`` and accelerated simulations, where an outage lasts seconds of wall time, see.

Signals follow event time per factor: a value older than the latest one already seen for its
factor (late or re-sent data) does not change the flagged or flatline state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.alert import QualityKind, QualitySignal
from schemas.measurement import INVALID_FOR_COMPLIANCE, Measurement, PeriodKind
from schemas.registry import AlertPolicy, Medium
from streams.domain import factors
from streams.domain.context import DeviceContext
from streams.domain.periods import MINUTE


@dataclass(slots=True)
class _Run:
    """The current run of equal values of one factor."""

    value: float
    since: datetime
    active: bool = False


@dataclass(slots=True)
class DeviceQuality:
    """Quality state of one device: bounded by its number of factors."""

    last_event: dict[str, datetime] = field(default_factory=dict)
    flagged: dict[str, str] = field(default_factory=dict)
    runs: dict[str, _Run] = field(default_factory=dict)
    clock_skewed: bool = False
    silent: bool = False
    silence_reported: bool = False
    """``tick`` raised ``silent`` and no data past the watermark came since: the outage is
    already reported on the wall clock, so its end gives no event-time pair."""
    last_received: datetime | None = None
    expected_since: datetime | None = None
    """Silence is counted from here while nothing was received (``Engine.expect``)."""

    def observe(
        self, device: DeviceContext, measurement: Measurement, policy: AlertPolicy
    ) -> list[QualitySignal]:
        """Signals that start or end with ``measurement`` (call in event-time order)."""
        signals = self.observe_frame(device, measurement, policy)
        self.observe_value(device, measurement, policy, signals.append)
        return signals

    def observe_frame(
        self, device: DeviceContext, measurement: Measurement, policy: AlertPolicy
    ) -> list[QualitySignal]:
        """The device-wide part of ``observe``: reception (``silent`` cleared) and the clock.

        It depends only on the measurement's period, period start and ``received_at``, so a
        frame's measurements (one per factor, all alike in these) need it once: calling it
        again for another measurement of the same frame changes nothing and returns []."""
        signals: list[QualitySignal] = []
        received = measurement.received_at
        if self.last_received is None or received > self.last_received:
            self.last_received = received
        if self.silent:
            self.silent = False
            signals.append(device.signal(None, QualityKind.SILENT, False, received, {}))
        period = measurement.period
        if period is PeriodKind.MINUTE:
            signals.extend(
                self._clock(device, measurement, measurement.period_start + MINUTE, policy)
            )
        elif period is PeriodKind.RTD:
            signals.extend(self._clock(device, measurement, measurement.period_start, policy))
        return signals

    def observe_value(
        self,
        device: DeviceContext,
        measurement: Measurement,
        policy: AlertPolicy,
        emit: Callable[[QualitySignal], object],
    ) -> None:
        """The per-factor part of ``observe`` (flagged, flatline), each signal given to
        ``emit`` (a list's ``append``); call after ``observe_frame`` of its frame."""
        self.observe_values(device, (measurement,), policy, emit)

    def observe_values(
        self,
        device: DeviceContext,
        measurements: Sequence[Measurement],
        policy: AlertPolicy,
        emit: Callable[[QualitySignal], object],
    ) -> None:
        """``observe_value`` of each of one frame's measurements, in order (all alike in
        period and period start: ``streams.domain.frames.Frame``), the frame's fields and the
        device's read once; call after ``observe_frame`` of the frame."""
        if not measurements:
            return
        period = measurements[0].period
        if period is not PeriodKind.MINUTE and period is not PeriodKind.RTD:
            return
        start = measurements[0].period_start
        last_event, flagged, invalid = self.last_event, self.flagged, INVALID_FOR_COMPLIANCE
        gas, pollutant = device.medium is Medium.GAS, factors.is_pollutant
        for measurement in measurements:
            factor = measurement.factor
            last = last_event.get(factor)
            if last is not None and start < last:
                continue
            last_event[factor] = start
            if measurement.flag in invalid or factor in flagged:
                self._flag(device, measurement, emit)  # else: no flagged run starts or ends
            if gas and pollutant(factor):
                self._flatline(device, measurement, policy.flatline_minutes, emit)

    def check_silence(
        self, device: DeviceContext, now: datetime, policy: AlertPolicy
    ) -> QualitySignal | None:
        """The ``silent`` signal when the device just went silent at ``now``, else None."""
        last = self.last_received or self.expected_since
        if last is None or self.silent:
            return None
        allowed = timedelta(seconds=policy.silence_intervals * device.interval_s)
        if now - last <= allowed:
            return None
        self.silent = True
        self.silence_reported = True
        detail: dict[str, Any] = {
            "basis": "wall_clock",
            "last_received_at": self.last_received.isoformat() if self.last_received else None,
            "silent_seconds": (now - last).total_seconds(),
            "allowed_seconds": allowed.total_seconds(),
        }
        if self.last_received is None:
            detail["expected_since"] = last.isoformat()
        return device.signal(None, QualityKind.SILENT, True, now, detail)

    def resume(
        self,
        device: DeviceContext,
        watermark: datetime | None,
        resumed_at: datetime,
        policy: AlertPolicy,
    ) -> list[QualitySignal]:
        """The event-time ``silent`` pair when data resume after a gap (see the module doc).

        Call once for each rtd/minute value that moves the device's watermark forward, with
        the watermark before it (None: nothing seen yet, no gap) and the value's period start
        ``resumed_at``. Returns [] or [active, cleared]; a gap of exactly ``allowed`` is none.
        """
        reported, self.silence_reported = self.silence_reported, False
        if watermark is None or reported:
            return []
        allowed = timedelta(seconds=policy.silence_intervals * device.interval_s)
        gap = resumed_at - watermark
        if gap <= allowed:
            return []
        detail: dict[str, Any] = {
            "basis": "event_time",
            "last_event_at": watermark.isoformat(),
            "resumed_at": resumed_at.isoformat(),
            "gap_seconds": gap.total_seconds(),
            "allowed_seconds": allowed.total_seconds(),
        }
        started = watermark + allowed
        return [
            device.signal(None, QualityKind.SILENT, True, started, detail),
            device.signal(None, QualityKind.SILENT, False, resumed_at, detail),
        ]

    def _clock(
        self, device: DeviceContext, measurement: Measurement, sent: datetime, policy: AlertPolicy
    ) -> list[QualitySignal]:
        skew = (measurement.received_at - sent).total_seconds()
        limit = policy.clock_skew_seconds
        skewed = limit > 0 and abs(skew) > limit  # 0 turns the check off, as in the gateway
        if skewed == self.clock_skewed:
            return []
        self.clock_skewed = skewed
        detail = {
            "skew_seconds": skew,
            "data_time": measurement.period_start.isoformat(),
            "received_at": measurement.received_at.isoformat(),
            "allowed_seconds": policy.clock_skew_seconds,
        }
        return [
            device.signal(None, QualityKind.CLOCK_SKEW, skewed, measurement.received_at, detail)
        ]

    def _flag(
        self,
        device: DeviceContext,
        measurement: Measurement,
        emit: Callable[[QualitySignal], object],
    ) -> None:
        factor, flag = measurement.factor, measurement.flag
        previous = self.flagged.get(factor)
        if previous is None:
            if flag in INVALID_FOR_COMPLIANCE:
                self.flagged[factor] = flag
                at = measurement.period_start
                detail = {"flag": flag}
                emit(device.signal(factor, QualityKind.FLAGGED, True, at, detail))
        elif flag not in INVALID_FOR_COMPLIANCE:
            del self.flagged[factor]
            at = measurement.period_start
            detail = {"flag": flag, "previous_flag": previous}
            emit(device.signal(factor, QualityKind.FLAGGED, False, at, detail))

    def _flatline(
        self,
        device: DeviceContext,
        measurement: Measurement,
        flatline_minutes: int,
        emit: Callable[[QualitySignal], object],
    ) -> None:
        """Call for pollutants at gas outlets only (``observe_value`` checks)."""
        period = measurement.period
        value = measurement.rtd if period is PeriodKind.RTD else measurement.avg
        if value is None or measurement.flag in INVALID_FOR_COMPLIANCE:
            return
        factor = measurement.factor
        start = measurement.period_start
        run = self.runs.get(factor)
        if run is None:
            self.runs[factor] = _Run(value, start)
            return
        if run.value != value:  # a new run: the run is reused (one per factor, held)
            if run.active:
                ended = {"value": run.value, "new_value": value}
                emit(device.signal(factor, QualityKind.FLATLINE, False, start, ended))
            run.value, run.since, run.active = value, start, False
            return
        if run.active or value == 0.0:
            return
        end = start + MINUTE if period is PeriodKind.MINUTE else start
        duration = end - run.since
        if duration < timedelta(minutes=flatline_minutes):
            return
        run.active = True
        detail: dict[str, Any] = {
            "value": value,
            "since": run.since.isoformat(),
            "minutes": duration.total_seconds() / 60,
        }
        emit(device.signal(factor, QualityKind.FLATLINE, True, start, detail))
