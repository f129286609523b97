"""Reading through the API as a user would: pages that chain without losing or repeating a
row, times in +08:00, problem details for every mistake, OpenAPI and a docs page that loads
nothing from a CDN."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from audit_data import DAY, OURS, RANGE
from fastapi.testclient import TestClient

from audit.principal import Role


def _get(client: TestClient, token: str, path: str, **params: Any) -> Any:
    return client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def test_pages_chain_by_cursor_without_gaps_or_repeats(
    client: TestClient, tokens: dict[Role, str], audit_db: psycopg.Connection[Any]
) -> None:
    for minute in range(3, 60):  # 60 minutes of ours, at most 7 per page
        audit_db.execute(
            "INSERT INTO measurements (device_id, factor, period, period_start, outlet_id,"
            " factor_as_sent, avg, flag, received_at) VALUES (%s, 'a21026', 'minute', %s, %s,"
            " 'a21026', 1.0, 'N', %s)",
            (OURS["device"], DAY + timedelta(hours=10, minutes=minute), OURS["outlet"], DAY),
        )
    seen: list[tuple[str, str]] = []
    cursor = None
    pages = 0
    while True:
        params = {**RANGE, "limit": "7", **({"cursor": cursor} if cursor else {})}
        body = _get(client, tokens[Role.ENTERPRISE], "/v1/measurements", **params).json()
        seen += [(i["period_start"], i["device_id"]) for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 9 and len(seen) == 60 == len(set(seen))
    assert seen == sorted(seen)
    assert seen[0][0] == "2026-07-04T10:00:00+08:00"


def test_filters_narrow_and_times_are_china_time(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    body = _get(
        client,
        tokens[Role.AUDITOR],
        "/v1/verdicts",
        **RANGE,
        status="warning",
        outlet=OURS["outlet"],
    ).json()
    (verdict,) = body["items"]
    assert verdict["period_start"] == "2026-07-04T10:00:00+08:00"
    assert verdict["evidence"] == {"valid_count": 45}
    assert verdict["registry_version"] == "demo-province-2026.1"
    assert verdict["id"] == "E-TP-01-G1~a21026~hourly_concentration~20260704T100000+0800"
    utc = {"from": "2026-07-04T02:00:00Z", "to": "2026-07-04T03:00:00Z"}
    assert len(_get(client, tokens[Role.AUDITOR], "/v1/verdicts", **utc).json()["items"]) == 1
    none = _get(client, tokens[Role.AUDITOR], "/v1/verdicts", **RANGE, status="exceedance")
    assert none.json() == {"items": [], "next_cursor": None}


def test_mistakes_are_problem_details(client: TestClient, tokens: dict[Role, str]) -> None:
    token = tokens[Role.REGULATOR]
    cases = {
        "needs from and to": _get(client, token, "/v1/measurements"),
        "not an ISO 8601 time": _get(
            client, token, "/v1/verdicts", **{"from": "yesterday", "to": "x"}
        ),
        "at most 31 days": _get(
            client, token, "/v1/measurements", **{"from": "2026-01-01", "to": "2026-03-01"}
        ),
        "to must be after from": _get(
            client, token, "/v1/verdicts", **{"from": "2026-07-05", "to": "2026-07-04"}
        ),
        "limit must be between 1 and 1000": _get(client, token, "/v1/alerts", limit="5000"),
        "unknown parameter colour": _get(client, token, "/v1/alerts", colour="red"),
        "cursor is not one this API gave out": _get(client, token, "/v1/alerts", cursor="zz"),
        "is not an integer": _get(client, token, "/v1/alerts", level="high"),
        "has no time range": _get(client, token, "/v1/enterprises", **RANGE),
        "not a GB/T 2260 code": _get(client, token, "/v1/alerts", region="Guizhou"),
    }
    for needle, response in cases.items():
        assert response.status_code == 400, (needle, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == 400 and needle in body["detail"], (needle, body)


def test_openapi_and_docs_are_served_from_local_assets(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/verdicts" in spec["paths"] and "/v1/dead-letters" in spec["paths"]
    page = client.get("/docs").text
    assert "/docs/assets/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
