"""`greenwatch schemas export DIR` writes JSON Schema external producers can validate against."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from schemas.cli import export_json_schemas
from schemas.envelope import Protocol, RawEnvelope


def test_export_writes_one_schema_per_contract(tmp_path: Path) -> None:
    written = export_json_schemas(tmp_path)
    names = {p.name for p in written}
    assert {"raw-envelope.schema.json", "measurement.schema.json", "verdict.schema.json"} <= names
    envelope = json.loads((tmp_path / "raw-envelope.schema.json").read_text("utf-8"))
    assert {"protocol", "device_id", "peer", "received_at", "payload"} <= set(envelope["required"])


def test_raw_envelope_keeps_bytes_exactly() -> None:
    frame = b"##0087QN=1;ST=91\xff\x00\r\n"
    envelope = RawEnvelope(
        protocol=Protocol.HJ212,
        device_id="MN1",
        peer="127.0.0.1:5000",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        payload=frame,
    )
    again = RawEnvelope.model_validate_json(envelope.model_dump_json())
    assert again.payload == frame


def test_energy_request_bodies_are_exported_as_validated(tmp_path: Path) -> None:
    export_json_schemas(tmp_path)
    readings = json.loads((tmp_path / "energy-readings-request.schema.json").read_text("utf-8"))
    item = readings["$defs"]["ReadingIn"]
    assert {"meter_id", "value", "unit"} <= set(item["required"])
    assert set(readings["$defs"]["StatType"]["enum"]) == {"realtime", "day", "month", "year"}
    statistics = json.loads((tmp_path / "energy-statistics-request.schema.json").read_text("utf-8"))
    assert "output" in statistics["$defs"]["StatisticIndicator"]["enum"]
