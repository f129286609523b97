"""Low data capture (数据捕集率低): an hour judged invalid because too few minutes arrived.

HJ 75-2017 (domain.md §3): a valid hour needs ``valid_minutes_per_hour`` valid minutes. An hour
that is invalid because too few minutes were *reported at all* (valid + flagged minutes below
that number: 20 of 60 minutes sent) is not a flag and not a silent device: it is just
``invalid``, and nobody is told (the launder trick's second form, issue 13). Such an hourly
verdict raises ``<device>/<factor>/quality.low_capture`` (basis ``hj75_low_capture``; the
data-quality key rule ``alerts.model.quality_alert_key``: a low-capture *day* is
``<device>/<factor>/quality.low_capture.day``), a data-quality alert that the enterprise
hears of at once and the regulator when it persists (escalated after
``quality_escalate_hours``, counted from the hour's end); the next hourly verdict with
enough minutes clears it (after ``quality_resolve_minutes``). An hour invalid because of
flags is the business of ``alerts.flags``. Pure: no I/O.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alerts.ladder import Basis
from alerts.model import AlertKey, Clear, Raise, quality_alert_key, quality_rule
from schemas.alert import AlertLevel, QualityKind
from schemas.registry import AlertPolicy
from schemas.verdict import Rule, Verdict, VerdictStatus


def capture_key(verdict: Verdict) -> AlertKey | None:
    """The low-capture alert of the verdict's device and factor (None: the verdict does not
    name its device)."""
    device = verdict.evidence.get("device_id")
    if not device:
        return None
    return quality_alert_key(str(device), verdict.factor, QualityKind.LOW_CAPTURE.value, None)


def reported_minutes(verdict: Verdict) -> tuple[int, int] | None:
    """(minutes reported, minutes required) of an hourly verdict, None when unknown."""
    evidence = verdict.evidence
    try:
        reported = int(evidence["valid_minutes"]) + int(evidence.get("invalid_minutes", 0))
        required = int(evidence["valid_minutes_required"])
    except (KeyError, TypeError, ValueError):
        return None
    return reported, required


def assess_capture(
    verdict: Verdict, policy: AlertPolicy, registry_version: str
) -> Raise | Clear | None:
    """Raise for an hour with too few minutes reported, Clear for one with enough."""
    if verdict.rule is not Rule.HOURLY_CONCENTRATION:
        return None
    counts = reported_minutes(verdict)
    if counts is None:
        return None
    reported, required = counts
    end = verdict.period_start + timedelta(hours=1)
    evidence: dict[str, Any] = {
        "rule": quality_rule(QualityKind.LOW_CAPTURE.value),
        "basis": Basis.LOW_CAPTURE.value,
        "kind": QualityKind.LOW_CAPTURE.value,
        "period_start": verdict.period_start.isoformat(),
        "observed_at": end.isoformat(),
        "detail": {"minutes_reported": reported, "minutes_required": required},
        "registry_version": registry_version,
    }
    if verdict.status is VerdictStatus.INVALID and reported < required:
        return Raise(
            AlertLevel.DATA_QUALITY,
            Basis.LOW_CAPTURE.value,
            evidence,
            registry_version,
            escalate_after=timedelta(hours=policy.quality_escalate_hours),
            observed_at=end,
        )
    if reported >= required:
        clear_for = timedelta(minutes=policy.quality_resolve_minutes)
        return Clear(evidence, registry_version, clear_for=clear_for, observed_at=end)
    return None
