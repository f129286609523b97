"""Who receives what (routing) and what they read (Chinese messages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alerts_fixtures import CHEMICALS, LEAD, SEWAGE, T0, demo_registry, verdict

from alerts.engine import Batch, World
from alerts.errors import InvalidSubscription
from alerts.model import OrderAction, RegulatorOrder
from alerts.routing import ALL_ENTERPRISES, Audience, QuietHours, Subscription, route
from schemas.alert import AlertLevel, QualityKind, QualitySignal

A, B = "E-TP-01", "E-CM-01"


def sub(
    sid: int,
    enterprise: str,
    audience: Audience = Audience.ENTERPRISE,
    level: AlertLevel = AlertLevel.DATA_QUALITY,
    quiet: str | None = None,
) -> Subscription:
    return Subscription(
        sid,
        enterprise,
        audience,
        f"json://x/{sid}",
        level,
        QuietHours.parse(quiet) if quiet else None,
    )


def ids(recipients: list) -> list[int]:  # type: ignore[type-arg]
    return [r.subscription.subscription_id for r in recipients]


def test_an_enterprise_only_receives_its_own_notices() -> None:
    subs = [sub(1, A), sub(2, B)]
    assert ids(route(A, AlertLevel.EXCEEDANCE, False, subs, T0)) == [1]
    assert ids(route(B, AlertLevel.WARNING, False, subs, T0)) == [2]


def test_an_enterprise_cannot_subscribe_to_all() -> None:
    with pytest.raises(InvalidSubscription):
        sub(1, ALL_ENTERPRISES)


def test_regulator_hears_exceedance_and_persistent_data_quality_only() -> None:
    subs = [sub(9, ALL_ENTERPRISES, Audience.REGULATOR)]
    assert ids(route(A, AlertLevel.WARNING, False, subs, T0)) == []
    assert ids(route(A, AlertLevel.DATA_QUALITY, False, subs, T0)) == []
    assert ids(route(A, AlertLevel.DATA_QUALITY, True, subs, T0)) == [9]
    assert ids(route(B, AlertLevel.EXCEEDANCE, False, subs, T0)) == [9]


def test_min_level_filters_lower_rungs() -> None:
    subs = [sub(1, A, level=AlertLevel.EXCEEDANCE)]
    assert ids(route(A, AlertLevel.WARNING, False, subs, T0)) == []
    assert ids(route(A, AlertLevel.RESTRICT_PRODUCTION, False, subs, T0)) == [1]


def test_quiet_hours_defer_warnings_but_never_exceedance() -> None:
    night = datetime(2026, 3, 2, 23, 30, tzinfo=UTC) - timedelta(hours=8)  # 23:30 China time
    subs = [sub(1, A, quiet="22:00-07:00")]
    (warning,) = route(A, AlertLevel.WARNING, False, subs, night)
    assert warning.not_before == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 07:00 China time
    (exceedance,) = route(A, AlertLevel.EXCEEDANCE, False, subs, night)
    assert exceedance.not_before == night
    noon = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    assert route(A, AlertLevel.WARNING, False, subs, noon)[0].not_before == noon


def test_bad_quiet_hours_are_refused() -> None:
    for text in ("22-07", "25:00-07:00", "07:00-07:00"):
        with pytest.raises(InvalidSubscription):
            QuietHours.parse(text)


def batch_for(subs: list[Subscription], **policy: object) -> Batch:
    world = World(demo_registry(**policy), subscriptions=tuple(subs))
    return Batch(world, {}, T0 + timedelta(days=1))


def test_exceedance_message_names_outlet_factor_value_limit_standard_and_the_law() -> None:
    batch = batch_for([sub(1, A)])
    batch.verdict(verdict(0, "exceedance", value=52.5))
    (row,) = batch.outbox
    assert "黔中示范火电厂" in row.title and "1号机组烟囱" in row.title and "二氧化硫" in row.title
    assert "【告警·超标】" in row.title
    for text in ("52.5 mg/m³", "35 mg/m³", "ULE-coal-power", "超低排放", "第九十九条", "第六十条"):
        assert text in row.body, text
    assert "2026-03-02 08:00" in row.body  # hour 0 = 00:00 UTC = 08:00 China time


def test_sustained_exceedance_message_cites_order_30_article_5() -> None:
    batch = batch_for([sub(1, A)])
    for hour in range(3):
        batch.verdict(verdict(hour, "exceedance"))
    escalated = batch.outbox[-1]
    assert escalated.kind == "escalated" and "建议限制生产" in escalated.title
    assert "第五条" in escalated.body and "连续 3 个有效小时" in escalated.body


def test_art7_message_says_penalty_instead_of_suspension() -> None:
    batch = batch_for([sub(1, SEWAGE[0])])
    batch.verdict(verdict(0, "severe", site=SEWAGE, factor=LEAD, value=0.7, limit=0.2))
    body = batch.outbox[-1].body
    assert "第七条" in body and "不建议实施停产整治" in body
    assert "停产整治" not in batch.outbox[-1].title


def test_heavy_metal_message_cites_article_6_2_with_the_water_law() -> None:
    batch = batch_for([sub(1, CHEMICALS[0])])
    batch.verdict(verdict(0, "severe", site=CHEMICALS, factor=LEAD, value=0.7, limit=0.2))
    row = batch.outbox[-1]
    assert "建议停产整治" in row.title and "总铅" in row.title
    assert "第六条第（二）项" in row.body and "mg/L" in row.body


def test_order_notice_tells_the_enterprise_what_to_do_next() -> None:
    batch = batch_for([sub(1, A), sub(2, B)])
    order = RegulatorOrder(7, A, None, OrderAction.RESTRICT, T0, T0, "执法支队 赵六")
    batch.order(order, lifted=False)
    (row,) = batch.outbox
    assert row.subscription_id == 1 and row.alert_id is None
    assert "限制生产" in row.title and "十五个工作日" in row.body and "执法支队 赵六" in row.body


def test_data_quality_message_names_the_device_and_what_was_seen() -> None:
    batch = batch_for([sub(1, A)], quality_pending_minutes=0)
    batch.signal(
        QualitySignal(
            device_id="DEMO-TP01-G1",
            factor="a21026",
            kind=QualityKind.FLAGGED,
            active=True,
            observed_at=T0,
            detail={"flags": {"C": 14}},
        )
    )
    (row,) = [o for o in batch.outbox if o.alert_id and o.alert_id.endswith("quality.flagged")]
    assert "【告警·数据质量】" in row.title
    assert "DEMO-TP01-G1" in row.body and '{"flags": {"C": 14}}' in row.body
    assert "HJ 75-2017" in row.body


def test_lift_notice_names_who_lifted_it() -> None:
    batch = batch_for([sub(1, A)])
    order = RegulatorOrder(
        7, A, None, OrderAction.RESTRICT, T0, T0, "赵六", "", T0 + timedelta(days=2), "钱七"
    )
    batch.order(order, lifted=True)
    (row,) = batch.outbox
    assert "解除限制生产" in row.title and "解除人：钱七" in row.body


def test_a_resolved_data_quality_notice_says_what_ended_without_an_empty_count() -> None:
    """Issue 13 item 4: the resolved notice of a data-quality alert printed "已连续  个有效时段"
    (no streak in a quality alert's evidence)."""
    batch = batch_for([sub(1, A)], quality_pending_minutes=0, quality_resolve_minutes=0)
    for active, minutes in ((True, 0), (False, 30)):
        batch.signal(
            QualitySignal(
                device_id="DEMO-TP01-G1", factor="a21026", kind=QualityKind.FLATLINE,
                active=active, observed_at=T0 + timedelta(minutes=minutes), detail={"value": 9.0},
            )
        )  # fmt: skip
    (resolved,) = [o for o in batch.outbox if o.kind == "resolved"]
    assert "已连续  个" not in resolved.body and "已连续" not in resolved.body
    assert "数据质量异常已结束，告警解除" in resolved.body


def test_a_resolved_exceedance_notice_still_counts_its_compliant_hours() -> None:
    batch = batch_for([sub(1, A)])
    batch.verdict(verdict(0, "exceedance"))
    for hour in range(1, 4):
        batch.verdict(verdict(hour, "compliant", value=10.0))
    resolved = [o for o in batch.outbox if o.kind == "resolved"]
    assert resolved and "已连续" in resolved[-1].body
    assert "已连续  个" not in resolved[-1].body
