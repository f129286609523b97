"""The energy quota alert cites the surcharge estimate (issue 10 item 5): the verdict the
energy engine builds carries the punitive price on the window's electricity and next year's
aluminium tiered rate at this consumption, and the notice states them."""

from __future__ import annotations

from datetime import timedelta

from energy_support import day, energy_registry

from alerts.engine import Batch, World
from alerts.routing import Audience, Subscription
from schemas.alert import AlertLevel
from schemas.verdict import Verdict, VerdictStatus
from streams.domain.energy.model import IntensityRow
from streams.domain.energy.verdicts import quota_verdict

AL = "E-AL-01"


def _verdict(value: float, kwh: float) -> Verdict:
    registry = energy_registry()
    enterprise = next(e for e in registry.enterprises if e.id == AL)
    quota = enterprise.energy_quotas[0]
    row = IntensityRow(AL, "al-liquid", "kWh/t", "30d", day(1), kwh, kwh / value, value)
    return quota_verdict(registry, enterprise, quota, row)


def test_exceedance_verdict_carries_punitive_and_tiered_estimates() -> None:
    # 14 000 kWh/t over 13 650 by 2.56 % (≤ 1×): restricted rate 0.10 on the excess share
    # 7 000 000 × 350 / 14 000 = 175 000 kWh = 17 500 yuan; 2027 tiered: ⌈(14 000 − 13 300)
    # / 20⌉ = 35 steps = 0.35 yuan/kWh.
    verdict = _verdict(14_000.0, 7_000_000.0)
    assert verdict.status is VerdictStatus.EXCEEDANCE
    estimate = verdict.evidence["surcharge"]
    assert estimate["punitive"]["rate_yuan_per_kwh"] == "0.1"
    assert estimate["punitive"]["billed_kwh"] == "175000.000"
    assert estimate["punitive"]["amount_yuan"] == "17500.00"
    assert estimate["tiered_next_year"]["pricing_year"] == 2027
    assert estimate["tiered_next_year"]["rate_yuan_per_kwh"] == "0.35"


def test_compliant_verdict_carries_no_estimate() -> None:
    verdict = _verdict(13_000.0, 7_000_000.0)
    assert "surcharge" not in verdict.evidence


def test_the_notice_cites_the_estimate() -> None:
    world = World(
        energy_registry(),
        subscriptions=(
            Subscription(1, AL, Audience.ENTERPRISE, "json://x/1", AlertLevel.DATA_QUALITY, None),
        ),
    )
    batch = Batch(world, {}, day(3) + timedelta(hours=1))
    batch.verdict(_verdict(14_000.0, 7_000_000.0))
    body = batch.outbox[0].body
    assert "惩罚性电价加价 0.1 元/kWh" in body and "约 17500.00 元" in body
    assert "2027 年电解铝阶梯电价加价 0.35 元/kWh" in body
    assert "暂不估算" not in body
