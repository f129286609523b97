"""Verdicts and signals → the rung the machine is asked for (rules + ladder)."""

from __future__ import annotations

from datetime import timedelta

from alerts_fixtures import LEAD, SO2, T0, demo_registry, signal, verdict

from alerts.ladder import Basis
from alerts.model import Clear, Marks, Raise
from alerts.rules import Assessment, VerdictContext, assess_quality, assess_verdict
from schemas.alert import AlertLevel, QualityKind
from schemas.verdict import Rule, Verdict

POLICY = demo_registry().policy  # sustained 3 h, resolve after 2 compliant hours


def context(**overrides: object) -> VerdictContext:
    base: dict[str, object] = {
        "policy": POLICY,
        "open_level": None,
        "art7_facility": False,
        "heavy_metal": False,
        "restriction_since": None,
        "evasion": False,
    }
    return VerdictContext(**{**base, **overrides})  # type: ignore[arg-type]


def feed(verdicts: list[Verdict], **overrides: object) -> tuple[Marks, list[Raise | Clear]]:
    """Feed verdicts in order, tracking the open level as the machine would; return the last
    assessment's marks and inputs."""
    marks: Marks = {}
    open_level: AlertLevel | None = overrides.pop("open_level", None)  # type: ignore[assignment]
    inputs: list[Raise | Clear] = []
    for item in verdicts:
        result: Assessment = assess_verdict(
            marks, item, context(open_level=open_level, **overrides)
        )
        marks, inputs = result.marks, list(result.inputs)
        for machine_input in inputs:
            if isinstance(machine_input, Raise):
                open_level = max(open_level or machine_input.level, machine_input.level)
            else:
                open_level = None
    return marks, inputs


def only_raise(inputs: list[Raise | Clear]) -> Raise:
    assert len(inputs) == 1 and isinstance(inputs[0], Raise), inputs
    return inputs[0]


def test_one_valid_hour_above_the_limit_is_an_exceedance() -> None:
    _, inputs = feed([verdict(0, "exceedance")])
    raised = only_raise(inputs)
    assert raised.level is AlertLevel.EXCEEDANCE
    assert raised.evidence["value"] == 52.5 and raised.evidence["limit"] == 35.0
    assert raised.evidence["verdict_evidence"]["flags"] == {"N": 58}
    assert raised.registry_version == "demo-province-2026.1"


def test_three_consecutive_exceeding_hours_recommend_restriction_art5() -> None:
    _, inputs = feed([verdict(h, "exceedance") for h in range(3)])
    raised = only_raise(inputs)
    assert raised.level is AlertLevel.RESTRICT_PRODUCTION
    assert raised.basis == Basis.ART5_SUSTAINED
    assert raised.evidence["streak"] == 3


def test_a_compliant_hour_breaks_the_run_an_invalid_hour_does_not() -> None:
    _, broken = feed([verdict(0, "exceedance"), verdict(1, "compliant"), verdict(2, "exceedance")])
    assert only_raise(broken).level is AlertLevel.EXCEEDANCE
    _, through_invalid = feed(
        [
            verdict(0, "exceedance"),
            verdict(1, "invalid"),
            verdict(2, "exceedance"),
            verdict(3, "exceedance"),
        ]
    )
    assert only_raise(through_invalid).level is AlertLevel.RESTRICT_PRODUCTION


def test_a_missing_hour_breaks_the_run() -> None:
    _, inputs = feed([verdict(0, "exceedance"), verdict(1, "exceedance"), verdict(3, "exceedance")])
    assert only_raise(inputs).evidence["streak"] == 1


def test_exceedance_after_a_restriction_order_recommends_suspension_art6_4() -> None:
    since = T0 + timedelta(hours=5)
    _, before = feed([verdict(4, "exceedance")], restriction_since=since)
    assert only_raise(before).level is AlertLevel.EXCEEDANCE
    _, after = feed([verdict(5, "exceedance")], restriction_since=since)
    raised = only_raise(after)
    assert raised.level is AlertLevel.SUSPEND_FOR_RECTIFICATION
    assert raised.basis == Basis.ART6_AFTER_RESTRICTION


def test_heavy_metal_at_three_times_the_limit_recommends_suspension_art6_2() -> None:
    _, inputs = feed(
        [verdict(0, "exceedance", factor=LEAD, value=0.61, limit=0.2)], heavy_metal=True
    )
    raised = only_raise(inputs)
    assert raised.level is AlertLevel.SUSPEND_FOR_RECTIFICATION
    assert raised.basis == Basis.ART6_SEVERE


def test_exceedance_with_evasion_recommends_suspension_art6_1() -> None:
    _, inputs = feed([verdict(0, "exceedance")], evasion=True)
    assert only_raise(inputs).basis == Basis.ART6_EVASION


