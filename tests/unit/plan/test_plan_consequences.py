"""Plan verdicts through the alert engine (issue 10 item 3): a red region is raised as the
限批缓批 recommendation to its regulator, a red enterprise as flagged for loss of subsidies,
a yellow one as a warning to the enterprise; the consequences are listed for the database."""

from __future__ import annotations

from datetime import date, timedelta

from plan_support import EXAMPLE

from alerts.engine import Batch, World
from alerts.routing import ALL_ENTERPRISES, Audience, Subscription
from schemas.alert import AlertLevel
from schemas.plans import load_plans
from schemas.registry import Registry, load_registry
from streams.domain.periods import day_start_of
from streams.domain.plan import Colour
from streams.domain.plan_consequences import consequences, plan_verdicts
from streams.domain.plan_progress import Progress, progress_of_region

AS_OF = date(2026, 8, 31)


def _progress(registry: Registry) -> list[Progress]:
    # Guiyang's only 规模以上 enterprise at 2.0 tce/10^4 yuan vs the region's 1.9 (rose: red)
    # and its own 4.8 (green).
    figures = {"E-TP-01": {"energy_kgce": 8_000_000, "co2_kg": 20_000_000, "value_added": 4000}}
    rule = load_plans().barometer_rule("NDRC-2021-629")
    return progress_of_region(registry, load_plans(), rule, "520100", AS_OF, figures, {})


def _world(registry: Registry) -> World:
    return World(
        registry,
        subscriptions=(
            Subscription(1, "E-TP-01", Audience.ENTERPRISE, "json://x/1", AlertLevel.WARNING, None),
            Subscription(
                9, ALL_ENTERPRISES, Audience.REGULATOR, "json://x/9", AlertLevel.WARNING, None
            ),
        ),
    )


def test_red_region_recommends_restricting_approvals_to_its_regulator() -> None:
    registry = load_registry(EXAMPLE)
    progress = _progress(registry)
    verdicts = plan_verdicts(progress, registry, AS_OF, "NDRC-2021-629")
    region = next(v for v in verdicts if v.outlet_id == "region:520100"
                  and v.factor == "gz-energy-per-va-2018")  # fmt: skip
    assert region.evidence["colour"] == "red"
    assert region.evidence["addressee"] == "贵阳市发展和改革委员会 (demo)"
    batch = Batch(_world(registry), {}, day_start_of(AS_OF) + timedelta(hours=9))
    batch.verdict(region)
    assert [row.subscription_id for row in batch.outbox] == [9]  # the regulator only
    body = batch.outbox[0].body
    assert "限批、缓批" in body and "贵阳市发展和改革委员会 (demo)" in body
    assert "规模以上单位工业增加值能耗在2015年基础上下降12%" in body
    assert any(e.level == AlertLevel.EXCEEDANCE for e in batch.events)


def test_enterprise_green_is_quiet_and_red_loses_subsidies() -> None:
    registry = load_registry(EXAMPLE)
    progress = _progress(registry)
    mine = next(p for p in progress if p.subject_id == "E-TP-01")
    assert mine.colour is Colour.GREEN
    batch = Batch(_world(registry), {}, day_start_of(AS_OF) + timedelta(hours=9))
    for verdict in plan_verdicts([mine], registry, AS_OF, "NDRC-2021-629"):
        batch.verdict(verdict)
    assert batch.outbox == []
    missed = _missed(mine)
    for verdict in plan_verdicts([missed], registry, AS_OF, "NDRC-2021-629"):
        batch.verdict(verdict)
    assert sorted(row.subscription_id for row in batch.outbox) == [1, 9]
    assert "取消或暂停其享受的相关扶持资金" in batch.outbox[0].body
    assert [c.kind for c in consequences([missed], registry, AS_OF)] == ["subsidy_loss"]


def _missed(p: Progress) -> Progress:
    return Progress(p.subject_kind, p.subject_id, p.subject_name, p.region_code, p.target_id,
                    p.indicator, Colour.RED, -0.05, 0.12, "intensity rose (不降反升)",
                    dict(p.evidence))  # fmt: skip


def test_consequences_of_the_progress() -> None:
    registry = load_registry(EXAMPLE)
    found = consequences(_progress(registry), registry, AS_OF)
    kinds = {(c.kind, c.subject_id, c.basis) for c in found}
    assert ("restrict_approvals", "520100", "gz-energy-per-va-2018") in kinds
    assert all(c.kind != "subsidy_loss" for c in found)  # E-TP-01 is green
