"""Issue 13 item 4, against the real PostgreSQL: the cross-device step over the worker's stored
values (``greenwatch evasion identical``) gives the same signals as ``greenwatch replay`` over
the same data, firing for copied analyser values and quiet for honest ones."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool
from typer.testing import CliRunner

from greenwatch.cli import app
from ingest.hj212 import CHINA_TZ
from schemas.measurement import Measurement, PeriodKind
from schemas.registry import Registry, parse_registry
from streams.identical_job import identical_for_day
from streams.replay import Replay
from streams.sink import PgSink, SinkBatch

T0 = datetime(2026, 3, 2, tzinfo=CHINA_TZ)
SO2 = "a21026"


def registry() -> Registry:
    device = {"password_sha256": "0" * 64, "interval_s": 60}
    outlet = {"medium": "gas", "standard": "ULE-coal-power"}
    return parse_registry({
        "version": "identical-1",
        "region": {"code": "520000", "name": "test province"},
        "enterprises": [{
            "id": "E1", "name": "plant", "region_code": "520100", "industry_code": "4411",
            "outlets": [
                {**outlet, "id": "G1", "name": "stack 1", "devices": [{**device, "mn": "GAS1"}]},
                {**outlet, "id": "G2", "name": "stack 2", "devices": [{**device, "mn": "GAS2"}]},
                {**outlet, "id": "G3", "name": "stack 3", "devices": [{**device, "mn": "GAS3"}]},
            ],
        }],
    })  # fmt: skip


def values(device: str, outlet: str, cycle: list[float], rtd: bool = False) -> list[Measurement]:
    period = PeriodKind.RTD if rtd else PeriodKind.MINUTE
    out = []
    for i in range(90):
        start = T0 + timedelta(hours=9, minutes=i)
        value = cycle[i % len(cycle)]
        out.append(Measurement(
            device_id=device, outlet_id=outlet, factor=SO2, factor_as_sent=SO2, period=period,
            period_start=start, rtd=value if rtd else None, avg=None if rtd else value,
            flag="N", received_at=start + timedelta(minutes=1),
        ))  # fmt: skip
    return out


COPIED = [18.0, 19.5, 21.0, 20.25, 17.75]
DATA = [
    *values("GAS1", "G1", COPIED),
    *values("GAS2", "G2", COPIED, rtd=True),  # the copy sent as real-time values
    *values("GAS3", "G3", [18.1, 19.4, 21.2, 20.0, 17.9]),  # honest
]


def replayed(reg: Registry) -> list[dict[str, Any]]:
    run = Replay(reg, include_quality=True)
    run.process(DATA)
    return [
        {k: v for k, v in r.items() if k != "kind"}
        for r in run.finish()
        if r["kind"] == "quality" and r["signal"] == "tampering"
    ]


def test_the_stored_values_give_what_replay_gives(
    sink_pool: ConnectionPool, pg_schema: Any
) -> None:
    reg = registry()
    PgSink(sink_pool).flush(SinkBatch(measurements=DATA))
    with psycopg.connect(pg_schema.dsn) as conn:
        stored = identical_for_day(conn, reg, T0.date())
    rows = []
    for signal in stored:
        fields = signal.model_dump(mode="json")
        fields["signal"] = fields.pop("kind")
        rows.append(fields)
    assert rows == replayed(reg)
    active = {(r["device_id"], r["active"]) for r in rows}
    assert active == {("GAS1", True), ("GAS2", True), ("GAS3", False)}
    [gas1] = [r for r in rows if r["device_id"] == "GAS1"]
    assert gas1["detail"]["findings"]["identical_devices"][0]["other_device"] == "GAS2"
    assert gas1["detail"]["findings"]["identical_devices"][0]["identical_minutes"] == 90


def test_the_command_names_a_bad_day_with_exit_2(tmp_path: Any) -> None:
    registry_file = tmp_path / "r.yaml"
    registry_file.write_text("version: [", "utf-8")
    result = CliRunner().invoke(
        app, ["evasion", "identical", "--registry", str(registry_file), "--day", "2026-03-02"]
    )
    assert result.exit_code == 2 and "evasion identical:" in result.output
