"""Exports: a day of an outlet's hourly values (from the worker's engine and sink) as Parquet
and CSV through the API and the CLI; the manifest's row count and sha256 match the bytes, the
registry versions are the rows' own; the scope holds as in the list endpoints."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from audit_data import DAY
from fastapi.testclient import TestClient
from record import OUTLET, demo_registry, minutes, write_record
from typer.testing import CliRunner

from audit.principal import Role
from greenwatch.cli import app
from runtime.settings import Settings

NEXT_DAY = {"from": "2026-07-05T00:00:00+08:00", "to": "2026-07-06T00:00:00+08:00"}


@pytest.fixture
def recorded(audit_db: psycopg.Connection[Any], pg_schema: Any) -> int:
    """The hourly values the sink stored for the outlet on 2026-07-05."""
    write_record(pg_schema.dsn, demo_registry(), minutes(DAY.replace(day=5)))
    row = audit_db.execute(
        "SELECT count(*) FROM aggregates WHERE outlet_id = %s AND period = 'hour'"
        " AND period_start >= '2026-07-05T00:00:00+08:00'",
        (OUTLET,),
    ).fetchone()
    assert row is not None and row[0] > 24  # every factor's 24 hours
    return int(row[0])


def _export(client: TestClient, token: str, fmt: str, **params: str) -> Any:
    return client.get(
        "/v1/exports/values/hourly",
        params={**NEXT_DAY, "outlet": OUTLET, "format": fmt, **params},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_parquet_export_through_the_api(
    client: TestClient, tokens: dict[Role, str], recorded: int
) -> None:
    response = _export(client, tokens[Role.AUDITOR], "parquet")
    assert response.status_code == 200, response.text
    manifest = json.loads(response.headers["greenwatch-manifest"])
    body = response.content
    assert manifest["rows"] == recorded and manifest["bytes"] == len(body)
    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert response.headers["repr-digest"] == f"sha-256=:{digest}:"
    assert manifest["registry_versions"] == ["demo-province-2026.1"]
    assert manifest["query"] == {
        "resource": "values/hourly",
        "filters": {**NEXT_DAY, "outlet": OUTLET},
    }
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == recorded
    assert str(table.schema.field("period_start").type) == "timestamp[us, tz=+08:00]"
    assert set(table.column("outlet_id").to_pylist()) == {OUTLET}


def test_csv_export_and_scope(client: TestClient, tokens: dict[Role, str], recorded: int) -> None:
    response = _export(client, tokens[Role.ENTERPRISE], "csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == recorded
    assert rows[0]["period_start"] == "2026-07-05T00:00:00+08:00"
    refused = _export(client, tokens[Role.ENTERPRISE], "csv", enterprise="E-CM-01")
    assert refused.status_code == 403
    other_region = _export(client, tokens[Role.AUDITOR], "csv", region="5203")
    assert other_region.status_code == 403
    bad = _export(client, tokens[Role.AUDITOR], "xlsx")
    assert bad.status_code == 400 and "csv or parquet" in bad.json()["detail"]


def test_cli_export_writes_the_file_and_its_manifest(
    recorded: int, tokens: dict[Role, str], pg_schema: Any, tmp_path: Path
) -> None:
    target = tmp_path / "hourly.parquet"
    result = CliRunner().invoke(
        app,
        ["audit", "export", "values/hourly", "-o", str(target), "--format", "parquet",
         "--from", NEXT_DAY["from"], "--to", NEXT_DAY["to"], "--filter", f"outlet={OUTLET}"],
        obj=Settings(database_url=pg_schema.dsn),
        env={"GREENWATCH_API_TOKEN": tokens[Role.AUDITOR]},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "hourly.parquet.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    assert pq.read_table(target).num_rows == manifest["rows"] == recorded
    refused = CliRunner().invoke(
        app,
        ["audit", "export", "values/hourly", "-o", str(tmp_path / "x.csv"),
         "--filter", "enterprise=E-CM-01", "--from", NEXT_DAY["from"], "--to", NEXT_DAY["to"]],
        obj=Settings(database_url=pg_schema.dsn),
        env={"GREENWATCH_API_TOKEN": tokens[Role.ENTERPRISE]},
    )  # fmt: skip
    assert refused.exit_code == 2 and "sees only enterprise" in refused.output
    assert not (tmp_path / "x.csv").exists()
