"""Plan consequences through the running alert service (issue 10 item 3): ``plan progress
--publish`` sends the verdicts to the verdicts topic; the service raises a red region as the
限批缓批 recommendation and its regulator's webhook receives it; the enterprise green on its
own assigned target is told nothing."""

from __future__ import annotations

import json

import psycopg
from alerts_harness import wait_for
from conftest import AlertsEnv
from plan_support import AS_OF, seed_year
from typer.testing import CliRunner

from greenwatch.cli import app


def test_red_region_reaches_its_regulator_through_the_alert_service(
    alerts_env: AlertsEnv,
) -> None:
    env, inbox = alerts_env, alerts_env.receivers.inbox
    with psycopg.connect(env.dsn, autocommit=True) as conn:
        seed_year(conn)
    env.cli(
        "subscribe", "*", "--audience", "regulator", "--level", "exceedance",
        "--channel", env.receivers.hook_url("regulator"),
    )  # fmt: skip
    env.cli("subscribe", "E-TP-01", "--channel", env.receivers.hook_url("tp"))
    env.service.start()
    args = ["plan", "progress", "--region", "520000", "--as-of", AS_OF.isoformat(), "--publish"]
    result = CliRunner().invoke(app, args, obj=env.settings)
    assert result.exit_code == 0, result.output

    def recommendation() -> str | None:
        for hook in inbox.hooks_at("/regulator"):
            text = json.dumps(hook, ensure_ascii=False)
            if "限批、缓批" in text and "贵阳市发展和改革委员会" in text:
                return text
        return None

    text = wait_for("限批缓批 recommendation to the regulator", recommendation, timeout_s=90)
    assert "gz-energy-per-va-2018" in text or "单位工业增加值能耗" in text
    alerts = env.query(
        "SELECT basis, level FROM alerts WHERE subject = 'region:520100'"
        " AND factor = 'gz-energy-per-va-2018'"
    )
    assert alerts == [("plan_restrict_approvals", 2)]
    assert env.query("SELECT count(*) FROM alerts WHERE subject = 'enterprise:E-TP-01'"
                     " AND state <> 'resolved' AND level > 0") == [(0,)]  # fmt: skip
