"""``greenwatch alerts run`` without a registry file follows the registry topic (real Kafka and
PostgreSQL, the service as a real process): it starts from the latest snapshot published (or
the database's newest when none is), and a version published while it runs applies from the
next batch on: its policy, its enterprises, and its version in the events' evidence."""

from __future__ import annotations

import copy
from typing import Any

from alerts_harness import POWER, wait_for
from conftest import AlertsEnv, registry_document

from schemas.alert import QualityKind
from schemas.registry import hash_password

SO2 = f"{POWER[1]}/a21026/hourly_concentration"
NOX = f"{POWER[1]}/a21002/hourly_concentration"
NEW_DEVICE = "DEMO-NEW01-K1"
NEW_SILENT = f"{NEW_DEVICE}/-/quality.silent"


def with_new_enterprise(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` plus enterprise E-NEW-01 (a copy of the demo cement plant) and its device."""
    cement = next(e for e in document["enterprises"] if e["id"] == "E-CM-01")
    newcomer = copy.deepcopy(cement)
    newcomer["id"], newcomer["name"] = "E-NEW-01", "新建示范水泥 (new cement plant)"
    outlet = newcomer["outlets"][0]
    outlet["id"] = "E-NEW-01-K1"
    outlet["devices"] = [
        {"mn": NEW_DEVICE, "password_sha256": hash_password(NEW_DEVICE, "123456"), "interval_s": 60}
    ]
    return {**document, "enterprises": [*document["enterprises"], newcomer]}


def log_has(env: AlertsEnv, text: str) -> bool:
    assert env.service.alive(), env.service.log_text()
    return text in env.service.log_text()


def marks_of(env: AlertsEnv, alert_id: str) -> int:
    rows = env.query(
        "SELECT (SELECT count(*) FROM jsonb_object_keys(marks)) FROM alerts WHERE alert_id = %s",
        alert_id,
    )
    return int(rows[0][0]) if rows else 0


def evidence_versions(env: AlertsEnv, alert_id: str) -> list[tuple[str, str, str]]:
    """(kind, alerts_registry_version, registry_version) of an alert's events, in order."""
    rows = env.query(
        "SELECT kind, evidence->>'alerts_registry_version', registry_version FROM alert_events"
        " WHERE alert_id = %s ORDER BY event_id",
        alert_id,
    )
    return [(r[0], r[1], r[2]) for r in rows]


def test_a_published_version_applies_from_the_next_batch(following_env: AlertsEnv) -> None:
    env = following_env
    first = env.publish(registry_document("alerts-it-1", resolve_after_compliant_hours=2))
    env.service.start()
    wait_for(
        "start line",
        lambda: log_has(env, f"(following {first.topic} from offset {first.offset}, hot reload)"),
    )

    # Under alerts-it-1 an alert needs two compliant hours to resolve, and an unknown device's
    # signal is refused.
    env.feed.verdict(0, "exceedance")
    env.feed.verdict(1, "compliant")
    env.feed.signal(QualityKind.SILENT, True, device=NEW_DEVICE)
    wait_for("hour 1 judged", lambda: marks_of(env, SO2) == 2)
    assert env.alert(SO2) == ("firing", 2, 1)
    wait_for(
        "unknown device refused",
        lambda: env.query("SELECT 1 FROM dead_letters WHERE reason = 'unknown_device'"),
    )
    assert env.alert(NEW_SILENT) is None

    second = registry_document("alerts-it-2", resolve_after_compliant_hours=1)
    env.publish(with_new_enterprise(second))
    wait_for("swap line", lambda: log_has(env, "registry alerts-it-1 → alerts-it-2"))
    assert "resolve_after_compliant_hours 2 → 1" in env.service.log_text()
    assert "enterprises added E-NEW-01" in env.service.log_text()

    # Under alerts-it-2 one compliant hour resolves, and the new enterprise gets its alerts.
    env.feed.verdict(0, "exceedance", factor="a21002", limit=50.0, registry_version="alerts-it-2")
    wait_for("NOx firing", lambda: env.alert(NOX) == ("firing", 2, 1))
    env.feed.verdict(1, "compliant", factor="a21002", limit=50.0, registry_version="alerts-it-2")
    wait_for("NOx resolved after one hour", lambda: env.alert(NOX) == ("resolved", 2, 1))
    env.feed.signal(QualityKind.SILENT, True, device=NEW_DEVICE)
    wait_for("new device's alert", lambda: env.alert(NEW_SILENT) == ("firing", 0, 1))
    owner = env.query("SELECT enterprise_id FROM alerts WHERE alert_id = %s", NEW_SILENT)
    assert owner == [("E-NEW-01",)]

    # The alert opened before the swap kept its state; each event records the registry the
    # service applied (evidence) beside the one its verdict was judged under.
    env.feed.verdict(2, "compliant")
    wait_for("SO2 resolved", lambda: env.alert(SO2) == ("resolved", 2, 1))
    assert evidence_versions(env, SO2) == [
        ("fired", "alerts-it-1", "alerts-it-1"),
        ("resolved", "alerts-it-2", "alerts-it-1"),
    ]
    assert evidence_versions(env, NOX) == [
        ("fired", "alerts-it-2", "alerts-it-2"),
        ("resolved", "alerts-it-2", "alerts-it-2"),
    ]
    assert [kind for kind, *_ in evidence_versions(env, NEW_SILENT)] == ["fired"]
    assert evidence_versions(env, NEW_SILENT)[0][1:] == ("alerts-it-2", "alerts-it-2")


def test_with_nothing_published_it_starts_from_the_database_and_follows(
    following_env: AlertsEnv,
) -> None:
    env = following_env
    env.service.start("--registry-wait", "1")
    wait_for(
        "start line", lambda: log_has(env, "registry alerts-it-1 (database, nothing published")
    )
    env.publish(with_new_enterprise(registry_document("alerts-it-2")))
    wait_for("swap line", lambda: log_has(env, "registry alerts-it-1 → alerts-it-2"))
    env.feed.signal(QualityKind.SILENT, True, device=NEW_DEVICE)
    wait_for("new device's alert", lambda: env.alert(NEW_SILENT) == ("firing", 0, 1))


def test_a_registry_file_is_read_once(alerts_env: AlertsEnv) -> None:
    env = alerts_env
    env.service.start()
    wait_for("start line", lambda: log_has(env, "read once, no hot reload)"))
    env.publish(with_new_enterprise(registry_document("alerts-it-2")))
    env.feed.signal(QualityKind.SILENT, True, device=NEW_DEVICE)
    wait_for(
        "new device refused",
        lambda: env.query("SELECT 1 FROM dead_letters WHERE reason = 'unknown_device'"),
    )
    assert "registry alerts-it-1 → " not in env.service.log_text()  # never swapped
