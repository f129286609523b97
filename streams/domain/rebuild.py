"""Rebuilding a device's signal state after a restart or a rebalance (issue 13 item 4).

The windows of a device are rebuilt from the store by ``Engine.prepare`` (hours from their
minutes or hourly aggregates, days, years). Its *signal* state is not a window: which factors
are in a flagged run (``flagged``), the run of equal values behind a ``flatline``, the clock
skew, and the evasion rules firing per factor with the previous hour's flow
(``EvasionWatch``). A worker that lost it would raise again, after every restart, a
``flagged`` or ``tampering`` signal that was already raised, and would never clear one that
was (or raise a flatline only after a whole new run).

``rebuild_signals`` recomputes that state from the device's latest stored rtd/minute values
(``Store.recent`` over ``recent_span``): they are observed in time order and their closed hours
are aggregated, judged and put through the evasion rules on a scratch state, whose outputs are
dropped (they were issued before); the scratch state's signal parts are then the device's.
So a restarted worker continues where the one before stopped, as replay (one engine that never
stops) does. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from schemas.measurement import Measurement
from schemas.registry import AlertPolicy
from streams.domain.periods import HOUR, hour_start
from streams.domain.store import AGGREGATED, event_end
from streams.domain.windows import DeviceState, WindowCloser, add_reading

CLOSED_HOURS_NEEDED = 3
"""Closed hours replayed for the evasion rules: the latest, and the one before for the flow
comparison (``flow_bypass``), with one to spare."""


def recent_span(policy: AlertPolicy) -> timedelta:
    """How much of a device's latest stored data rebuilds its signal state: a flatline's
    length (plus a minute, to see the value before the run) or the closed hours the evasion
    rules need (plus the grace and the open hour), whichever is longer."""
    flat = timedelta(minutes=policy.flatline_minutes + 1)
    evasion = (CLOSED_HOURS_NEEDED + 1) * HOUR + timedelta(minutes=policy.grace_minutes)
    return max(flat, evasion)


def rebuild_signals(
    state: DeviceState,
    stored: Sequence[Measurement],
    closer: WindowCloser,
    policy: AlertPolicy,
) -> None:
    """Give ``state`` (a device the engine just started to hold) the signal state that its
    latest ``stored`` values leave; its windows and silence bookkeeping are left alone."""
    mine = [m for m in stored if m.device_id == state.context.device_id and m.period in AGGREGATED]
    if not mine:
        return
    scratch = DeviceState(state.context)
    for measurement in sorted(mine, key=lambda m: (m.period_start, m.factor, m.period)):
        scratch.quality.observe(state.context, measurement, policy)
        add_reading(scratch.open_hour(hour_start(measurement.period_start)), measurement)
    latest: datetime = max(event_end(m) for m in mine)
    grace = timedelta(minutes=policy.grace_minutes)
    for hour in sorted(scratch.hours):
        if hour + HOUR + grace <= latest:
            closer.close_hour(scratch, hour)
    quality = state.quality
    quality.flagged = scratch.quality.flagged
    quality.runs = scratch.quality.runs
    quality.last_event = scratch.quality.last_event
    quality.clock_skewed = scratch.quality.clock_skewed
    held = state.evasion.held_hourly
    state.evasion = scratch.evasion
    state.evasion.held_hourly.update(held)
