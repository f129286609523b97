"""The alert service end to end on the real services: verdicts on Kafka → ``greenwatch alerts
run`` (a real process) → alerts and events in PostgreSQL → notices delivered by Apprise to a
real SMTP server and a real webhook receiver."""

from __future__ import annotations

from datetime import timedelta

from alerts_harness import POWER, SEWAGE, T0, wait_for
from conftest import AlertsEnv

A_SO2 = f"{POWER[1]}/a21026/hourly_concentration"
B_COD = f"{SEWAGE[1]}/w01018/hourly_concentration"
A_MAIL, B_MAIL = "ops@tp01.example", "ops@ww01.example"


def subscribe_all(env: AlertsEnv) -> None:
    r = env.receivers
    env.cli("subscribe", POWER[0], "--channel", r.mail_url(A_MAIL))
    env.cli("subscribe", POWER[0], "--channel", r.hook_url("A"))
    env.cli("subscribe", SEWAGE[0], "--channel", r.mail_url(B_MAIL))
    env.cli("subscribe", SEWAGE[0], "--channel", r.hook_url("B"))
    env.cli(
        "subscribe", "*", "--audience", "regulator", "--level", "exceedance",
        "--channel", r.hook_url("regulator"),
    )  # fmt: skip


def mail_with(env: AlertsEnv, to: str, text: str) -> bool:
    return any(text in m.subject or text in m.body for m in env.receivers.inbox.mail_to(to))


