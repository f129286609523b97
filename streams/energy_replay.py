"""Offline replay of energy input: JSON lines → ``EnergyEngine`` → latest rows and verdicts.

The energy half of ``greenwatch replay`` (``--energy FILE``): the very engine the energy
worker drives, without Kafka or PostgreSQL. A line is a ``RawEnvelope`` as the raw energy
topic holds it (protocol ``energy-json``), or a bare ``EnergyBatch`` or ``EnergyRecord``;
other lines are counted as undecodable and skipped. Records are ingested in order, in
batches of ``batch_size`` (the result does not depend on the batching: every output is the
latest of its natural key).

Output rows, sorted by kind, then natural key: ``{"kind": "energy_consumption", …}`` (per
meter and hour/day/month), ``"energy_intensity"`` (per product, indicator, window and day),
``"energy_process_co2"`` (per product and day), ``"verdict"`` (energy verdicts, latest
revision).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from schemas.energy import EnergyBatch, EnergyRecord
from schemas.registry import Registry
from streams.domain.energy.engine import EnergyEngine
from streams.energy_worker import Message, decode_messages


@dataclass(slots=True)
class EnergyReplayStats:
    lines: int = 0
    records: int = 0
    undecodable: int = 0


def energy_records(lines: Iterable[bytes], stats: EnergyReplayStats) -> list[EnergyRecord]:
    """The records of ``lines`` (envelopes or bare records), counting what is skipped."""
    records: list[EnergyRecord] = []
    for number, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        stats.lines += 1
        decoded, rejected = decode_messages([Message("replay", 0, number, line)])
        if not rejected:
            records.extend(decoded)
            continue
        try:
            records.extend(EnergyBatch.model_validate_json(line).records())
            continue
        except ValidationError:
            pass
        try:
            records.append(EnergyRecord.model_validate_json(line))
        except ValidationError:
            stats.undecodable += 1
    stats.records = len(records)
    return records


def replay_energy(
    lines: Iterable[bytes], registry: Registry, batch_size: int = 2_000
) -> tuple[list[dict[str, Any]], EnergyReplayStats]:
    """Latest consumption, intensities and verdicts of the energy input ``lines``."""
    stats = EnergyReplayStats()
    records = energy_records(lines, stats)
    engine = EnergyEngine(registry)
    consumption: dict[tuple[Any, ...], dict[str, Any]] = {}
    intensities: dict[tuple[Any, ...], dict[str, Any]] = {}
    verdicts: dict[tuple[Any, ...], dict[str, Any]] = {}
    process: dict[tuple[Any, ...], dict[str, Any]] = {}
    for start in range(0, len(records), batch_size):
        output = engine.ingest(records[start : start + batch_size])
        for row in output.consumption:
            body = dataclasses.asdict(row)
            body["completeness"] = row.completeness
            consumption[(row.meter_id, row.period, row.period_start)] = to_jsonable_python(body)
        for intensity in output.intensities:
            key = (
                intensity.enterprise_id,
                intensity.subject,
                intensity.indicator,
                intensity.window,
                intensity.period_start,
            )
            intensities[key] = to_jsonable_python(dataclasses.asdict(intensity))
        for emitted in output.process_co2:
            process_key = (emitted.enterprise_id, emitted.product, emitted.period_start)
            process[process_key] = to_jsonable_python(dataclasses.asdict(emitted))
        for verdict in output.verdicts:
            natural = (verdict.outlet_id, verdict.factor, verdict.rule.value, verdict.period_start)
            verdicts[natural] = verdict.model_dump(mode="json")
    rows: list[dict[str, Any]] = []
    for kind, table in (
        ("energy_consumption", consumption),
        ("energy_intensity", intensities),
        ("energy_process_co2", process),
        ("verdict", verdicts),
    ):
        rows += [{"kind": kind, **table[key]} for key in sorted(table)]
    return rows, stats
