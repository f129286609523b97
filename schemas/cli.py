"""``greenwatch schemas``: export the wire and registry contracts as JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter

from schemas.alert import Alert, AlertEvent, QualitySignal
from schemas.energy import EnergyBatch, EnergyRecord, ReadingsRequest, StatisticsRequest
from schemas.envelope import DeadLetter, RawEnvelope
from schemas.measurement import AggregateValue, Measurement
from schemas.registry import Registry
from schemas.verdict import Verdict

EXPORTED: dict[str, type[Any]] = {  # pydantic models, and Measurement (a named tuple)
    "raw-envelope": RawEnvelope,
    "dead-letter": DeadLetter,
    "measurement": Measurement,
    "aggregate-value": AggregateValue,
    "verdict": Verdict,
    "quality-signal": QualitySignal,
    "alert": Alert,
    "alert-event": AlertEvent,
    "registry": Registry,
    "energy-readings-request": ReadingsRequest,
    "energy-statistics-request": StatisticsRequest,
    "energy-batch": EnergyBatch,
    "energy-record": EnergyRecord,
}

schemas_app = typer.Typer(help="Export the contracts (wire events, registry) as JSON Schema.")


def export_json_schemas(directory: Path) -> list[Path]:
    """Write one ``<name>.schema.json`` per exported model into ``directory``; return paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in EXPORTED.items():
        path = directory / f"{name}.schema.json"
        schema = TypeAdapter(model).json_schema(mode="serialization")
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    return written


@schemas_app.command("export")
def export_command(
    directory: Annotated[Path, typer.Argument(help="Directory to write *.schema.json into.")],
) -> None:
    """Write JSON Schema for every wire and registry model into DIRECTORY."""
    for path in export_json_schemas(directory):
        typer.echo(str(path))
