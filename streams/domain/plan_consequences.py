"""What the plans make a regulator do about progress verdicts (pure; issue 10 item 3).

- Every judged ``Progress`` becomes a ``Verdict`` of rule ``plan_progress`` for the alert
  service (subject ``region:<code>`` / ``enterprise:<id>``, factor the target id; red →
  exceedance, yellow → warning, green → compliant). The ladder (``alerts.ladder``) raises a
  red region as the 限批缓批 recommendation to its regulator and a red enterprise as flagged
  for loss of subsidies; yellow is a warning (off the plan's path).
- The same facts as ``Consequence`` rows (``plan_consequences``): ``restrict_approvals`` for a
  red region, addressed to the regulator the registry names; ``subsidy_loss`` for an
  enterprise red on a target assigned to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from schemas.measurement import PeriodKind
from schemas.registry import Registry
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.domain.periods import day_start_of
from streams.domain.plan import Colour
from streams.domain.plan_progress import Progress

STATUS = {
    Colour.RED: VerdictStatus.EXCEEDANCE,
    Colour.YELLOW: VerdictStatus.WARNING,
    Colour.GREEN: VerdictStatus.COMPLIANT,
}


def subject_key(progress: Progress) -> str:
    """The alert subject of a plan verdict: ``region:520100`` or ``enterprise:E-TP-01``."""
    return f"{progress.subject_kind}:{progress.subject_id}"


def addressee(registry: Registry, progress: Progress) -> str | None:
    """The regulator a region's recommendation is for (None: the registry names none)."""
    if progress.subject_kind != "region":
        return None
    region = next((r for r in registry.plan_regions if r.code == progress.subject_id), None)
    return region.regulator if region else None


def plan_verdicts(
    progress: Sequence[Progress], registry: Registry, as_of: date, rule_id: str
) -> list[Verdict]:
    """The verdicts of the judged subjects (colour None: nothing to tell), period = as_of."""
    verdicts = []
    for p in progress:
        if p.colour is None:
            continue
        evidence: dict[str, Any] = {
            **p.evidence,
            "colour": p.colour.value,
            "reason": p.reason,
            "subject_kind": p.subject_kind,
            "subject_name": p.subject_name,
            "region_code": p.region_code,
            "addressee": addressee(registry, p),
        }
        ratio = p.actual / p.required if p.actual is not None and p.required else None
        verdicts.append(
            Verdict(
                enterprise_id=p.subject_id,
                outlet_id=subject_key(p),
                factor=p.target_id,
                rule=Rule.PLAN_PROGRESS,
                period=PeriodKind.DAY,
                period_start=day_start_of(as_of),
                value=p.actual,
                limit=p.required,
                ratio=ratio,
                status=STATUS[p.colour],
                standard=rule_id,
                evidence=evidence,
                registry_version=registry.version,
            )
        )
    return verdicts


@dataclass(frozen=True, slots=True)
class Consequence:
    kind: str
    subject_kind: str
    subject_id: str
    basis: str
    year: int
    subject_name: str
    region_code: str
    addressee: str | None
    reason: str
    evidence: dict[str, Any]


def consequences(
    progress: Sequence[Progress], registry: Registry, as_of: date
) -> list[Consequence]:
    """``restrict_approvals`` per red region and target, ``subsidy_loss`` per red enterprise
    and assigned target."""
    found = []
    for p in progress:
        if p.colour is not Colour.RED:
            continue
        kind = "restrict_approvals" if p.subject_kind == "region" else "subsidy_loss"
        found.append(
            Consequence(
                kind,
                p.subject_kind,
                p.subject_id,
                p.target_id,
                as_of.year,
                p.subject_name,
                p.region_code,
                addressee(registry, p),
                p.reason,
                {**p.evidence, "actual": p.actual, "required": p.required},
            )
        )
    return found
