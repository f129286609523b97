"""The alert service and the alert commands connect as ``gw_alerts`` on the local stack (issue
11, item 4): ``greenwatch alerts run`` (a real process) and ``alerts subscribe`` /
``order-restrict``, without GREENWATCH_DATABASE_URL, log in as the role and still raise the
alert, append its events, deliver its notices and record the order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from alerts_harness import POWER, T0, wait_for
from conftest import AlertsEnv
from psycopg.conninfo import conninfo_to_dict
from services import sessions_as
from typer.testing import CliRunner

from greenwatch.cli import app
from runtime.settings import DbLogin

A_SO2 = f"{POWER[1]}/a21026/hourly_concentration"


def test_the_alert_service_and_commands_log_in_as_gw_alerts(
    alerts_env: AlertsEnv, services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if services.origin != "local":
        pytest.skip("the service roles and their passwords are the local stack's")
    env = alerts_env
    as_role = env.settings.model_copy(update={"database_url": None})
    monkeypatch.setenv("PGOPTIONS", str(conninfo_to_dict(env.dsn).get("options") or ""))

    def cli(*args: str) -> str:
        result = CliRunner().invoke(app, ["alerts", *args], obj=as_role)
        assert result.exit_code == 0, f"alerts {' '.join(args)}: {result.output}"
        return result.output

    cli("subscribe", POWER[0], "--channel", env.receivers.hook_url("A"))
    env.service.local_stack_state = services.settings.state_dir
    env.service.start()
    env.feed.verdict(0, "exceedance")
    env.feed.verdict(1, "exceedance")
    wait_for("webhook to A", lambda: env.receivers.inbox.hooks_at("/A"), 60)
    assert env.alert(A_SO2) == ("firing", 2, 1), env.service.log_text()
    assert env.query("SELECT count(*) FROM alert_events WHERE alert_id = %s", A_SO2)[0][0] > 0
    sessions = sessions_as(env.dsn, DbLogin.ALERTS)  # (no DSN in a failure)
    assert sessions > 0
    assert env.service.alive(), env.service.log_text()
    cli("order-restrict", POWER[0], "--by", "执法支队 张三", "--reason", "连续超标",
        "--effective-from", (T0 + timedelta(hours=3)).isoformat())  # fmt: skip
    assert env.query("SELECT count(*) FROM regulator_orders")[0][0] == 1
    assert "firing" in cli("list")