def test_ladder_restart_order_suspend_and_resolve(alerts_env: AlertsEnv) -> None:
    env, inbox = alerts_env, alerts_env.receivers.inbox
    subscribe_all(env)
    env.service.start()

    # Two exceeding hours: an exceedance alert, told to A by mail and webhook, and to the regulator.
    env.feed.verdict(0, "exceedance")
    env.feed.verdict(1, "exceedance")
    wait_for("exceedance mail to A", lambda: mail_with(env, A_MAIL, "【告警·超标】"))
    first = inbox.mail_to(A_MAIL)[0]
    for text in (
        "1号机组烟囱",
        "二氧化硫",
        "52.5 mg/m³",
        "35 mg/m³",
        "ULE-coal-power",
        "第九十九条",
    ):
        assert text in first.body, text
    wait_for("webhook to A", lambda: inbox.hooks_at("/A"))
    wait_for("regulator told", lambda: inbox.hooks_at("/regulator"))
    assert env.alert(A_SO2) == ("firing", 2, 1)

    # Third hour: sustained → restriction recommended (Art. 5), escalated.
    env.feed.verdict(2, "exceedance")
    wait_for("Art. 5 escalation", lambda: mail_with(env, A_MAIL, "建议限制生产"))
    assert env.alert(A_SO2) == ("escalated", 3, 1)

    # Restart the service (killed, not drained): state and offsets survive.
    env.service.stop(kill=True)
    assert env.alert(A_SO2) == ("escalated", 3, 1)
    env.service.start()

    # The regulator orders a restriction from hour 3; A is told what to do next.
    out = env.cli(
        "order-restrict", POWER[0], "--by", "执法支队 张三", "--reason", "连续超标",
        "--effective-from", (T0 + timedelta(hours=3)).isoformat(),
    )  # fmt: skip
    assert "order" in out
    wait_for("order notice", lambda: mail_with(env, A_MAIL, "【监管决定·限制生产】"))
    assert mail_with(env, A_MAIL, "十五个工作日")

    # Still exceeding after the order → suspension recommended (Art. 6(4)).
    env.feed.verdict(3, "exceedance")
    wait_for("Art. 6(4) escalation", lambda: mail_with(env, A_MAIL, "建议停产整治"))
    assert mail_with(env, A_MAIL, "第六条第（四）项")
    assert env.alert(A_SO2) == ("escalated", 4, 1)

    # The Art. 7 sewage plant: same story, but never recommended for suspension.
    for hour in range(3):
        env.feed.verdict(hour, "exceedance", site=SEWAGE, factor="w01018", limit=50.0)
    wait_for("B restriction", lambda: env.alert(B_COD) == ("escalated", 3, 1))
    env.cli(
        "order-restrict", SEWAGE[0], "--by", "执法支队 李四",
        "--effective-from", (T0 + timedelta(hours=3)).isoformat(),
    )  # fmt: skip
    env.feed.verdict(3, "exceedance", site=SEWAGE, factor="w01018", limit=50.0)
    env.feed.verdict(4, "exceedance", site=SEWAGE, factor="w01018", limit=50.0)
    capped = wait_for(
        "B capped by Art. 7",
        lambda: env.query(
            "SELECT level, evidence->>'capped_from' FROM alerts WHERE alert_id = %s"
            " AND evidence->>'period_start' = %s",
            B_COD,
            (T0 + timedelta(hours=4)).isoformat(),
        ),
    )
    assert capped == [(3, "order30_art6_4_after_restriction")]

    # Two compliant hours → resolved, with a resolved notice.
    env.feed.verdict(4, "compliant")
    env.feed.verdict(5, "compliant")
    wait_for("resolved notice", lambda: mail_with(env, A_MAIL, "【告警解除"))
    assert env.alert(A_SO2) == ("resolved", 4, 1)

    # The regulator lifts the order: logged, and A is told.
    assert "lifted order" in env.cli("lift", POWER[0], "--by", "执法支队 张三")
    wait_for("lift notice", lambda: mail_with(env, A_MAIL, "解除限制生产"))
    assert "no order in force" in env.cli_fails("lift", POWER[0], "--by", "执法支队 张三")

    # The log tells the whole story, with the regulator's name and the evidence.
    kinds = env.query(
        "SELECT kind, actor, level FROM alert_events WHERE alert_id = %s ORDER BY event_id", A_SO2
    )
    assert [k for k, _, _ in kinds] == [
        "fired", "escalated", "order_restrict", "escalated", "resolved",
    ]  # fmt: skip
    assert kinds[2][1] == "执法支队 张三"
    evidence = env.query(
        "SELECT evidence FROM alert_events WHERE alert_id = %s AND kind = 'fired'", A_SO2
    )[0][0]
    assert evidence["value"] == 52.5 and evidence["registry_version"] == "alerts-it-1"
    assert evidence["verdict_evidence"]["flag_counts"] == {"N": 60}
    b_levels = env.query("SELECT max(level) FROM alert_events WHERE alert_id = %s", B_COD)
    assert b_levels == [(3,)]

    # Nobody hears about another enterprise.
    for mail in inbox.mail_to(A_MAIL):
        assert SEWAGE[1] not in mail.body and SEWAGE[0] not in mail.subject
    for mail in inbox.mail_to(B_MAIL):
        assert POWER[1] not in mail.body and POWER[0] not in mail.subject
    for hook in inbox.hooks_at("/B"):
        assert POWER[0] not in hook["title"] + hook["message"]
    # Every notice settled. The kill above may have caught one notice claimed but not yet
    # recorded: the at-most-once dispatcher settles it ``in_doubt`` (never sent twice), so at
    # most one may be in doubt; every other delivery succeeded.
    wait_for("deliveries logged", lambda: env.query(
        "SELECT count(*) FROM notification_outbox WHERE status IN ('pending', 'sending')"
    ) == [(0,)])  # fmt: skip
    by_status = dict(env.query("SELECT status, count(*) FROM notification_outbox GROUP BY status"))
    assert set(by_status) <= {"sent", "in_doubt"}, by_status
    assert by_status.get("in_doubt", 0) <= 1, by_status
    delivered = env.query(
        "SELECT count(*), bool_and(d.ok) FROM notification_deliveries d"
        " JOIN notification_outbox o USING (outbox_id) WHERE o.status = 'sent'"
    )
    assert delivered[0][0] >= 10 and delivered[0][1] is True
    log = env.cli("deliveries", "--enterprise", SEWAGE[0])
    assert "sent" in log and POWER[0] not in log
    assert env.service.alive(), env.service.log_text()
