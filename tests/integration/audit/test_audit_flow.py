"""docs/audit.md end to end, as an auditor and an enterprise would do it: real processes
(`greenwatch db`, `api token create`, `api serve`, `audit reproduce`, `audit anchor`,
`audit verify`) and real HTTP against PostgreSQL holding what the worker's engine and sink
wrote. The auditor downloads a month of an outlet's hourly values as Parquet, reproduces one
of its verdicts and verifies the trail; the enterprise's token sees its own rows only."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from record import OUTLET, demo_registry, minutes, write_record

from audit.resources import RESOURCES

try:
    from services import free_port, wait_for_http
except ImportError:  # pragma: no cover
    from tests.services import free_port, wait_for_http


def sessions_of(dsn: str, application: str) -> set[str]:
    """The logins of the sessions named ``application`` right now."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT usename FROM pg_stat_activity WHERE application_name = %s", [application]
        ).fetchall()
    return {str(row[0]) for row in rows}


pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[3]
GREENWATCH = str(Path(sys.executable).parent / "greenwatch")
JULY = {"from": "2026-07-01T00:00:00+08:00", "to": "2026-08-01T00:00:00+08:00"}


def _run(env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(
        [GREENWATCH, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode in ok, (args, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture
def env(pg_schema: Any, services: Any) -> dict[str, str]:
    """Each command as it runs by default: on the local stack, no GREENWATCH_DATABASE_URL,
    so each logs in as its own role (`db migrate` and `api token` as the owner, `api serve`
    as gw_api, `audit reproduce|anchor|verify` as gw_reader; issue 11)."""
    env = {**os.environ, "GREENWATCH_KAFKA_BOOTSTRAP": services.kafka_bootstrap}
    if services.origin != "local":
        return env | {"GREENWATCH_DATABASE_URL": pg_schema.dsn}
    env.pop("GREENWATCH_DATABASE_URL", None)
    return env | {
        "GREENWATCH_STATE_DIR": str(services.settings.state_dir),
        "GREENWATCH_DATABASE_SCHEMA": pg_schema.name,
    }


@pytest.fixture
def api(env: dict[str, str], pg_schema: Any) -> Iterator[str]:
    _run(env, "db", "migrate")
    _run(
        env,
        "db",
        "load-registry",
        "--no-publish",
        str(ROOT / "schemas/examples/demo-province.yaml"),
    )
    from audit_data import DAY

    registry = demo_registry()
    write_record(pg_schema.dsn, registry, minutes(DAY.replace(day=5)))
    port = free_port()
    process = subprocess.Popen(
        [GREENWATCH, "api", "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/health", process)
        if "GREENWATCH_DATABASE_URL" not in env:  # the API's pool: gw_api, never the owner
            assert sessions_of(pg_schema.dsn, "greenwatch api serve") == {"gw_api"}
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_auditors_walkthrough(api: str, env: dict[str, str], tmp_path: Path) -> None:
    token = _run(env, "api", "token", "create", "--role", "auditor", "--region", "52",
                 "--label", "provincial audit 2026").strip()  # fmt: skip
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api, headers=auth, timeout=60) as http:
        download = http.get(
            "/v1/exports/values/hourly", params={**JULY, "outlet": OUTLET, "format": "parquet"}
        )
        assert download.status_code == 200, download.text
        manifest = json.loads(download.headers["greenwatch-manifest"])
        assert manifest["sha256"] == hashlib.sha256(download.content).hexdigest()
        table = pq.read_table(io.BytesIO(download.content))
        assert table.num_rows == manifest["rows"] > 24
        verdicts = http.get(
            "/v1/verdicts", params={**JULY, "outlet": OUTLET, "status": "exceedance"}
        ).json()["items"]
        assert verdicts
        chosen = verdicts[0]["id"]
        reproduced = http.get(f"/v1/verdicts/{chosen}/reproduce").json()
        assert reproduced["result"] == "equal", reproduced
        history = http.get(f"/v1/verdicts/{chosen}/history").json()["versions"]
        assert history[-1]["current"] and history[-1]["status"] == "exceedance", history
    assert '"equal"' in _run(env, "audit", "reproduce", chosen)
    anchors = tmp_path / "anchors.jsonl"
    _run(env, "audit", "anchor", "--file", str(anchors))
    assert "trail intact" in _run(env, "audit", "verify", "--anchors", str(anchors))


def test_an_enterprise_token_sees_only_its_own(api: str, env: dict[str, str]) -> None:
    token = _run(env, "api", "token", "create", "--role", "enterprise", "--enterprise",
                 "E-CM-01").strip()  # fmt: skip
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}) as http:
        for resource in RESOURCES:
            params = JULY if resource.time_required else {}
            response = http.get(f"/v1/{resource.path}", params=params)
            if resource.path == "dead-letters":
                assert response.status_code == 403
                continue
            assert response.status_code == 200, (resource.path, response.text)
            assert OUTLET not in response.text and "E-TP-01" not in response.text, resource.path
        assert (
            http.get("/v1/exports/values/hourly", params={**JULY, "outlet": OUTLET}).text.count(
                "\n"
            )
            == 1
        )  # the header only: none of E-TP-01's rows
    listed = _run(env, "api", "token", "list")
    assert "enterprise" in listed and "E-CM-01" in listed and token not in listed
    token_id = token.split("_")[1]
    _run(env, "api", "token", "revoke", token_id)
    gone = httpx.get(f"{api}/v1/enterprises", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401
