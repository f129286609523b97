"""Art. 7 facilities (municipal sewage …): the record and the words (issue 13, item 6).

Order No. 30 Art. 7: such a facility is never suspended, it is penalised instead. Its notices
cite Art. 7 and never quote Art. 6's suspension; each hour it exceeds under an order is a case
of its own: an alert event with its basis and a notice to the regulator.
"""

from __future__ import annotations

from datetime import timedelta

from alerts_fixtures import COD, LEAD, SEWAGE, T0, demo_registry, verdict

from alerts.engine import Batch, World
from alerts.ladder import Basis
from alerts.model import AlertRecord, OrderAction, RegulatorOrder
from alerts.routing import ALL_ENTERPRISES, Audience, Subscription
from schemas.alert import AlertLevel

ENTERPRISE = Subscription(1, SEWAGE[0], Audience.ENTERPRISE, "json://ww", AlertLevel.DATA_QUALITY)
REGULATOR = Subscription(9, ALL_ENTERPRISES, Audience.REGULATOR, "json://reg", AlertLevel.WARNING)
COD_ALERT = f"{SEWAGE[1]}/{COD}/hourly_concentration"
SUSPENSION_THREATS = ("第六条", "可以责令其采取停产整治", "可以责令停产整治", "建议停产整治")


def world(*orders: RegulatorOrder) -> World:
    return World(demo_registry(), orders=orders, subscriptions=(ENTERPRISE, REGULATOR))


def restriction(hour: int) -> RegulatorOrder:
    start = T0 + timedelta(hours=hour)
    return RegulatorOrder(5, SEWAGE[0], None, OrderAction.RESTRICT, start, start, "执法支队 钱七")


def cod(hour: int, status: str = "exceedance") -> object:
    return verdict(hour, status, site=SEWAGE, factor=COD, limit=50.0)


def test_restriction_order_notice_of_an_art7_facility_cites_art7_not_suspension() -> None:
    batch = Batch(world(), {}, T0)
    batch.order(restriction(0), lifted=False)
    (row,) = [o for o in batch.outbox if o.subscription_id == ENTERPRISE.subscription_id]
    assert "第七条" in row.body and "第五十九条" in row.body
    for threat in (*SUSPENSION_THREATS, "停产整治"):
        assert threat not in row.body, threat


def test_restriction_order_notice_of_an_ordinary_enterprise_still_warns_of_art6_4() -> None:
    order = RegulatorOrder(6, "E-TP-01", None, OrderAction.RESTRICT, T0, T0, "执法支队 钱七")
    subs = (Subscription(2, "E-TP-01", Audience.ENTERPRISE, "json://tp", AlertLevel.WARNING),)
    batch = Batch(World(demo_registry(), subscriptions=subs), {}, T0)
    batch.order(order, lifted=False)
    assert "第六条第（四）项" in batch.outbox[0].body


def test_capped_heavy_metal_notice_states_the_case_without_quoting_art6() -> None:
    batch = Batch(world(), {}, T0 + timedelta(days=1))
    batch.verdict(verdict(0, "severe", site=SEWAGE, factor=LEAD, value=0.7, limit=0.2))
    body = batch.outbox[0].body
    assert "第七条" in body and "三倍以上" in body and "不建议实施停产整治" in body
    for threat in SUSPENSION_THREATS:
        assert threat not in body, threat


def test_each_hour_exceeding_under_an_order_is_recorded_and_told_to_the_regulator() -> None:
    records: dict[str, AlertRecord] = {}
    now = T0 + timedelta(days=1)
    before = Batch(world(), records, now)
    for hour in range(3):
        before.verdict(cod(hour))
    assert records[COD_ALERT].basis == Basis.ART5_SUSTAINED.value

    cases = []
    for minute, hour in enumerate((3, 4, 4, 5), start=1):  # hour 4 arrives twice (a replay)
        batch = Batch(world(restriction(3)), records, now + timedelta(minutes=minute))
        batch.verdict(cod(hour))
        cases.append(batch)
    events = [e for b in cases for e in b.events]
    assert [e.kind for e in events] == ["case", "case", "case"]
    hours = [e.evidence["period_start"] for e in events]
    assert hours == [(T0 + timedelta(hours=h)).isoformat() for h in (3, 4, 5)]
    for event in events:
        assert event.level is AlertLevel.RESTRICT_PRODUCTION
        assert event.evidence["basis"] == Basis.ART7_CAPPED.value
        assert event.evidence["capped_from"] == Basis.ART6_AFTER_RESTRICTION.value
    record = records[COD_ALERT]
    assert (
        record.basis == Basis.ART7_CAPPED.value and record.level is AlertLevel.RESTRICT_PRODUCTION
    )
    regulator = [
        o for b in cases for o in b.outbox if o.subscription_id == REGULATOR.subscription_id
    ]
    assert len(regulator) == 3 and all(o.kind == "case" for o in regulator)
    for row in regulator:
        assert "第七条" in row.body and "限制生产后" in row.body
        for threat in SUSPENSION_THREATS:
            assert threat not in row.body, threat


def test_an_ordinary_hour_under_no_order_is_not_a_case() -> None:
    records: dict[str, AlertRecord] = {}
    batch = Batch(world(), records, T0 + timedelta(days=1))
    for hour in range(5):
        batch.verdict(cod(hour))
    assert "case" not in [e.kind for e in batch.events]
