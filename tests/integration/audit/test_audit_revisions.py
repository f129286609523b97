"""The revision history through the API (issue 14 item 1: time series "each with its
revisions", verdicts "and their history"): a value re-sent through the real sink keeps its
earlier version readable in the revision lists and the verdict's history, in +08:00, paged
like every list, and only within the token's scope."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from audit_data import DAY, OURS, RANGE, THEIRS
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from audit.principal import Role
from audit.verdict_id import verdict_id
from schemas.measurement import Measurement, PeriodKind
from schemas.verdict import Rule, Verdict, VerdictStatus
from streams.sink import PgSink, SinkBatch, SourcePosition, create_pool

HOUR = DAY + timedelta(hours=11)
FIRST_AT = datetime(2026, 7, 4, 3, 5, tzinfo=UTC)
RESENT_AT = datetime(2026, 7, 4, 5, 0, tzinfo=UTC)
RAW = "gw.raw.hj212"


def _get(client: TestClient, token: str, path: str, **params: Any) -> Any:
    return client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def _batch(
    value: float, received_at: datetime, offset: int, status: VerdictStatus, **evidence: int
) -> SinkBatch:
    minute = Measurement(
        device_id=OURS["device"], outlet_id=OURS["outlet"], factor="a21026",
        factor_as_sent="a21026", period=PeriodKind.MINUTE, period_start=HOUR, avg=value,
        received_at=received_at,
    )  # fmt: skip
    judged = Verdict(
        enterprise_id=OURS["enterprise"], outlet_id=OURS["outlet"], factor="a21026",
        rule=Rule.HOURLY_CONCENTRATION, period=PeriodKind.HOUR, period_start=HOUR, value=value,
        limit=35.0, ratio=value / 35.0, status=status, evidence={"valid_minutes": 60, **evidence},
        registry_version="demo-province-2026.1",
    )  # fmt: skip
    key = (minute.device_id, minute.factor, minute.period.value, minute.period_start)
    return SinkBatch(
        measurements=[minute], verdicts=[judged], sources={key: SourcePosition(RAW, 0, offset)}
    )


@pytest.fixture
def resent(audit_pool: ConnectionPool, pg_schema: Any) -> Iterator[None]:
    """Our minute of 11:00 and its verdict written by the sink, then re-sent lower."""
    pool = create_pool(pg_schema.dsn)
    try:
        sink = PgSink(pool)
        sink.flush(_batch(80.0, FIRST_AT, 100, VerdictStatus.EXCEEDANCE))
        sink.flush(_batch(20.0, RESENT_AT, 200, VerdictStatus.COMPLIANT, resent_values=1))
        yield
    finally:
        pool.close()


@pytest.mark.usefixtures("resent")
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_a_resent_measurements_earlier_value_is_in_the_revision_list(
    client: TestClient, tokens: dict[Role, str], role: Role
) -> None:
    current = _get(client, tokens[role], "/v1/measurements", **RANGE, device=OURS["device"])
    now = [i for i in current.json()["items"] if i["period_start"] == HOUR.isoformat()]
    assert [i["avg"] for i in now] == [20.0]
    response = _get(
        client, tokens[role], "/v1/measurements/revisions", **RANGE, device=OURS["device"]
    )
    assert response.status_code == 200, response.text
    earlier = [i for i in response.json()["items"] if i["period_start"] == HOUR.isoformat()]
    assert len(earlier) == 1
    (revision,) = earlier
    assert revision["avg"] == 80.0 and revision["reason"] == "resent"
    assert revision["period_start"] == "2026-07-04T11:00:00+08:00"
    assert revision["received_at"] == "2026-07-04T11:05:00+08:00"
    assert revision["superseded_by_received_at"] == "2026-07-04T13:00:00+08:00"
    assert (revision["source_topic"], revision["source_offset"]) == (RAW, 200)


@pytest.mark.usefixtures("resent")
def test_a_verdicts_history_lists_its_revisions_oldest_first(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    vid = verdict_id(OURS["outlet"], "a21026", "hourly_concentration", HOUR)
    for role in Role:
        response = _get(client, tokens[role], f"/v1/verdicts/{vid}/history")
        assert response.status_code == 200, response.text
        versions = response.json()["versions"]
        assert [(v["revision"], v["status"], v["value"], v["current"]) for v in versions] == [
            (1, "exceedance", 80.0, False),
            (2, "compliant", 20.0, True),
        ]
        assert versions[0]["superseded_by"] == 2 and versions[0]["reason"] == "resent"
        assert versions[0]["evidence"] == {"valid_minutes": 60}
        assert versions[0]["superseded_at"].endswith("+08:00")
        assert versions[0]["source"]["positions"][0]["first"] == 200
        assert versions[1]["superseded_at"] is None
    listed = _get(
        client, tokens[Role.AUDITOR], "/v1/verdicts/revisions", **RANGE, status="exceedance"
    )
    ids = [i["id"] for i in listed.json()["items"] if i["value"] == 80.0]
    assert ids == [vid]


def test_another_enterprises_verdict_history_is_not_found(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    theirs = verdict_id(
        THEIRS["outlet"], "a21026", "hourly_concentration", DAY + timedelta(hours=10)
    )
    ours = verdict_id(OURS["outlet"], "a21026", "hourly_concentration", DAY + timedelta(hours=10))
    for role in Role:
        mine = _get(client, tokens[role], f"/v1/verdicts/{ours}/history")
        assert mine.status_code == 200, mine.text
        assert [v["revision"] for v in mine.json()["versions"]] == [1, 2]
        refused = _get(client, tokens[role], f"/v1/verdicts/{theirs}/history")
        assert refused.status_code == 404, (role, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert "scope" in refused.json()["detail"]
    bad = _get(client, tokens[Role.AUDITOR], "/v1/verdicts/not-an-id/history")
    assert bad.status_code == 400 and "verdict id" in bad.json()["detail"]


def test_revision_pages_chain_by_cursor(client: TestClient, tokens: dict[Role, str]) -> None:
    for path in ("measurements/revisions", "values/hourly/revisions", "verdicts/revisions"):
        seen: list[int] = []
        cursor: str | None = None
        while True:
            extra = {"cursor": cursor} if cursor else {}
            body = _get(client, tokens[Role.ENTERPRISE], f"/v1/{path}", **RANGE, limit=1, **extra)
            assert body.status_code == 200, body.text
            seen += [i["revision_id"] for i in body.json()["items"]]
            cursor = body.json()["next_cursor"]
            if cursor is None:
                break
        assert seen and len(seen) == len(set(seen)), path