def test_art7_facility_is_capped_at_restriction_with_the_reason_kept() -> None:
    _, inputs = feed(
        [verdict(0, "severe", factor=LEAD, limit=0.2)], heavy_metal=True, art7_facility=True
    )
    raised = only_raise(inputs)
    assert raised.level is AlertLevel.RESTRICT_PRODUCTION
    assert raised.basis == Basis.ART7_CAPPED
    assert raised.evidence["capped_from"] == Basis.ART6_SEVERE


def test_daily_load_quota_exceeded_recommends_restriction_annual_suspension() -> None:
    _, daily = feed([verdict(0, "exceedance", rule=Rule.DAILY_LOAD, limit=900.0)])
    assert only_raise(daily).basis == Basis.ART5_DAILY_LOAD
    _, annual = feed([verdict(0, "exceedance", rule=Rule.ANNUAL_LOAD, limit=3e5)])
    assert only_raise(annual).level is AlertLevel.SUSPEND_FOR_RECTIFICATION
    assert only_raise(annual).basis == Basis.ART6_ANNUAL_LOAD


def test_resolves_only_after_the_configured_compliant_hours() -> None:
    _, one = feed([verdict(0, "exceedance"), verdict(1, "compliant")])
    assert one == []
    _, two = feed([verdict(0, "exceedance"), verdict(1, "compliant"), verdict(2, "compliant")])
    assert len(two) == 1 and isinstance(two[0], Clear)


def test_hours_within_the_limit_resolve_an_exceedance_but_not_a_warning() -> None:
    _, exceedance = feed([verdict(0, "exceedance"), verdict(1, "warning"), verdict(2, "warning")])
    assert len(exceedance) == 1 and isinstance(exceedance[0], Clear)
    _, warning = feed([verdict(0, "warning"), verdict(1, "warning")])
    assert only_raise(warning).level is AlertLevel.WARNING


def test_the_same_verdict_twice_changes_nothing() -> None:
    first = assess_verdict({}, verdict(0, "exceedance"), context())
    again = assess_verdict(
        first.marks, verdict(0, "exceedance"), context(open_level=AlertLevel.EXCEEDANCE)
    )
    assert not again.changed and again.inputs == ()


def test_an_older_revision_never_overrides_a_newer_one() -> None:
    first = assess_verdict({}, verdict(0, "exceedance"), context(), revision=2)
    stale = assess_verdict(first.marks, verdict(0, "compliant"), context(), revision=1)
    assert not stale.changed
    reissued = assess_verdict(
        first.marks, verdict(0, "compliant"), context(open_level=AlertLevel.EXCEEDANCE), revision=3
    )
    assert reissued.changed and reissued.marks[next(iter(reissued.marks))].status == "compliant"


def test_a_late_verdict_for_an_older_hour_still_raises_then_clears() -> None:
    marks, _ = feed([verdict(0, "compliant"), verdict(1, "compliant"), verdict(2, "compliant")])
    late = assess_verdict(marks, verdict(0, "exceedance"), context())
    kinds = [type(i).__name__ for i in late.inputs]
    assert kinds == ["Raise", "Clear"]
    assert (
        late.inputs[0].evidence["period_start"] == verdict(0, "compliant").period_start.isoformat()
    )


def test_window_of_marks_is_bounded() -> None:
    marks, _ = feed([verdict(h, "exceedance") for h in range(200)])
    assert len(marks) <= 48


def test_quality_signal_raises_after_pending_and_clears_with_hysteresis() -> None:
    active = assess_quality({}, signal(QualityKind.SILENT, True, T0), POLICY, "v1")
    (raised,) = active.inputs
    assert isinstance(raised, Raise) and raised.level is AlertLevel.DATA_QUALITY
    assert raised.pending_for == timedelta(minutes=POLICY.quality_pending_minutes)
    later = T0 + timedelta(minutes=1)
    cleared = assess_quality(active.marks, signal(QualityKind.SILENT, False, later), POLICY, "v1")
    (clear,) = cleared.inputs
    assert isinstance(clear, Clear)
    assert clear.clear_for == timedelta(minutes=POLICY.quality_resolve_minutes)


def test_a_replayed_or_stale_quality_signal_changes_nothing() -> None:
    first = assess_quality({}, signal(QualityKind.SILENT, True, T0), POLICY, "v1")
    cleared = assess_quality(
        first.marks, signal(QualityKind.SILENT, False, T0 + timedelta(minutes=9)), POLICY, "v1"
    )
    replay = assess_quality(cleared.marks, signal(QualityKind.SILENT, True, T0), POLICY, "v1")
    assert not replay.changed and replay.inputs == ()


def test_severe_counts_only_for_heavy_metals_and_pops() -> None:
    _, inputs = feed([verdict(0, "severe", factor=SO2)], heavy_metal=False)
    assert only_raise(inputs).level is AlertLevel.EXCEEDANCE


def test_factor_code_stays_in_the_key() -> None:
    _, inputs = feed([verdict(0, "exceedance", factor=SO2)])
    assert only_raise(inputs).evidence["rule"] == "hourly_concentration"
