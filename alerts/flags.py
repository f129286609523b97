"""Flags against declared windows: an F/M/C/D/B run nobody declared beforehand is a signal.

The launder trick (issue 13): exceedance values sent with flag M or C (maintenance,
calibration) are invalid for compliance (HJ 75-2017, HJ 212-2017 flags), so the hour is never
judged. Flagged data are accepted as invalid only inside a window the enterprise declared
**beforehand** (``alerts maintenance``; ``MaintenanceWindow.declared_beforehand``: covering the
run's first flagged minute and declared at or before it) or within a policy allowance
(``AlertPolicy.flag_allowance_minutes``: a run of that flag no longer than this, e.g. the daily
automatic calibration). Otherwise the streams' ``flagged`` signal raises, besides its own
data-quality alert, the alert ``<device>/<factor>/quality.undeclared_flag`` (basis
``hj75_undeclared_flag``):

- pending for the flag's allowance (0 for flags without one), counted from the run's start
  (the signal's ``observed_at``): a run that ends within it is withdrawn, no notice;
- then fired escalated at once: the enterprise and the regulator are told together;
- it resolves when the flagged run ends (the streams' cleared ``flagged`` signal).

Signals are applied in ``observed_at`` order per key (replays change nothing).

An **hour invalid because of such flags** (issue 13 item 3) is recorded on the same alert: an
hourly verdict that is ``invalid`` with ``invalid_cause: flags`` and flags beyond their
allowance in the hour (``flag_allowance_exceeded``, ``streams.domain.capture``), for an hour
no window declared beforehand overlaps, is a ``case`` of
``<device>/<factor>/quality.undeclared_flag`` (escalated at once; the evidence names the hour
and its flags). It opens the
alert if the flagged run's own alert is closed, and then resolves ``quality_resolve_minutes``
after the hour, as a downward revision does. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from alerts.ladder import Basis
from alerts.model import (
    DAY_PERIOD,
    AlertKey,
    Clear,
    MaintenanceWindow,
    Mark,
    Marks,
    Raise,
    quality_alert_key,
    quality_rule,
)
from alerts.rules import QUALITY_WINDOW, Assessment, period_key
from schemas.alert import AlertLevel, QualityKind, QualitySignal
from schemas.registry import AlertPolicy
from schemas.verdict import Rule, Verdict, VerdictStatus

RULE = quality_rule(QualityKind.UNDECLARED_FLAG.value)


def undeclared_key(signal: QualitySignal) -> AlertKey:
    """The undeclared-flag alert of the signal's device and factor."""
    return quality_alert_key(
        signal.device_id, signal.factor, QualityKind.UNDECLARED_FLAG.value, None
    )


def declared_window(
    windows: Iterable[MaintenanceWindow],
    enterprise_id: str,
    outlet_id: str | None,
    signal: QualitySignal,
) -> MaintenanceWindow | None:
    """A window covering the flagged run's start that was declared by then (None: none)."""
    at = signal.observed_at
    return next((w for w in windows if w.declared_beforehand(enterprise_id, outlet_id, at)), None)


def declared_for_hour(
    windows: Iterable[MaintenanceWindow], enterprise_id: str, outlet_id: str | None, hour: datetime
) -> MaintenanceWindow | None:
    """A window overlapping the hour from ``hour`` that was declared by the time it began to
    cover it (None: none)."""
    end = hour + timedelta(hours=1)
    for w in windows:
        if w.starts_at >= end or w.ends_at <= hour:
            continue
        start = max(w.starts_at, hour)
        if w.declared_beforehand(enterprise_id, outlet_id, start):
            return w
    return None


def flagged_hour_key(verdict: Verdict) -> AlertKey | None:
    """The undeclared-flag alert an hour invalid by flags belongs to (its device, factor)."""
    device = verdict.evidence.get("device_id")
    if not device:
        return None
    return quality_alert_key(str(device), verdict.factor, QualityKind.UNDECLARED_FLAG.value, None)


def windows_needed_since(signal: QualitySignal) -> datetime:
    """The earliest time the maintenance windows a signal is checked against may end after:
    its ``observed_at``, or the start of its day for a day-level signal (``detail.period``)."""
    if signal.detail.get("period") == DAY_PERIOD:
        return signal.observed_at - timedelta(days=1)
    return signal.observed_at


