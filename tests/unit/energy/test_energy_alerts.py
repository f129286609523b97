"""Energy verdicts through the alert engine: a quota warning tells the enterprise, an
exceedance tells the enterprise and its regulator with the quota and the excess."""

from __future__ import annotations

from datetime import timedelta

from energy_support import day, energy_registry

from alerts.engine import Batch, World
from alerts.routing import ALL_ENTERPRISES, Audience, Subscription
from schemas.alert import AlertLevel
from schemas.measurement import PeriodKind
from schemas.verdict import Rule, Verdict, VerdictStatus

AL = "E-AL-01"


def quota_verdict(offset: int, value: float, status: VerdictStatus) -> Verdict:
    return Verdict(
        enterprise_id=AL,
        outlet_id=f"{AL}/al-liquid",
        factor="kWh/t@30d",
        rule=Rule.ENERGY_QUOTA,
        period=PeriodKind.DAY,
        period_start=day(offset),
        value=value,
        limit=13_650.0,
        ratio=value / 13_650.0,
        status=status,
        standard="发改价格〔2021〕1239号",
        evidence={"unit": "kWh/t", "numerator": value * 600, "denominator": 600.0},
        registry_version="energy-test-1",
    )


def subscriptions() -> tuple[Subscription, ...]:
    return (
        Subscription(1, AL, Audience.ENTERPRISE, "json://x/1", AlertLevel.DATA_QUALITY, None),
        Subscription(
            9, ALL_ENTERPRISES, Audience.REGULATOR, "json://x/9", AlertLevel.DATA_QUALITY, None
        ),
    )


def test_quota_warning_then_exceedance_reach_the_enterprise_then_its_regulator() -> None:
    world = World(energy_registry(), subscriptions=subscriptions())
    batch = Batch(world, {}, day(3))
    batch.verdict(quota_verdict(0, 13_500.0, VerdictStatus.WARNING))
    warning = list(batch.outbox)
    assert [row.subscription_id for row in warning] == [1]
    assert "【告警·预警】" in warning[0].title and "示范电解铝" in warning[0].title
    assert "限额（13650 kWh/t）的 98%" in warning[0].body
    batch.verdict(quota_verdict(1, 13_800.0, VerdictStatus.EXCEEDANCE))
    exceedance = batch.outbox[len(warning) :]
    assert sorted(row.subscription_id for row in exceedance) == [1, 9]
    body = exceedance[0].body
    assert "超过限额 13650 kWh/t" in body and "近30日" in exceedance[0].title
    assert "超出 150 kWh/t" in body and "惩罚性电价" in body
    assert "对象：E-AL-01/al-liquid" in body and "13800 kWh/t" in body


def test_quota_exceedance_never_climbs_order_30s_ladder() -> None:
    world = World(energy_registry(), subscriptions=subscriptions())
    batch = Batch(world, {}, day(10))
    for offset in range(6):
        batch.verdict(quota_verdict(offset, 14_000.0, VerdictStatus.EXCEEDANCE))
    levels = {row.title for row in batch.outbox}
    assert all("限制生产" not in title and "停产整治" not in title for title in levels)
    assert day(5) - day(0) == timedelta(days=5)
