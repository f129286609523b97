"""The judged cannot rewrite the record (issue 13), on the running alert service (real Kafka,
PostgreSQL, webhook receiver): an Art. 7 facility's hours under an order are recorded and told
to the regulator in words that cite Art. 7; a softened verdict reaches the enterprise and the
regulator at once with both values; ``alerts history --json`` writes ISO 8601 times."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from alerts_harness import POWER, SEWAGE, T0, wait_for
from conftest import AlertsEnv

from schemas.alert import QualityKind

COD = "w01018"
B_COD = f"{SEWAGE[1]}/{COD}/hourly_concentration"
A_REVISED = f"{POWER[1]}/a21026/quality.revised_down"
SUSPENSION_THREATS = ("第六条", "可以责令其采取停产整治", "可以责令停产整治", "建议停产整治")


def subscribe(env: AlertsEnv, enterprise: str, path: str) -> None:
    env.cli("subscribe", enterprise, "--channel", env.receivers.hook_url(path))
    env.cli(
        "subscribe", "*", "--audience", "regulator", "--level", "data_quality",
        "--channel", env.receivers.hook_url("regulator"),
    )  # fmt: skip


def hooks_with(env: AlertsEnv, path: str, text: str) -> list[dict[str, str]]:
    return [h for h in env.receivers.inbox.hooks_at(path) if text in h["title"] + h["message"]]


def test_art7_facility_exceeding_under_an_order_is_recorded_each_hour(
    alerts_env: AlertsEnv,
) -> None:
    env = alerts_env
    subscribe(env, SEWAGE[0], "B")
    env.service.start()
    for hour in range(3):
        env.feed.verdict(hour, "exceedance", site=SEWAGE, factor=COD, limit=50.0)
    wait_for("Art. 5 restriction recommended", lambda: env.alert(B_COD) == ("escalated", 3, 1))

    env.cli(
        "order-restrict", SEWAGE[0], "--by", "执法支队 钱七", "--reason", "连续超标",
        "--effective-from", (T0 + timedelta(hours=3)).isoformat(),
    )  # fmt: skip
    order = wait_for("order notice", lambda: hooks_with(env, "/B", "【监管决定·限制生产】"))
    assert "第七条" in order[0]["message"]
    assert not any(t in order[0]["message"] for t in (*SUSPENSION_THREATS, "停产整治"))

    for hour in (3, 4):
        env.feed.verdict(hour, "exceedance", site=SEWAGE, factor=COD, limit=50.0)
    cases = wait_for(
        "two case events",
        lambda: (
            rows
            if len(
                rows := env.query(
                    "SELECT evidence->>'period_start', evidence->>'basis',"
                    " evidence->>'capped_from' FROM alert_events"
                    " WHERE alert_id = %s AND kind = 'case' ORDER BY event_id",
                    B_COD,
                )
            )
            == 2
            else None
        ),
    )
    assert [c[0] for c in cases] == [(T0 + timedelta(hours=h)).isoformat() for h in (3, 4)]
    assert {(c[1], c[2]) for c in cases} == {
        ("order30_art7_no_suspension", "order30_art6_4_after_restriction")
    }
    assert env.query("SELECT basis, level FROM alerts WHERE alert_id = %s", B_COD) == [
        ("order30_art7_no_suspension", 3)
    ]
    told = wait_for(
        "regulator told of both hours",
        lambda: found if len(found := hooks_with(env, "/regulator", "告警续报")) >= 2 else None,
    )
    for hook in told:
        assert "第七条" in hook["message"] and "限制生产后" in hook["message"]
        assert not any(t in hook["message"] for t in SUSPENSION_THREATS)

    history = [json.loads(line) for line in env.cli("history", B_COD, "--json").splitlines()]
    assert [h["kind"] for h in history].count("case") == 2
    for entry in history:
        assert "T" in entry["at"] and datetime.fromisoformat(entry["at"]).tzinfo is not None


def test_a_rewritten_exceedance_tells_enterprise_and_regulator_at_once(
    alerts_env: AlertsEnv,
) -> None:
    env = alerts_env
    subscribe(env, POWER[0], "A")
    env.service.start()
    env.feed.verdict(10, "exceedance", revision=1)
    wait_for("exceedance", lambda: env.alert(f"{POWER[1]}/a21026/hourly_concentration"))
    env.feed.verdict(10, "compliant", revision=2)  # the 10:00 minutes re-sent lower
    wait_for("downward revision alert", lambda: env.alert(A_REVISED))
    for path in ("/A", "/regulator"):
        wait_for(f"told at {path}", lambda p=path: hooks_with(env, p, "下调"))  # type: ignore[misc]
    [(evidence,)] = env.query(
        "SELECT evidence FROM alert_events WHERE alert_id = %s AND kind = 'fired'", A_REVISED
    )
    detail = evidence["detail"]
    assert detail["previous"]["status"] == "exceedance" and detail["previous"]["value"] == 52.5
    assert detail["revised"]["status"] == "compliant" and detail["revised"]["value"] == 17.5
    assert evidence["period_start"] == (T0 + timedelta(hours=10)).isoformat()


def test_flags_outside_a_declared_window_reach_the_regulator(alerts_env: AlertsEnv) -> None:
    env = alerts_env
    subscribe(env, POWER[0], "A")
    now = datetime.now(UTC)
    env.cli(
        "maintenance", SEWAGE[1], "--from", (now - timedelta(minutes=5)).isoformat(),
        "--to", (now + timedelta(hours=1)).isoformat(), "--by", "污水厂 赵六",
        "--reason", "更换探头",
    )  # fmt: skip
    env.service.start()
    env.feed.signal(QualityKind.FLAGGED, True, device=SEWAGE[2])  # declared: accepted
    env.feed.signal(QualityKind.FLAGGED, True)  # the power plant declared nothing
    undeclared = f"{POWER[2]}/-/quality.undeclared_flag"
    wait_for("undeclared flag escalated", lambda: env.alert(undeclared) == ("escalated", 0, 1))
    wait_for("regulator told", lambda: hooks_with(env, "/regulator", "未事先申报"))
    assert env.alert(f"{SEWAGE[2]}/-/quality.flagged") is not None  # the signal was applied
    assert env.alert(f"{SEWAGE[2]}/-/quality.undeclared_flag") is None