def undeclared_budget(
    signal: QualitySignal,
    windows: Iterable[MaintenanceWindow],
    enterprise_id: str,
    outlet_id: str | None,
) -> QualitySignal:
    """A day's flag-budget signal (``undeclared_flag`` with ``detail.period: "day"``, the
    streams' ``flag_budget``) without the hours beyond the budget that a window declared
    beforehand covers; cleared when none is left. Any other signal is returned as it is."""
    budgets = signal.detail.get("budgets")
    if (
        signal.kind is not QualityKind.UNDECLARED_FLAG
        or signal.detail.get("period") != DAY_PERIOD
        or not isinstance(budgets, dict)
    ):
        return signal
    left: dict[str, Any] = {}
    declared: list[str] = []
    for flag, budget in sorted(budgets.items()):
        hours = []
        for row in budget.get("over_budget", []):
            hour = datetime.fromisoformat(str(row["hour"]))
            if declared_for_hour(windows, enterprise_id, outlet_id, hour) is None:
                hours.append(row)
            else:
                declared.append(str(row["hour"]))
        if hours:
            left[flag] = {**budget, "over_budget": hours}
    detail = {**signal.detail, "budgets": left, "declared_hours": declared}
    return signal.model_copy(update={"active": bool(left), "detail": detail})


def assess_flagged_hour(
    verdict: Verdict,
    window: MaintenanceWindow | None,
    policy: AlertPolicy,
    registry_version: str,
) -> tuple[Raise, Clear] | None:
    """The machine inputs of an hour invalid because of undeclared flags (None: it is not)."""
    evidence = verdict.evidence
    if verdict.rule is not Rule.HOURLY_CONCENTRATION or verdict.status is not VerdictStatus.INVALID:
        return None
    exceeded = evidence.get("flag_allowance_exceeded")
    if evidence.get("invalid_cause") != "flags" or not exceeded or window is not None:
        return None
    end = verdict.period_start + timedelta(hours=1)
    recorded: dict[str, Any] = {
        "rule": RULE,
        "basis": Basis.UNDECLARED_FLAG.value,
        "kind": QualityKind.UNDECLARED_FLAG.value,
        "device_id": evidence.get("device_id"),
        "factor": verdict.factor,
        "period": verdict.period.value,
        "period_start": verdict.period_start.isoformat(),
        "status": verdict.status.value,
        "observed_at": end.isoformat(),
        "detail": {
            "invalid_hour": verdict.period_start.isoformat(),
            "invalid_cause": "flags",
            "flag_allowance_exceeded": list(exceeded),
            "flag_counts": evidence.get("flag_counts", {}),
            "allowance_minutes": dict(policy.flag_allowance_minutes),
        },
        "registry_version": registry_version,
    }
    raised = Raise(
        AlertLevel.DATA_QUALITY,
        Basis.UNDECLARED_FLAG.value,
        recorded,
        registry_version,
        escalate_after=timedelta(0),
        observed_at=end,
        case=True,
    )
    clear_for = timedelta(minutes=policy.quality_resolve_minutes)
    return raised, Clear(recorded, registry_version, clear_for=clear_for, observed_at=end)


def assess_flag(
    marks: Marks,
    signal: QualitySignal,
    window: MaintenanceWindow | None,
    policy: AlertPolicy,
    registry_version: str,
) -> Assessment:
    """What a ``flagged`` signal means for the key's undeclared-flag alert."""
    key = period_key(signal.observed_at)
    if signal.kind is not QualityKind.FLAGGED or (marks and key <= max(marks)):
        return Assessment(marks, (), changed=False)
    window_marks = dict(
        sorted({**marks, key: Mark("active" if signal.active else "cleared", None, None)}.items())[
            -QUALITY_WINDOW:
        ]
    )
    if not signal.active:
        clear = Clear(
            _evidence(signal, None, registry_version),
            registry_version,
            observed_at=signal.observed_at,
        )
        return Assessment(window_marks, (clear,), changed=True)
    if window is not None:
        return Assessment(window_marks, (), changed=True)
    flag = str(signal.detail.get("flag", ""))
    allowance = timedelta(minutes=policy.flag_allowance_minutes.get(flag, 0))
    raised = Raise(
        AlertLevel.DATA_QUALITY,
        Basis.UNDECLARED_FLAG.value,
        _evidence(signal, allowance, registry_version),
        registry_version,
        pending_for=allowance,
        escalate_after=timedelta(0),
        observed_at=signal.observed_at,
    )
    return Assessment(window_marks, (raised,), changed=True)


def _evidence(
    signal: QualitySignal, allowance: timedelta | None, registry_version: str
) -> dict[str, Any]:
    return {
        "rule": RULE,
        "basis": Basis.UNDECLARED_FLAG.value,
        "kind": QualityKind.UNDECLARED_FLAG.value,
        "active": signal.active,
        "device_id": signal.device_id,
        "factor": signal.factor,
        "observed_at": signal.observed_at.isoformat(),
        "detail": {
            **signal.detail,
            "allowance_minutes": None if allowance is None else allowance.total_seconds() / 60,
        },
        "registry_version": registry_version,
    }
