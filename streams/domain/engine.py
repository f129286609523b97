"""The stream engine: per-device event-time windows over normalized measurements.

The same ``Engine`` is driven by the offline replay (``streams.replay``) and by the faust
worker, so replay equals streaming by construction. It does no I/O: what was already written
is read through a ``Store`` (``streams.domain.store``) by its one hydration entry,
``prepare(measurements, store)``, which drives ``hydrate`` / ``hydrate_year`` and the rest.

Contract (docs/processing.md), with these refinements:

- ``missing_hours`` may return a whole China day of device-hours: when a measurement touches
  a day the engine holds no state for (a new day, a restart, late data for a day already
  dropped), every hour of that day it does not hold is listed, because the daily aggregate
  needs all of them. Adapters should fetch them in one query per (device, day).
- ``hydrate_year(outlet_id, factor, year, ytd)`` accepts either the contract's float (a
  year-to-date load carried as an opaque prior) or, preferably, a mapping China day → daily
  load (kg) as stored: with per-day loads a day the engine closes again after a crash or a
  replay replaces its stored value instead of being counted twice.
- Unknown devices (not in the registry) are ignored by every method and counted in
  ``skipped``; ``normalize_packet`` refuses them before they get here.
- Silence is found on two clocks (``streams.domain.quality``): ``tick(now)`` reports a
  device silent on the wall clock while it is, and ``ingest`` reports a gap in event time
  (DataTime) when a device's data resume past its watermark by more than the allowed
  silence, as a retroactive ``silent`` pair, unless ``tick`` already reported that outage.
  The event-time rule is what replay reproduces; after a restart it works from the
  watermark given by ``hydrate_watermark``.
- ``tick(now)`` also closes the windows of devices it finds silent (their last hour and day
  would otherwise wait for data that do not come), comparing window ends with ``now``. It
  knows the devices this engine has received data from, and those it was told to
  ``expect`` (a worker's devices after a restart or a rebalance: silent if nothing arrives).
- ``forget(device_ids)`` drops the state of devices this engine no longer owns (a revoked
  partition); ``hydration_plan`` / ``hydrate_watermark`` / ``hydrate_closed`` rebuild the
  closed hours of a day from their stored hourly aggregates (``HourSummary`` is all a closed
  hour gives its day), so only the hours a batch touches and the open ones are re-read as
  minutes.
- ``use_registry(registry)`` swaps in a newly published registry version between two calls:
  the windows held stay open and close under the new limits, quotas and policy, stamped
  with the new ``registry_version``; devices the new version lacks are forgotten.
- Extra read-only ``held_windows()`` (hour buffers, day states) for the worker's
  ``windows_held`` metric.

Windows: an hour closes when the device's watermark (the latest event time of its rtd/minute
data: sampling instant, or minute end) passes hour end + ``policy.grace_minutes``; a day when
it passes day end + grace. Data from more than ``policy.clock_skew_seconds`` in the future of
their ``received_at`` do not advance the watermark. Late data for a closed hour (after
``hydrate``) re-aggregate it and re-issue the aggregates and verdicts that changed, then the
day (and the annual verdicts of the days after it). Only what a closed hour contributes to
its day is kept (``HourSummary``); a closed day is kept one more day for late data, then
dropped. Loads and means are order-independent (``math.fsum``), so feeding the same data in
any order or batching ends with the same latest outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import repeat

from schemas.alert import QualitySignal
from schemas.measurement import AggregateValue, Measurement, PeriodKind
from schemas.registry import AlertPolicy, Registry
from streams.domain.annual import YearLedger
from streams.domain.annual_substitution import SubstitutedLoad
from streams.domain.context import device_context
from streams.domain.daily import HourSummary
from streams.domain.frames import Frame, frames_of
from streams.domain.load_substitution import RateHistory, StoredRates
from streams.domain.minutes import add_frame
from streams.domain.periods import (
    DAY,
    HOUR,
    MINUTE,
    day_hours,
    day_start,
    hour_start,
)
from streams.domain.rebuild import rebuild_signals, recent_span
from streams.domain.store import AGGREGATED as AGGREGATED
from streams.domain.store import WATERMARK_REACH, RateKey, Store, StoredYear
from streams.domain.store import DeviceHour as DeviceHour
from streams.domain.windows import CLOSED_DAY_RETENTION as CLOSED_DAY_RETENTION
from streams.domain.windows import DayState, DeviceState, WindowCloser, add_reading
from streams.domain.windows import Output as Output
from streams.domain.windows import YearKey as YearKey


@dataclass(frozen=True, slots=True)
class HydrationPlan:
    """The device-hours a batch needs from the store (``Engine.hydration_plan``)."""

    minutes: frozenset[DeviceHour]
    """Hours the batch touches: ``hydrate`` them with their stored minutes."""
    closed: frozenset[DeviceHour]
    """Other hours of the days to rebuild: ``hydrate_closed`` with their stored hourly
    aggregates, and ``hydrate`` with minutes those it refuses."""


@dataclass(frozen=True, slots=True)
class RegistrySwap:
    """What ``Engine.use_registry`` changed: the versions and the devices it dropped."""

    previous_version: str
    version: str
    dropped: tuple[str, ...]
    """MNs the engine held state for that the new registry no longer has."""


class Engine:
    """Aggregation, judgement and quality signals for every device of one registry.

    Not thread-safe; call from one task. Every method returns at once (no I/O).
    """

    def __init__(self, registry: Registry) -> None:
        self._devices: dict[str, DeviceState] = {}
        self._unknown: set[str] = set()
        self._years: dict[YearKey, YearLedger] = {}
        self._years_ready: set[tuple[str, int]] = set()
        """(device, China year) whose annual quotas' ledgers are all held (``missing_years``)."""
        self._rates: dict[tuple[str, str], RateHistory] = {}
        self._set_registry(registry)
        self.skipped = 0
        """Measurements of devices the registry does not know, ignored so far."""

    @property
    def registry_version(self) -> str:
        """Version of the registry the engine judges with (``Registry.version``)."""
        return self._registry.version

    @property
    def skew(self) -> timedelta:
        """Data further ahead of their ``received_at`` than this never move a watermark."""
        return self._skew

    def held_windows(self) -> tuple[int, int]:
        """(hour buffers, day states) held in memory, over all devices (for metrics)."""
        hours = sum(len(state.hours) for state in self._devices.values())
        days = sum(len(state.days) for state in self._devices.values())
        return hours, days

    # -- ownership (the worker's partitions) -------------------------------------------------

    def expect(self, device_ids: Iterable[str], since: datetime) -> None:
        """Watch these registry devices for silence from ``since`` (wall clock) even if this
        engine never receives their data: ``tick`` reports one silent once nothing arrived
        for ``policy.silence_intervals × interval_s`` after ``since``. Devices already heard
        from, or already expected, keep their own starting point."""
        for mn in device_ids:
            state = self._device(mn)
            if state is None or state.quality.last_received is not None:
                continue
            if state.quality.expected_since is None:
                state.quality.expected_since = since

    def forget(self, device_ids: Iterable[str]) -> None:
        """Drop every state of these devices (windows, quality, and the year-to-date loads
        of their outlets); what they need later is asked for again through hydration."""
        self._years_ready.clear()  # ledgers of the devices' outlets go (shared by others)
        # One pass over the ledgers and rates for all the devices: a rebalance forgets half a
        # worker's devices, and a pass per device was quadratic (docs/perf.md, eighth slice).
        devices = set(device_ids)
        outlets: set[str] = set()
        for mn in devices:
            state = self._devices.pop(mn, None)
            self._unknown.discard(mn)
            if state is not None:
                outlets.add(state.context.outlet_id)
        for key in [k for k in self._years if k[0] in outlets]:
            del self._years[key]
        for rate_key in [k for k in self._rates if k[0] in devices]:
            del self._rates[rate_key]

    # -- registry (hot reload) ---------------------------------------------------------------

    def use_registry(self, registry: Registry) -> RegistrySwap:
        """Judge with ``registry`` from now on (a new version published while running).

        Devices it still holds get their new context (outlet, limits, reference O2, quotas,
        interval, ``registry_version``) and keep their windows: the hours and days that close
        from now on are aggregated and judged under ``registry`` and carry its version, while
        outputs already returned stay as they were. Devices it no longer holds are dropped as
        by ``forget`` (their later data are skipped, as ``normalize_packet`` refuses them);
        devices it adds start on their first data. The policy (grace, clock-skew bound,
        silence, validity) is ``registry``'s from now on. Swapping in an equal registry
        changes no output. Returns what changed, for the log and the metrics.
        """
        previous = self._registry.version
        self._set_registry(registry)
        dropped: list[str] = []
        for mn, state in self._devices.items():
            context = device_context(registry, mn)
            if context is None:
                dropped.append(mn)
            else:
                state.context = context
        self.forget(dropped)
        self._unknown.clear()  # an MN unknown so far may be one the new registry adds
        return RegistrySwap(previous, registry.version, tuple(sorted(dropped)))

    def _set_registry(self, registry: Registry) -> None:
        self._registry = registry
        self._policy = registry.policy
        self._grace = timedelta(minutes=registry.policy.grace_minutes)
        # Data further in the future never advance a watermark; a policy of 0 (no clock-skew
        # signal) keeps this guard at the default tolerance.
        skew_s = registry.policy.clock_skew_seconds or AlertPolicy().clock_skew_seconds
        self._skew = timedelta(seconds=skew_s)
        self._closer = WindowCloser(registry, self._years, self._rates)
        self._years_ready = set()  # the new version's quotas may differ

    # -- hydration ---------------------------------------------------------------------------

    def missing_hours(self, measurements: Sequence[Measurement]) -> set[DeviceHour]:
        """Device-hours these measurements touch that the engine holds no state for."""
        missing, whole = self._missing(measurements)
        for device, days in whole.items():
            for start in days:
                missing.update(zip(repeat(device), day_hours(start)))
        return missing

    def _missing(
        self, measurements: Sequence[Measurement]
    ) -> tuple[set[DeviceHour], dict[str, set[datetime]]]:
        """``missing_hours`` with the whole days of devices that hold no hour apart (device →
        day starts: every hour of those days is missing) instead of as 24 keys a day."""
        missing: set[DeviceHour] = set()
        whole: dict[str, set[datetime]] = {}
        seen: set[DeviceHour] = set()
        for measurement in measurements:
            if measurement.period not in AGGREGATED:
                continue
            key = (measurement.device_id, hour_start(measurement.period_start))
            if key in seen:
                continue
            seen.add(key)
            state = self._device(key[0])
            if state is None or key[1] in state.hours:
                continue
            day = day_start(key[1])
            if day in state.days:
                missing.add(key)
                continue
            days = [day]
            if measurement.period_start < day + self._grace and day - DAY not in state.days:
                days.append(day - DAY)  # yesterday may still be open: its hours are needed
            held, device = state.hours, key[0]
            if not held:  # a device just met: its whole days (no per-hour key)
                if (whole_days := whole.get(device)) is None:
                    whole[device] = set(days)
                else:
                    whole_days.update(days)
                continue
            for start in days:
                missing.update((device, h) for h in day_hours(start) if h not in held)
        return missing, whole

    def prepare(self, measurements: Sequence[Measurement], store: Store) -> None:
        """``prepare_frames`` of the frames of ``measurements`` (``frames.frames_of``)."""
        self.prepare_frames(frames_of(measurements), store)

    def prepare_frames(self, batch: Sequence[Frame], store: Store) -> None:
        """Give the engine what ``store`` holds for the windows these measurements need and
        it holds no state for; call before ``ingest_frames(batch)``. The one hydration entry
        of the worker (``streams.pipeline``) and the replay (``streams.replay``).

        Reads at most six times, only when something is missing: whether the store holds
        anything in the days of devices that hold no hour (``stored_devices``: a new device
        of which it holds nothing gets its days held without a read per hour), the closed
        hours of the days to rebuild from their stored hourly aggregates (``closed_hours``;
        their stored watermark first), then the minutes of the hours the batch touches and
        of the closed hours the aggregates did not suffice for (``device_hours``), the daily
        loads and
        substitutions of the years it lacks (``daily_years``: one read), the rates before
        open days (``rate_histories``) and a fresh device's latest values (``recent``).
        Blocks as long as the store does; raises what the store raises, then the engine may
        hold part of the state (it is re-read on use).
        A device it did not hold gets its signal state (flagged runs, flatline, evasion
        rules) rebuilt from its latest stored values (``recent``, ``hydrate_signals``).
        """
        frames = [frame.measurements[0] for frame in batch]  # what the plans read of a frame
        fresh = self._fresh_devices(frames)
        hours, closed = self._split_plan(frames, store)
        years = self.missing_years(frames)
        if closed:
            held = self._devices  # every device of a planned hour is held (missing_hours)
            outlets = {d: held[d].context.outlet_id for d in {d for d, _ in closed}}
            stored = store.closed_hours(closed, outlets, self.skew)
            for device, watermark in sorted(stored.watermarks.items()):
                self.hydrate_watermark(device, watermark)
            # An hour without stored aggregates changes nothing in hydrate_closed (so in any
            # order, unsorted: a new device's day is most of a batch's keys; hydrate_closed
            # (k, []) inlined: False unless the hour is held); the others are rebuilt in time
            # order. One pass over the keys.
            hourly, minutes = stored.hourly, hours.add
            rebuilt: list[DeviceHour] = []
            for k in closed:
                if hourly.get(k):
                    rebuilt.append(k)
                elif k[1] not in held[k[0]].hours:
                    minutes(k)
            rebuilt.sort()
            hours |= {k for k in rebuilt if not self.hydrate_closed(k, hourly[k])}
        if hours:
            self.hydrate_hours(hours, store.device_hours(hours))
        if years:
            stored_years = store.daily_years(years)
            for outlet_id, factor, year in sorted(years):
                found = stored_years.get((outlet_id, factor, year), StoredYear())
                self.hydrate_year(outlet_id, factor, year, found.loads, found.substituted)
        rate_keys = self._missing_rates(frames)
        if rate_keys:
            stored_rates = store.rate_histories(rate_keys)
            for key in sorted(rate_keys):
                self.hydrate_rates(key, stored_rates.get(key, StoredRates()))
        if fresh:
            recent = store.recent(fresh, recent_span(self._policy), self.skew)
            for device_id in sorted(fresh):
                self.hydrate_signals(device_id, recent.get(device_id, []))

    def hydrate_signals(self, device_id: str, stored: Sequence[Measurement]) -> None:
        """Rebuild the flagged, flatline, clock-skew and evasion state of a device the engine
        just started to hold from its latest stored values (``streams.domain.rebuild``)."""
        state = self._device(device_id)
        if state is not None:
            rebuild_signals(state, stored, self._closer, self._policy)

    def hydrate_rates(self, key: RateKey, stored: StoredRates) -> None:
        """The stored valid hourly rates before a day (``Store.rate_histories``): the basis
        of that day's load substitution, and the device's rolling history when it has none."""
        device_id, _, factor, day = key
        state = self._device(device_id)
        if state is None:
            return
        day = day_start(day)
        history = RateHistory.stored(day, stored)
        day_state = state.days.get(day)
        if (device_id, factor) not in self._rates:
            self._rates[(device_id, factor)] = history  # rolls on from this day's close
        elif day_state is not None and factor not in day_state.bases:
            day_state.bases[factor] = history  # a day older than the rolling history

    def _missing_rates(self, measurements: Sequence[Measurement]) -> set[RateKey]:
        """(device, outlet, factor, day) whose rates before the day the engine lacks: the
        devices' factors with a daily quota without a rolling history (from their earliest
        open day), and open days older than the history that have no basis (rebuilt)."""
        keys: set[RateKey] = set()
        devices, rates = self._devices, self._rates
        for device_id in {m.device_id for m in measurements}:  # a set of keys: any order
            state = devices.get(device_id)
            if state is None:
                continue
            context = state.context
            quotas = context.daily_quota_factors
            if not quotas:
                continue
            open_days = sorted(d for d, ds in state.days.items() if not ds.closed or ds.dirty)
            for factor in quotas:
                history = rates.get((device_id, factor))
                for day in open_days:
                    basis = state.days[day].bases.get(factor)
                    if basis is None and (history is None or history.start > day):
                        keys.add((device_id, context.outlet_id, factor, day))
                        if history is None:
                            break  # the earliest open day starts the rolling history
        return keys

    def _fresh_devices(self, measurements: Sequence[Measurement]) -> dict[str, datetime]:
        """Registry devices of ``measurements`` the engine holds no state for, each with the
        latest period start of its values here (where its stored data are looked for)."""
        fresh: dict[str, datetime] = {}
        for m in measurements:
            if m.device_id in self._devices or m.device_id in self._unknown:
                continue
            if m.device_id not in fresh or m.period_start > fresh[m.device_id]:
                fresh[m.device_id] = m.period_start
        return fresh

    def hydration_plan(self, measurements: Sequence[Measurement]) -> HydrationPlan:
        """``missing_hours`` split into the hours these measurements touch (re-read as
        minutes) and the other hours of the days to rebuild (closed ones need only their
        stored hourly aggregates: ``hydrate_watermark`` then ``hydrate_closed``)."""
        missing = self.missing_hours(measurements)
        touched = {
            (m.device_id, hour_start(m.period_start))
            for m in measurements
            if m.period in AGGREGATED
        }
        return HydrationPlan(frozenset(missing & touched), frozenset(missing - touched))

    def _split_plan(
        self, measurements: Sequence[Measurement], store: Store
    ) -> tuple[set[DeviceHour], set[DeviceHour]]:
        """``hydration_plan``'s (minutes, closed) as sets of their own (no frozen copies),
        without the hours of devices that hold none and of which ``store`` has nothing in
        those days (``Store.stored_devices``): those are held at once, nothing to read."""
        missing, whole = self._missing(measurements)
        touched = {
            (m.device_id, hour_start(m.period_start))
            for m in measurements
            if m.period in AGGREGATED
        }
        if whole:
            held = self._devices
            # what closed_hours / device_hours of those days could find (and the watermark
            # read's reach past the last hour): the store says whether anything is there
            spans = {d: (min(days), max(days) + DAY + WATERMARK_REACH) for d, days in whole.items()}
            stored = store.stored_devices(spans, {d: held[d].context.outlet_id for d in whole})
            for device, days in whole.items():
                if device in stored:
                    for start in days:
                        missing.update(zip(repeat(device), day_hours(start)))
                else:  # as closed_hours + device_hours finding nothing would leave it
                    state = held[device]
                    for start in sorted(days):
                        state.hold_hours(day_hours(start))
        minutes = missing & touched
        missing -= minutes
        return minutes, missing

    def hydrate_watermark(self, device_id: str, stored: datetime | None) -> None:
        """The watermark of the device's stored data (latest rtd/minute event time, data
        beyond the clock-skew bound left out), or any earlier time: it never moves back."""
        state = self._device(device_id)
        if state is None or stored is None:
            return
        if state.watermark is None or stored > state.watermark:
            state.watermark = stored

    def hydrate_closed(self, device_hour: DeviceHour, stored: Sequence[AggregateValue]) -> bool:
        """Rebuild a closed hour from its stored hourly aggregates (all factors).

        Returns False, changing nothing, when they do not suffice: no aggregate is stored
        or the hour is not closed under the device's watermark (an hour closed by ``tick``
        may have received data since); the caller then ``hydrate``s it from its minutes.
        """
        state = self._device(device_hour[0])
        if state is None:
            return True
        hour = hour_start(device_hour[1])
        rows = [
            a
            for a in stored
            if a.device_id == state.context.device_id
            and a.period is PeriodKind.HOUR
            and a.period_start == hour
        ]
        closed = state.watermark is not None and hour + HOUR + self._grace <= state.watermark
        if not rows or not closed or hour in state.hours:
            return hour in state.hours
        day_state = state.days.setdefault(day_start(hour), DayState())
        for row in rows:
            canonical = row.model_copy(
                update={"period_start": hour, "flag_counts": dict(sorted(row.flag_counts.items()))}
            )
            day_state.hours.setdefault(row.factor, {})[hour] = HourSummary.of(canonical)
        return True

    def hydrate_hours(
        self, hours: Iterable[DeviceHour], stored: Mapping[DeviceHour, Sequence[Measurement]]
    ) -> None:
        """``hydrate`` each of ``hours`` (hour starts, as ``missing_hours`` lists them) with
        its ``stored`` minutes (``Store.device_hours``; a key absent: nothing stored). The
        hours with nothing stored are held per device in one step (``DeviceState.hold_hours``:
        a new device's day is most of a batch's keys), the others one by one: each hour's
        buffer is independent, so the order does not matter."""
        empty: dict[str, list[datetime]] = {}
        for device_hour in hours:
            found = stored.get(device_hour)
            if found:
                self.hydrate(device_hour, found)
            elif (hours_of := empty.get(device_hour[0])) is None:
                empty[device_hour[0]] = [device_hour[1]]
            else:
                hours_of.append(device_hour[1])
        for device_id, nothing_stored in empty.items():
            state = self._device(device_id)
            if state is not None:
                state.hold_hours(map(hour_start, nothing_stored))

    def hydrate(self, device_hour: DeviceHour, stored: Sequence[Measurement]) -> None:
        """Give the engine what the store holds for ``device_hour`` ([] is fine). Re-sent
        values replace earlier ones, so overlap with later ``ingest`` calls is harmless."""
        state = self._device(device_hour[0])
        if state is None:
            return
        hour = hour_start(device_hour[1])
        buffer = state.open_hour(hour) if stored else state.hold_hour(hour)
        for measurement in stored:
            if (
                measurement.device_id == state.context.device_id
                and measurement.period in AGGREGATED
                and hour_start(measurement.period_start) == hour
            ):
                add_reading(buffer, measurement)

    def missing_years(self, measurements: Sequence[Measurement]) -> set[YearKey]:
        """(outlet, factor, year) with an annual quota that these measurements may close a
        day of and for which the engine holds no year-to-date state.

        A device and year found complete (every annual quota's ledger held) is remembered,
        so a hydrated device costs one look-up per frame; ``forget`` and a registry swap
        (quotas may change) clear that memory."""
        missing: set[YearKey] = set()
        ready, years, reach = self._years_ready, self._years, DAY + self._grace
        for measurement in measurements:
            device, start = measurement.device_id, measurement.period_start
            for year in (day_start(start).year, day_start(start - reach).year):
                if (device, year) in ready:
                    continue
                state = self._device(device)
                if state is None:
                    break
                outlet = state.context.outlet
                lacking = {
                    (outlet.id, factor, year)
                    for factor, quota in outlet.load_quotas.items()
                    if quota.annual_kg is not None and (outlet.id, factor, year) not in years
                }
                if lacking:
                    missing |= lacking
                else:
                    ready.add((device, year))
        return missing

    def hydrate_year(
        self,
        outlet_id: str,
        factor: str,
        year: int,
        ytd_load_kg: float | Mapping[date, float],
        substituted: Mapping[date, SubstitutedLoad] | None = None,
    ) -> None:
        """Stored daily loads (China day → kg) of ``year`` with their HJ 75-2017 substituted
        kg (``Store.daily_years``), or a year-to-date total, for the annual quota.
        Days the engine has closed itself keep the engine's value."""
        ledger = self._years.setdefault((outlet_id, factor, year), YearLedger())
        ledger.hydrate(year, ytd_load_kg, substituted)

    # -- processing --------------------------------------------------------------------------

    def ingest(self, measurements: Sequence[Measurement]) -> list[Output]:
        """Add measurements; return the aggregates, verdicts and quality signals that closed
        or changed. Hours not hydrated are treated as hydrated with [].

        The measurements are taken as the frames they come in (``frames.frames_of``: runs
        alike in device, period, period start and ``received_at``): ``ingest_frames``."""
        return self.ingest_frames(frames_of(measurements))

    def ingest_frames(self, frames: Sequence[Frame]) -> list[Output]:
        """``ingest`` of frames (``streams.domain.frames``; the worker's decoder makes them).

        Each device's frames are taken in the order given (its partition order, as one
        frame at a time would take them: a back-fill (补发) after the live data that ended
        a gap is observed after them), devices in MN order; then every device's watermark
        moves, and what it passed closes. Per frame the device-wide work is done once: the
        hour buffer, reception and clock (``DeviceQuality.observe_frame``) and the watermark.
        """
        outputs: list[Output] = []
        by_device: dict[str, list[Frame]] = {}
        for frame in frames:
            items = by_device.get(frame.device_id)
            if items is None:
                by_device[frame.device_id] = [frame]
            else:
                items.append(frame)
        advancing: list[tuple[DeviceState, list[Measurement]]] = []
        for device_id in sorted(by_device):
            items = by_device[device_id]
            state = self._device(device_id)
            if state is None:
                self.skipped += sum(len(frame.measurements) for frame in items)
                continue
            added = self._observe(state, items, outputs)
            if added:
                advancing.append((state, added))
        for state, added in advancing:
            for measurement in added:
                outputs.extend(self._advance(state, measurement))
            if state.watermark is not None:
                outputs.extend(self._closer.close_ripe(state, state.watermark))
        return outputs

    def _observe(
        self, state: DeviceState, frames: list[Frame], outputs: list[Output]
    ) -> list[Measurement]:
        """Observe one device's frames in order and put their values in their hour buffers;
        the first measurement of each frame that added a value (the ones that may move the
        watermark). A frame cut in two (``frames_of``) only costs a redundant, idempotent
        ``observe_frame``."""
        quality, context, policy = state.quality, state.context, self._policy
        closer, emit = self._closer, outputs.append
        added: list[Measurement] = []
        for frame in frames:
            items, period = frame.measurements, frame.period
            outputs.extend(quality.observe_frame(context, items[0], policy))
            if period is PeriodKind.HOUR:  # no per-factor quality (rtd and minute only)
                for measurement in items:
                    outputs.extend(closer.device_hourly(state, measurement))
            elif period in AGGREGATED:
                quality.observe_values(context, items, policy, emit)
                first = add_frame(state.open_hour(hour_start(frame.period_start)), items)
                if first is not None:
                    added.append(first)
        return added

    def close_all(self) -> list[Output]:
        """Close every open window (end of a replay)."""
        outputs: list[Output] = []
        for mn in sorted(self._devices):
            outputs.extend(self._closer.close_ripe(self._devices[mn], None))
        return outputs

    def tick(self, now: datetime) -> list[Output]:
        """Silence detection at wall-clock ``now``; closes the windows of silent devices
        that end (plus grace) before ``now``."""
        outputs: list[Output] = []
        for mn in sorted(self._devices):
            state = self._devices[mn]
            signal = state.quality.check_silence(state.context, now, self._policy)
            if signal is not None:
                outputs.append(signal)
            if state.quality.silent:
                outputs.extend(self._closer.close_ripe(state, now))
        return outputs

    # -- internals ---------------------------------------------------------------------------

    def _device(self, mn: str) -> DeviceState | None:
        state = self._devices.get(mn)
        if state is None and mn not in self._unknown:
            context = device_context(self._registry, mn)
            if context is None:
                self._unknown.add(mn)
                return None
            state = self._devices[mn] = DeviceState(context)
        return state

    def _advance(self, state: DeviceState, measurement: Measurement) -> list[QualitySignal]:
        """Move the device's watermark to ``measurement``'s event time if it is later (and
        not beyond the clock-skew bound); the event-time ``silent`` pair if that ends a gap.

        Called in arrival order (the order of the batch, which is the device's partition
        order), never in the batch's sorted order: data back-filled (补发) after the live
        data that ended a gap must not hide the gap, and the result must not depend on how
        the stream is cut into batches (replay equals streaming)."""
        event = measurement.period_start
        if measurement.period is PeriodKind.MINUTE:
            event += MINUTE
        if measurement.period_start > measurement.received_at + self._skew:
            return []
        previous = state.watermark
        if previous is not None and event <= previous:
            return []
        state.watermark = event
        return state.quality.resume(state.context, previous, measurement.period_start, self._policy)
