"""Downward revisions: a judged period softened by re-sent or late data is itself a signal.

design.md ("a record nobody rewrites"): a verdict revised from ``severe``, ``exceedance`` or
``warning`` to something milder (a lower status, or ``invalid``: the judgement withdrawn) by
re-sent or late data is how an enterprise rewrites an exceedance away (issue 13: re-sending
the 10:00 minutes at 5.0 after a 100.0 exceedance). The alert service sees every revision (the
streams' ``revision`` header, ``alerts.rules.assess_verdict``); this module decides whether a
revision softens the verdict and builds the data-quality alert it raises:

- key ``(outlet, factor, quality.revised_down)``, one per outlet and factor;
- level data quality, escalated at once (``escalate_after`` 0): the enterprise **and** the
  regulator hear of it with the first notice (``ladder.regulator_is_told``);
- each further softened period while the alert is open is a ``case`` (recorded, notified);
- the evidence keeps both judgements (``previous`` and ``revised``: status, value, limit,
  revision), the ``cause`` (``resent``: the hour holds values re-sent with other values than
  first received, ``streams.domain.minutes.Resent``; else ``late_or_recomputed``) and the
  revised verdict's own evidence (valid minutes, flags, the re-sent values);
- the alert resolves ``quality_resolve_minutes`` after the last softened period (a signal
  about an event, not a condition that holds).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from alerts.ladder import Basis
from alerts.model import QUALITY_RULE_PREFIX, AlertKey, Clear, Mark, Raise
from schemas.alert import AlertLevel, QualityKind
from schemas.registry import AlertPolicy
from schemas.verdict import Verdict, VerdictStatus

SEVERITY: Mapping[str, int] = {
    VerdictStatus.INVALID.value: 0,
    VerdictStatus.COMPLIANT.value: 1,
    VerdictStatus.WARNING.value: 2,
    VerdictStatus.EXCEEDANCE.value: 3,
    VerdictStatus.SEVERE.value: 4,
}
"""How grave a judgement is; ``invalid`` (no judgement) is the mildest."""
WATCHED = frozenset(
    {VerdictStatus.WARNING.value, VerdictStatus.EXCEEDANCE.value, VerdictStatus.SEVERE.value}
)
"""Judgements whose softening is a signal."""
RULE = f"{QUALITY_RULE_PREFIX}{QualityKind.REVISED_DOWN.value}"


def softened(previous: Mark, revised: Mark) -> bool:
    """Did ``revised`` (a later revision of the same period) soften ``previous``?"""
    if previous.status not in WATCHED:
        return False
    return SEVERITY.get(revised.status, 0) < SEVERITY[previous.status]


def revision_key(verdict: Verdict) -> AlertKey:
    """The downward-revision alert of the verdict's outlet and factor."""
    return AlertKey(verdict.outlet_id, verdict.factor, RULE)


def revised_down(
    previous: Mark, revised: Mark, verdict: Verdict, policy: AlertPolicy, registry_version: str
) -> tuple[Raise, Clear] | None:
    """The machine inputs of a softened period (None: the revision does not soften)."""
    if not softened(previous, revised):
        return None
    evidence: dict[str, Any] = {
        "rule": RULE,
        "basis": Basis.REVISED_DOWN.value,
        "kind": QualityKind.REVISED_DOWN.value,
        "verdict_rule": verdict.rule.value,
        "period": verdict.period.value,
        "period_start": verdict.period_start.isoformat(),
        "status": revised.status,
        "value": revised.value,
        "limit": revised.limit,
        "standard": verdict.standard,
        "detail": {
            "previous": _judgement(previous),
            "revised": _judgement(revised),
            "cause": "resent" if verdict.evidence.get("resent_values") else "late_or_recomputed",
            "resent_values": verdict.evidence.get("resent_values", 0),
        },
        "verdict_evidence": dict(verdict.evidence),
        "registry_version": registry_version,
    }
    raised = Raise(
        AlertLevel.DATA_QUALITY,
        Basis.REVISED_DOWN.value,
        evidence,
        registry_version,
        escalate_after=timedelta(0),
        case=True,
    )
    clear_for = timedelta(minutes=policy.quality_resolve_minutes)
    return raised, Clear(evidence, registry_version, clear_for=clear_for)


def _judgement(mark: Mark) -> dict[str, Any]:
    return {
        "status": mark.status,
        "value": mark.value,
        "limit": mark.limit,
        "revision": mark.revision,
    }
