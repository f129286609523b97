"""The alert service under awkward input on the real services: flapping, duplicates, poison
messages, a failing webhook, a silent device, a maintenance window, acknowledgement."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from alerts_harness import CEMENT, POWER, SEWAGE, build_verdict, free_port, wait_for
from conftest import AlertsEnv
from kafka import KafkaConsumer
from services import kafka_config

from schemas.alert import QualityKind
from schemas.envelope import DeadLetter
from schemas.topics import Topic, topic_name

NOX = f"{POWER[1]}/a21002/hourly_concentration"
SO2 = f"{POWER[1]}/a21026/hourly_concentration"
PM = f"{POWER[1]}/a34013/hourly_concentration"
SILENT = f"{POWER[2]}/-/quality.silent"


def outbox_count(env: AlertsEnv, alert_id: str) -> int:
    return int(
        env.query("SELECT count(*) FROM notification_outbox WHERE alert_id = %s", alert_id)[0][0]
    )


def sentinel(env: AlertsEnv, hour: int) -> None:
    """Send a PM verdict after the others on the same key (same partition) and wait for it:
    everything sent before is then processed."""
    env.feed.verdict(hour, "exceedance", factor="a34013", limit=10.0)
    expected = (datetime(2026, 3, 2, tzinfo=UTC) + timedelta(hours=hour)).isoformat()
    wait_for(
        f"sentinel hour {hour}",
        lambda: env.query(
            "SELECT 1 FROM alerts WHERE alert_id = %s AND evidence->>'period_start' = %s",
            PM,
            expected,
        ),
    )


def dead_letters(env: AlertsEnv, count: int) -> list[DeadLetter]:
    consumer = KafkaConsumer(
        topic_name(env.prefix, Topic.DEADLETTER),
        **kafka_config(env.settings.kafka_bootstrap),
        auto_offset_reset="earliest",
        consumer_timeout_ms=15_000,
    )
    letters: list[DeadLetter] = []
    try:
        for record in consumer:
            letters.append(DeadLetter.model_validate_json(record.value))
            if len(letters) >= count:
                break
    finally:
        consumer.close()
    return letters


def test_flapping_duplicates_poison_and_a_failing_webhook(alerts_env: AlertsEnv) -> None:
    env, inbox = alerts_env, alerts_env.receivers.inbox
    env.cli("subscribe", POWER[0], "--channel", env.receivers.hook_url("A"))
    inbox.fail_next["/flaky"] = 2
    env.cli("subscribe", CEMENT[0], "--channel", env.receivers.hook_url("flaky"))
    env.service.start()

    # Flapping NOx: exceeding every other hour never resolves (hysteresis 2 h): one notice.
    statuses = ["exceedance", "compliant"] * 5
    for hour, status in enumerate(statuses):
        env.feed.verdict(hour, status, factor="a21002", limit=50.0)
    sentinel(env, 0)
    assert env.alert(NOX) == ("firing", 2, 1)
    assert outbox_count(env, NOX) == 1

    # The same verdicts again (a producer retry, a replay): nothing new.
    for hour, status in enumerate(statuses):
        env.feed.verdict(hour, status, factor="a21002", limit=50.0)
    sentinel(env, 1)
    assert outbox_count(env, NOX) == 1
    assert env.query("SELECT count(*) FROM alert_events WHERE alert_id = %s", NOX) == [(1,)]

    # A re-issued verdict (revision 2) wins over a stale re-send of revision 1.
    env.feed.verdict(30, "exceedance", revision=2)
    env.feed.verdict(30, "compliant", revision=1)
    sentinel(env, 3)
    hour30 = (datetime(2026, 3, 2, tzinfo=UTC) + timedelta(hours=30)).isoformat()
    assert env.query("SELECT marks->%s->>'s' FROM alerts WHERE alert_id = %s", hour30, SO2) == [
        ("exceedance",)
    ]
    assert env.alert(SO2) == ("firing", 2, 1)

    # Poison: bytes that are no verdict, and a verdict for another enterprise's outlet.
    env.feed.raw(env.feed.verdicts, "key\x00with NUL", b"\x00not json at all")
    forged = json.loads(
        build_verdict(2, "compliant", factor="a21002", limit=50.0).model_dump_json()
    )
    forged["enterprise_id"] = SEWAGE[0]
    env.feed.raw(env.feed.verdicts, POWER[1], json.dumps(forged).encode())
    unstorable = json.loads(build_verdict(5, "exceedance", factor="a19001").model_dump_json())
    unstorable["evidence"]["o2_measured"] = float("nan")  # JSON NaN: PostgreSQL's jsonb refuses it
    env.feed.raw(env.feed.verdicts, POWER[1], json.dumps(unstorable).encode())
    sentinel(env, 4)
    letters = dead_letters(env, 3)
    reasons = {letter.reason for letter in letters}
    assert reasons == {"invalid_verdict", "enterprise_mismatch", "unstorable"}
    assert any(letter.payload == b"\x00not json at all" for letter in letters)
    assert env.query("SELECT count(*) FROM dead_letters WHERE source = 'alerts.service'") == [(3,)]

    # A webhook that fails twice: retried with backoff, delivered, every attempt logged.
    env.feed.verdict(0, "exceedance", site=CEMENT, limit=200.0)
    wait_for("flaky webhook delivered", lambda: inbox.hooks_at("/flaky"), timeout_s=30)
    attempts = wait_for(
        "delivery log",
        lambda: (
            env.query(
                "SELECT d.attempt, d.ok, d.error IS NOT NULL FROM notification_deliveries d"
                " JOIN notification_outbox o USING (outbox_id) WHERE o.enterprise_id = %s"
                " ORDER BY d.attempt",
                CEMENT[0],
            )
            if env.query(
                "SELECT 1 FROM notification_outbox WHERE status = 'sent' AND enterprise_id = %s",
                CEMENT[0],
            )
            else None
        ),
    )
    assert attempts == [(1, False, True), (2, False, True), (3, True, False)]
    assert len(inbox.hooks_at("/flaky")) == 1
    assert env.service.alive(), env.service.log_text()


def test_silent_device_maintenance_and_acknowledgement(alerts_env: AlertsEnv) -> None:
    env, inbox = alerts_env, alerts_env.receivers.inbox
    env.cli("subscribe", POWER[0], "--channel", env.receivers.hook_url("A"))
    env.cli("subscribe", SEWAGE[0], "--channel", env.receivers.hook_url("B"))
    env.service.start()

    # The device goes silent: a data-quality alert; its exceedance noise is held back.
    env.feed.signal(QualityKind.SILENT, True)
    wait_for("silent alert", lambda: env.alert(SILENT) == ("firing", 0, 1))
    wait_for("silent notice", lambda: any("数据质量" in h["title"] for h in inbox.hooks_at("/A")))
    env.feed.verdict(0, "exceedance")
    wait_for("exceedance recorded", lambda: env.alert(SO2) == ("firing", 2, 1))
    held = env.query("SELECT evidence->>'held_back' FROM alert_events WHERE alert_id = %s", SO2)
    assert held == [("inhibited",)]
    assert not any("超标" in h["title"] for h in inbox.hooks_at("/A"))

    # It reports again: the data-quality alert resolves and the held exceedance notice goes out.
    env.feed.signal(QualityKind.SILENT, False)
    wait_for(
        "held notice released",
        lambda: any("【告警·超标】" in h["title"] for h in inbox.hooks_at("/A")),
    )
    assert env.alert(SILENT) == ("resolved", 0, 1)

    # Acknowledged by the enterprise: recorded with the person's name.
    env.cli("ack", SO2, "--by", "厂环保员 王五", "--note", "已调整脱硫剂量")
    listed = [
        json.loads(line)
        for line in env.cli("list", "--enterprise", POWER[0], "--json").splitlines()
    ]
    so2 = next(item for item in listed if item["alert_id"] == SO2)
    assert so2["acknowledged_by"] == "厂环保员 王五" and so2["state"] == "firing"
    assert "厂环保员 王五" in env.cli("history", SO2)
    assert "is resolved" in env.cli_fails("ack", SILENT, "--by", "王五")

    # A declared maintenance window at the sewage plant: recorded, not notified.
    now = datetime.now(UTC)
    env.cli(
        "maintenance", SEWAGE[1], "--from", (now - timedelta(minutes=5)).isoformat(),
        "--to", (now + timedelta(hours=1)).isoformat(),
        "--by", "污水厂 赵六", "--reason", "更换探头",
    )  # fmt: skip
    env.feed.verdict(0, "exceedance", site=SEWAGE, factor="w01018", limit=50.0)
    cod = f"{SEWAGE[1]}/w01018/hourly_concentration"
    wait_for("maintenance exceedance recorded", lambda: env.alert(cod) == ("firing", 2, 1))
    assert env.query(
        "SELECT evidence->>'held_back' FROM alert_events WHERE alert_id = %s", cod
    ) == [("maintenance",)]
    assert inbox.hooks_at("/B") == []
    assert env.service.alive(), env.service.log_text()


def test_undeliverable_notice_is_retried_then_given_up_and_bad_channels_are_refused(
    alerts_env: AlertsEnv,
) -> None:
    env = alerts_env
    refused = env.cli_fails("subscribe", POWER[0], "--channel", "nonsense://nowhere")
    assert "Apprise" in refused
    closed = f"json://127.0.0.1:{free_port()}/nobody-listens"
    env.cli("subscribe", POWER[0], "--channel", closed)
    env.query(
        "INSERT INTO alerts (alert_id, subject, factor, rule, enterprise_id, state, level, episode,"
        " basis, registry_version) VALUES ('x/-/manual', 'x', NULL, 'manual', %s, 'firing', 2, 1,"
        " 'exceedance', 'alerts-it-1') RETURNING alert_id",
        POWER[0],
    )
    env.query(
        "INSERT INTO notification_outbox (alert_id, episode, subscription_id, enterprise_id,"
        " channel, kind, level, title, body, not_before, next_attempt_at)"
        " SELECT 'x/-/manual', 1, subscription_id, %s, channel, 'opened', 2, '标题', '正文',"
        " now(), now() FROM alert_subscriptions RETURNING outbox_id",
        POWER[0],
    )
    for _ in range(3):
        env.cli("notify", "--once", "--max-attempts", "2", "--retry-base-seconds", "0")
    assert env.query("SELECT status, attempts FROM notification_outbox") == [("dead", 2)]
    logged = env.query(
        "SELECT attempt, ok, channel, error IS NOT NULL FROM notification_deliveries"
        " ORDER BY attempt"
    )
    assert [(a, ok, failed) for a, ok, _, failed in logged] == [(1, False, True), (2, False, True)]
    assert all("nobody-listens" in channel for _, _, channel, _ in logged)


def test_quiet_hours_hold_a_warning_but_never_an_exceedance(alerts_env: AlertsEnv) -> None:
    env, inbox = alerts_env, alerts_env.receivers.inbox
    china = timezone(timedelta(hours=8))
    now = datetime.now(china)
    quiet = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"  # now is quiet
    env.cli("subscribe", POWER[0], "--channel", env.receivers.hook_url("Q"), "--quiet", quiet)
    env.service.start()

    env.feed.verdict(0, "warning", factor="a21002", limit=50.0)  # NOx at 90 % of its limit
    env.feed.verdict(0, "exceedance")  # SO2 above its limit, during the quiet hours
    wait_for("exceedance notice", lambda: any("超标" in h["title"] for h in inbox.hooks_at("/Q")))

    held = wait_for(
        "warning notice queued",
        lambda: env.query(
            "SELECT status, not_before FROM notification_outbox WHERE alert_id = %s", NOX
        ),
    )
    (status, not_before), *_ = held
    quiet_end = (now + timedelta(hours=1)).replace(second=0, microsecond=0)
    assert status == "pending"
    assert not_before == quiet_end  # held to the end of the quiet period, not dropped
    env.cli("notify", "--once")  # a delivery pass now: still held
    assert env.query("SELECT status FROM notification_outbox WHERE alert_id = %s", NOX) == [
        ("pending",)
    ]
    assert [h["title"] for h in inbox.hooks_at("/Q") if "预警" in h["title"]] == []
