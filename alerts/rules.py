"""Alert rules: from verdicts and data-quality signals to what the machine should do.

A verdict rule keeps, per key, a bounded window of judged periods (``Mark`` by period start)
so that re-issued and late verdicts re-evaluate the same facts (idempotent: a verdict already
marked with the same content changes nothing). Evaluation looks at the latest judged period:

- exceeding (``exceedance`` or ``severe``) → ``Raise`` at the rung of ``ladder.exceedance_rung``;
  consecutive periods count toward "sustained" (Order No. 30 Art. 5); invalid periods are
  transparent (neither count nor break a run); a period with no verdict breaks it;
- ``warning`` → ``Raise(WARNING)``, unless an exceedance-or-above alert is open, for which a
  period within the limit counts as clear;
- clear periods → ``Clear`` once ``resolve_after`` of them run consecutively (hysteresis;
  hourly: ``resolve_after_compliant_hours``, daily: ``resolve_after_compliant_days``).

A late verdict that turns an older period into an exceedance raises the alert for that period
even when later periods are clear (the exceedance happened), and clears it again by the same
hysteresis. At an Order No. 30 Art. 7 facility, a period that this verdict newly makes a capped
suspension case (e.g. exceeding under a restriction order) is raised as a ``case``: recorded and
notified on its own although the level holds (Art. 7: penalised instead). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.ladder import ENERGY_RULES, Basis, Situation, exceedance_rung, warning_basis
from alerts.model import AlertKey, Clear, Mark, Marks, Raise, quality_alert_key
from schemas.alert import AlertLevel, QualitySignal
from schemas.registry import AlertPolicy
from schemas.verdict import Rule, Verdict, VerdictStatus

EXCEEDING = frozenset({VerdictStatus.EXCEEDANCE.value, VerdictStatus.SEVERE.value})
WITHIN_LIMIT = frozenset({VerdictStatus.COMPLIANT.value, VerdictStatus.WARNING.value})
MIN_WINDOW = 48
"""Judged periods kept per key at least (more if the policy's run lengths need it)."""
EVIDENCE_PERIODS = 12
"""Most recent judged periods copied into an alert's evidence."""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """How one verdict rule is evaluated: period step (None: no adjacency), hysteresis."""

    period: timedelta | None
    resolve_after: int
    window: int


def rule_spec(rule: Rule, policy: AlertPolicy) -> RuleSpec:
    window = max(
        MIN_WINDOW, policy.sustained_exceedance_hours + policy.resolve_after_compliant_hours
    )
    if rule is Rule.HOURLY_CONCENTRATION:
        return RuleSpec(timedelta(hours=1), policy.resolve_after_compliant_hours, window)
    if rule is Rule.DAILY_LOAD or rule in ENERGY_RULES:
        return RuleSpec(timedelta(days=1), policy.resolve_after_compliant_days, window)
    return RuleSpec(None, 1, window)


@dataclass(frozen=True, slots=True)
class VerdictContext:
    """What else decides a verdict's rung (looked up by the caller).

    ``open_level``: level of the key's active alert (None: no active alert);
    ``restriction_since``: start of the earliest restriction order in force for the outlet;
    ``evasion``: an evasion data-quality alert is firing for a device of the outlet.
    """

    policy: AlertPolicy
    open_level: AlertLevel | None
    art7_facility: bool
    heavy_metal: bool
    restriction_since: datetime | None
    evasion: bool


@dataclass(frozen=True, slots=True)
class Assessment:
    """The key's new window of marks and the machine inputs, in order (empty: nothing new)."""

    marks: Marks
    inputs: tuple[Raise | Clear, ...]
    changed: bool


def verdict_key(verdict: Verdict) -> AlertKey:
    return AlertKey(verdict.outlet_id, verdict.factor, verdict.rule.value)


def period_key(moment: datetime) -> str:
    """Canonical mark key of a period start: ISO 8601 in UTC (sorts in time order)."""
    return moment.astimezone(UTC).isoformat()


def assess_verdict(
    marks: Marks, verdict: Verdict, ctx: VerdictContext, revision: int = 1
) -> Assessment:
    """Mark ``verdict`` in the key's window and decide what the machine should do.

    ``revision`` counts the verdict's re-issues (the streams send it as the ``revision``
    Kafka header): a lower revision than the one marked for the period is stale and ignored.
    """
    key = period_key(verdict.period_start)
    mark = Mark(verdict.status.value, verdict.value, verdict.limit, revision)
    known = marks.get(key)
    if known is not None and (known == mark or known.revision > mark.revision):
        return Assessment(marks, (), changed=False)
    spec = rule_spec(verdict.rule, ctx.policy)
    window = _prune({**marks, key: mark}, spec.window)
    judged = sorted(k for k, m in window.items() if m.status != VerdictStatus.INVALID.value)
    if not judged:
        return Assessment(window, (), changed=True)
    latest = judged[-1]
    inputs: list[Raise | Clear] = []
    open_level = ctx.open_level
    fresh = key if known is None or known.status not in EXCEEDING else None
    if key != latest and mark.status in EXCEEDING:
        late = _raise_for(window, key, verdict, spec, ctx, fresh)
        inputs.append(late)
        open_level = max(open_level or late.level, late.level)
    inputs.extend(_evaluate_latest(window, latest, verdict, spec, ctx, open_level, fresh))
    return Assessment(window, tuple(inputs), changed=True)


def _evaluate_latest(
    window: Marks,
    latest: str,
    verdict: Verdict,
    spec: RuleSpec,
    ctx: VerdictContext,
    open_level: AlertLevel | None,
    fresh: str | None,
) -> list[Raise | Clear]:
    status = window[latest].status
    if status in EXCEEDING:
        return [_raise_for(window, latest, verdict, spec, ctx, fresh)]
    holding_exceedance = open_level is not None and open_level >= AlertLevel.EXCEEDANCE
    if status == VerdictStatus.WARNING.value and not holding_exceedance:
        basis = warning_basis(verdict.rule)
        evidence = _evidence(window, latest, verdict, basis, streak=1)
        return [Raise(AlertLevel.WARNING, basis.value, evidence, verdict.registry_version)]
    clear_statuses = WITHIN_LIMIT if holding_exceedance else {VerdictStatus.COMPLIANT.value}
    run = _run_length(window, latest, spec.period, clear_statuses)
    if open_level is None or run < spec.resolve_after:
        return []
    evidence = _evidence(window, latest, verdict, None, streak=run)
    return [Clear(evidence, verdict.registry_version)]


def _raise_for(
    window: Marks,
    key: str,
    verdict: Verdict,
    spec: RuleSpec,
    ctx: VerdictContext,
    fresh: str | None,
) -> Raise:
    """The raise for the exceeding period ``key``; ``fresh`` is the period that this verdict
    newly made exceeding (None: none): at an Art. 7 facility such a period is a case of its
    own (``Raise.case``), recorded and told to the regulator even when the level holds."""
    mark = window[key]
    streak = _run_length(window, key, spec.period, EXCEEDING)
    ratio = mark.value / mark.limit if mark.value is not None and mark.limit else None
    severe = ctx.heavy_metal and (
        mark.status == VerdictStatus.SEVERE.value
        or (ratio is not None and ratio >= ctx.policy.severe_multiple)
    )
    since = ctx.restriction_since
    period_start = datetime.fromisoformat(key)
    situation = Situation(
        rule=verdict.rule,
        streak=streak,
        severe=severe,
        under_restriction=since is not None and period_start >= since,
        evasion=ctx.evasion,
        art7_facility=ctx.art7_facility,
        region_subject=verdict.outlet_id.startswith("region:"),
    )
    rung = exceedance_rung(situation, ctx.policy.sustained_exceedance_hours)
    evidence = _evidence(window, key, verdict, rung.basis, streak=streak)
    if rung.capped_from is not None:
        evidence["capped_from"] = rung.capped_from.value
    case = rung.capped_from is not None and key == fresh
    return Raise(rung.level, rung.basis.value, evidence, verdict.registry_version, case=case)


def _run_length(
    window: Marks, last: str, period: timedelta | None, statuses: frozenset[str] | set[str]
) -> int:
    """Consecutive periods ending at ``last`` whose status is in ``statuses``.

    Invalid periods are skipped; a missing period (no verdict) or another status ends the run.
    Without a period step (annual) only ``last`` itself counts.
    """
    if window[last].status not in statuses:
        return 0
    if period is None:
        return 1
    count = 0
    moment = datetime.fromisoformat(last)
    while True:
        mark = window.get(period_key(moment))
        if mark is None:
            return count
        if mark.status in statuses:
            count += 1
        elif mark.status != VerdictStatus.INVALID.value:
            return count
        moment -= period


def _prune(window: Mapping[str, Mark], size: int) -> dict[str, Mark]:
    keys = sorted(window)[-size:]
    return {k: window[k] for k in keys}


def _evidence(
    window: Marks, key: str, verdict: Verdict, basis: Basis | None, streak: int
) -> dict[str, Any]:
    mark = window[key]
    recent = sorted(window)[-EVIDENCE_PERIODS:]
    return {
        "rule": verdict.rule.value,
        "basis": basis.value if basis else None,
        "period": verdict.period.value,
        "period_start": key,
        "status": mark.status,
        "value": mark.value,
        "limit": mark.limit,
        "ratio": mark.value / mark.limit if mark.value is not None and mark.limit else None,
        "standard": verdict.standard,
        "streak": streak,
        "periods": [{"period_start": k, **window[k].as_json()} for k in recent],
        "verdict_evidence": dict(verdict.evidence),
        "registry_version": verdict.registry_version,
    }


# --- data quality ------------------------------------------------------------------------


def quality_key(signal: QualitySignal) -> AlertKey:
    """The alert of a streams signal: the data-quality key rule (``quality_alert_key``), a
    day's signal (``detail.period: "day"``) apart from the hours'."""
    period = signal.detail.get("period")
    return quality_alert_key(
        signal.device_id,
        signal.factor,
        signal.kind.value,
        period if isinstance(period, str) else None,
    )


QUALITY_WINDOW = 8
"""Signals remembered per data-quality key (to ignore replays and stale signals)."""


def assess_quality(
    marks: Marks, signal: QualitySignal, policy: AlertPolicy, registry_version: str
) -> Assessment:
    """An active signal raises a data-quality alert (after ``quality_pending_minutes``);
    a cleared one resolves it (after ``quality_resolve_minutes`` of staying clear).

    Signals are applied in ``observed_at`` order: one not newer than the last applied (a
    replay after a crash, or a stale re-send) changes nothing. Both durations count from the
    signals' ``observed_at`` (``Raise``/``Clear.observed_at``, see ``alerts.machine``), so
    a retroactive pair (a device silent in event time, reported when its data resume) gives
    an alert that fired and resolved when the condition held for the pending time.
    """
    key = period_key(signal.observed_at)
    if marks and key <= max(marks):
        return Assessment(marks, (), changed=False)
    mark = Mark("active" if signal.active else "cleared", None, None)
    window = _prune({**marks, key: mark}, QUALITY_WINDOW)
    evidence = {
        "rule": quality_key(signal).rule,
        "basis": Basis.DATA_QUALITY.value,
        "kind": signal.kind.value,
        "active": signal.active,
        "device_id": signal.device_id,
        "factor": signal.factor,
        "observed_at": signal.observed_at.isoformat(),
        "detail": dict(signal.detail),
        "registry_version": registry_version,
    }
    machine_input: Raise | Clear
    if signal.active:
        machine_input = Raise(
            AlertLevel.DATA_QUALITY,
            Basis.DATA_QUALITY.value,
            evidence,
            registry_version,
            pending_for=timedelta(minutes=policy.quality_pending_minutes),
            escalate_after=timedelta(hours=policy.quality_escalate_hours),
            observed_at=signal.observed_at,
        )
    else:
        machine_input = Clear(
            evidence,
            registry_version,
            clear_for=timedelta(minutes=policy.quality_resolve_minutes),
            observed_at=signal.observed_at,
        )
    return Assessment(window, (machine_input,), changed=True)
