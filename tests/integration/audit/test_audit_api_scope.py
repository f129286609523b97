"""Access by role through the API: every endpoint × every role sees its own scope's rows and
never another enterprise's or region's; asking for them by filter is refused (403); a role an
endpoint is not for is refused; no token, a wrong one, an expired or revoked one is 401."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from audit_data import OURS, RANGE, THEIRS, issue
from fastapi.testclient import TestClient

from audit.principal import Principal, Role
from audit.resources import RESOURCES, Owner, Resource
from audit.tokens import revoke_token

# How a row of each owner kind names "their" enterprise.
THEIR_MARKS = {
    Owner.ENTERPRISE: ("enterprise_id", THEIRS["enterprise"]),
    Owner.OUTLET: ("outlet_id", THEIRS["outlet"]),
    Owner.DEVICE: ("device_id", THEIRS["device"]),
    Owner.ALERT: ("alert_id", f"{THEIRS['outlet']}/a21026/hourly_concentration"),
}


def _params(resource: Resource, **extra: str) -> dict[str, str]:
    return {**(RANGE if resource.time_required else {}), **extra}


def _get(client: TestClient, token: str, path: str, params: dict[str, str]) -> Any:
    return client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def _theirs(resource: Resource, item: dict[str, Any]) -> bool:
    if resource.owner is Owner.NOTICE:
        return False  # checked through notices below (a delivery names only its notice)
    column, value = THEIR_MARKS[resource.owner]
    return item.get(column) == value


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_endpoint_shows_only_the_roles_scope(
    client: TestClient, tokens: dict[Role, str], role: Role
) -> None:
    token = tokens[role]
    notices = _get(client, token, "/v1/notices", {}).json()["items"]
    visible_notices = {n["outbox_id"] for n in notices}
    assert {n["enterprise_id"] for n in notices} == {OURS["enterprise"]}
    for resource in RESOURCES:
        path = f"/v1/{resource.path}"
        response = _get(client, token, path, _params(resource))
        if role not in resource.roles:
            assert response.status_code == 403, path
            assert response.headers["content-type"] == "application/problem+json"
            continue
        assert response.status_code == 200, (path, response.text)
        items = response.json()["items"]
        assert items, f"{path}: {role} sees none of its own rows"
        assert not [i for i in items if _theirs(resource, i)], f"{path} leaks to {role}"
        if resource.owner is Owner.NOTICE:
            assert {i["outbox_id"] for i in items} <= visible_notices


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_asking_for_another_enterprise_or_region_is_refused(
    client: TestClient, tokens: dict[Role, str], role: Role
) -> None:
    for resource in RESOURCES:
        if role not in resource.roles:
            continue
        path = f"/v1/{resource.path}"
        other = _get(client, tokens[role], path, _params(resource, enterprise=THEIRS["enterprise"]))
        region = _get(client, tokens[role], path, _params(resource, region="5203"))
        assert region.status_code == 403, path
        assert "region" in region.json()["detail"]
        if role is Role.ENTERPRISE:
            assert other.status_code == 403, path
        else:  # within the regions, another enterprise's filter simply finds nothing of 5203
            assert other.status_code == 200 and other.json()["items"] == [], path


def test_registry_is_narrowed_to_the_region_and_has_no_digests(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    body = _get(client, tokens[Role.AUDITOR], "/v1/registry", {}).json()
    ids = {e["id"] for e in body["document"]["enterprises"]}
    assert OURS["enterprise"] in ids and THEIRS["enterprise"] not in ids
    assert "password" not in str(body) and "hmac" not in str(body)
    refused = _get(client, tokens[Role.ENTERPRISE], "/v1/registry", {})
    assert refused.status_code == 403


def test_bad_tokens_are_401(client: TestClient, audit_db: psycopg.Connection[Any]) -> None:
    assert client.get("/v1/enterprises").status_code == 401
    assert _get(client, "gwa_nope_nope", "/v1/enterprises", {}).status_code == 401
    assert _get(client, "not-a-token", "/v1/enterprises", {}).status_code == 401
    token = issue(audit_db, Principal(Role.AUDITOR, regions=("52",)))
    assert _get(client, token, "/v1/enterprises", {}).status_code == 200
    revoke_token(audit_db, token.split("_")[1])
    revoked = _get(client, token, "/v1/enterprises", {})
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    expiring = issue(audit_db, Principal(Role.AUDITOR, regions=("52",)))
    audit_db.execute(
        "UPDATE api_tokens SET created_at = now() - interval '2 days',"
        " expires_at = now() - interval '1 second' WHERE token_id = %s",
        (expiring.split("_")[1],),
    )
    expired = _get(client, expiring, "/v1/enterprises", {})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_dead_letters_of_no_registered_device_are_every_regulators(
    client: TestClient, tokens: dict[Role, str], audit_db: psycopg.Connection[Any]
) -> None:
    audit_db.execute(
        "INSERT INTO dead_letters (source, reason, message, device_id, received_at, payload)"
        " VALUES ('gateway.hj212', 'unknown_device', 'not registered', 'NOT-IN-REGISTRY',"
        " now(), '\\x00')"
    )
    items = _get(client, tokens[Role.REGULATOR], "/v1/dead-letters", {}).json()["items"]
    devices = {i["device_id"] for i in items}
    assert devices == {OURS["device"], "NOT-IN-REGISTRY"}
