"""Re-derive one verdict from measurements through the domain code, and compare. Pure.

The very ``Engine`` the worker and ``greenwatch replay`` drive (``streams.domain.engine``) is
fed the stored real-time and minute measurements of the verdict's outlet over the window the
verdict judged (the hour of an ``hourly_concentration`` verdict, the China-time day of a
``daily_load`` one), with the registry version the verdict recorded; its windows are closed
and the verdict with the same natural key is compared field by field with the recorded one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python

from audit.errors import BadQuery
from audit.times import CHINA
from schemas.measurement import Measurement
from schemas.registry import Registry
from schemas.verdict import Rule, Verdict
from streams.domain.engine import Engine
from streams.domain.store import MemoryStore

WINDOWS = {Rule.HOURLY_CONCENTRATION: timedelta(hours=1), Rule.DAILY_LOAD: timedelta(days=1)}
"""The rules a verdict can be reproduced for, and the span of measurements each judges."""

COMPARED = ("status", "value", "limit_value", "ratio", "standard", "period", "evidence")


@dataclass(frozen=True, slots=True)
class Reproduction:
    verdict_id: str
    equal: bool
    diff: dict[str, dict[str, Any]]
    """field → {"recorded": …, "reproduced": …} for every field that differs."""
    registry_version: str
    measurements: int
    window: tuple[datetime, datetime]

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict_id,
            "result": "equal" if self.equal else "different",
            "diff": self.diff,
            "registry_version": self.registry_version,
            "measurements_used": self.measurements,
            "window": {"from": self.window[0].isoformat(), "to": self.window[1].isoformat()},
        }


def window_of(rule: str, period_start: datetime) -> tuple[datetime, datetime]:
    """The span of measurements a verdict of ``rule`` judged; BadQuery for other rules."""
    try:
        span = WINDOWS[Rule(rule)]
    except (ValueError, KeyError):
        covered = ", ".join(r.value for r in WINDOWS)
        raise BadQuery(f"reproduce covers {covered} verdicts, not {rule}") from None
    start = period_start.astimezone(CHINA)
    return start, start + span


def rederive(
    registry: Registry, measurements: Sequence[Measurement], key: tuple[str, str, str, datetime]
) -> Verdict | None:
    """The verdict with ``key`` (outlet, factor, rule, period start) that the engine issues
    over ``measurements`` under ``registry``; None when it issues none."""
    engine = Engine(registry)
    store = MemoryStore()
    engine.prepare(measurements, store)
    store.add(measurements)
    found: Verdict | None = None
    for output in [*engine.ingest(measurements), *engine.close_all()]:
        if isinstance(output, Verdict) and (
            output.outlet_id,
            output.factor,
            output.rule.value,
            output.period_start,
        ) == (key[0], key[1], key[2], key[3]):
            found = output  # the last issue is the latest revision
    return found


def compare(recorded: Mapping[str, Any], reproduced: Verdict | None) -> dict[str, dict[str, Any]]:
    """Fields of the recorded verdict row that the reproduced verdict does not match."""
    if reproduced is None:
        return {"verdict": {"recorded": "issued", "reproduced": "not issued"}}
    mine = {
        "status": reproduced.status.value,
        "value": reproduced.value,
        "limit_value": reproduced.limit,
        "ratio": reproduced.ratio,
        "standard": reproduced.standard,
        "period": reproduced.period.value,
        "evidence": to_jsonable_python(reproduced.evidence),
    }
    return {
        name: {"recorded": _plain(recorded[name]), "reproduced": mine[name]}
        for name in COMPARED
        if _plain(recorded[name]) != mine[name]
    }


def _plain(value: Any) -> Any:
    return to_jsonable_python(value)
