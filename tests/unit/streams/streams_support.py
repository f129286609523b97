"""Builders shared by the stream domain tests: a tiny registry and measurements."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from schemas.measurement import Measurement, PeriodKind
from schemas.registry import Registry, hash_password, parse_registry
from streams.replay import Replay
from streams.sink import FlushResult, SinkBatch

T = TypeVar("T")

CHINA = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 0, 0, tzinfo=CHINA)
"""Midnight, 1 May 2024, China time: the start of every generated day."""
GAS = "GAS1"
WATER = "WAT1"
METAL = "MET1"
SO2 = "a21026"  # limit 35 mg/m³ at 6 % O2 (ULE-coal-power)
O2 = "a19001"
FLOW = "a00000"
TEMP = "a01012"
COD = "w01018"  # limit 50 mg/L (demo-water-municipal)
PB = "w20120"  # lead, heavy metal, limit 0.2 mg/L (demo-water-heavy-metals)


def _device(mn: str) -> dict[str, Any]:
    return {"mn": mn, "password_sha256": hash_password(mn, "123456"), "interval_s": 60}


def make_registry(**policy: Any) -> Registry:
    """Gas outlet G1 (ULE, 6 % O2, SO2 quota 10 kg/day, 100 kg/year), water outlet W1
    (municipal, COD quota 20 kg/day), heavy-metal water outlet M1."""
    return parse_registry(registry_document(**policy))


def registry_document(**policy: Any) -> dict[str, Any]:
    """``make_registry``'s registry as the plain document (to edit into another version)."""
    return {
        "version": "test-1",
        "region": {"code": "520000", "name": "test province"},
        "policy": policy,
        "enterprises": [
            {
                "id": "E1",
                "name": "test plant",
                "region_code": "520100",
                "industry_code": "4411",
                "outlets": [
                    {
                        "id": "G1",
                        "name": "stack",
                        "medium": "gas",
                        "standard": "ULE-coal-power",
                        "load_quotas": {SO2: {"daily_kg": 10.0, "annual_kg": 100.0}},
                        "devices": [_device(GAS)],
                    },
                    {
                        "id": "W1",
                        "name": "outfall",
                        "medium": "water",
                        "standard": "demo-water-municipal",
                        "load_quotas": {COD: {"daily_kg": 20.0}},
                        "devices": [_device(WATER)],
                    },
                    {
                        "id": "M1",
                        "name": "metals outfall",
                        "medium": "water",
                        "standard": "demo-water-heavy-metals",
                        "devices": [_device(METAL)],
                    },
                ],
            }
        ],
    }


ADDED = "GAS2"
"""A device ``edition(..., added=ADDED)`` adds to outlet G1."""


def edition(
    version: str,
    *,
    so2_limit: float | None = None,
    without_water: bool = False,
    added: str | None = None,
) -> Registry:
    """``make_registry``'s registry as another version: a permit limit for SO2 at G1, the water
    outlet's device removed, or a second device added to G1."""
    document: dict[str, Any] = registry_document()
    document["version"] = version
    gas, water, _ = document["enterprises"][0]["outlets"]
    if so2_limit is not None:
        gas["limits"] = {SO2: so2_limit}
    if without_water:
        water["devices"] = []
    if added is not None:
        gas["devices"].append(
            {"mn": added, "password_sha256": hash_password(added, "123456"), "interval_s": 60}
        )
    return parse_registry(document)


def measurement(
    factor: str,
    start: datetime,
    value: float,
    *,
    device: str = GAS,
    period: PeriodKind = PeriodKind.MINUTE,
    flag: str = "N",
    zs: float | None = None,
    received_at: datetime | None = None,
) -> Measurement:
    """A minute (Avg) or real-time (Rtd) value, received when its period ends."""
    outlet = {GAS: "G1", WATER: "W1", METAL: "M1"}.get(device)
    is_rtd = period is PeriodKind.RTD
    return Measurement(
        device_id=device,
        outlet_id=outlet,
        factor=factor,
        factor_as_sent=factor,
        period=period,
        period_start=start,
        rtd=value if is_rtd else None,
        avg=None if is_rtd else value,
        zs_rtd=zs if is_rtd else None,
        zs_avg=None if is_rtd else zs,
        flag=flag,
        received_at=received_at or start + (timedelta(0) if is_rtd else timedelta(minutes=1)),
    )


def gas_minutes(
    hour: datetime,
    so2: float,
    *,
    minutes: int = 60,
    o2: float | None = 6.0,
    flow_m3s: float | None = 10.0,
    temperature: float | None = 0.0,
    flag: str = "N",
) -> list[Measurement]:
    """``minutes`` minute records of the gas device starting at ``hour``."""
    out: list[Measurement] = []
    for index in range(minutes):
        start = hour + timedelta(minutes=index)
        out.append(measurement(SO2, start, so2, flag=flag))
        if o2 is not None:
            out.append(measurement(O2, start, o2))
        if flow_m3s is not None:
            out.append(measurement(FLOW, start, flow_m3s))
        if temperature is not None:
            out.append(measurement(TEMP, start, temperature))
    return out


def replay_batches(
    registry: Registry, batches: Iterable[Sequence[Measurement]]
) -> list[dict[str, Any]]:
    """Drive the engine as ``greenwatch replay`` does; the latest outputs."""
    replay = Replay(registry)
    for batch in batches:
        replay.process(batch)
    return replay.finish()


def pick(rows: list[dict[str, Any]], kind: str, **fields: Any) -> list[dict[str, Any]]:
    """Rows of ``kind`` whose fields equal ``fields``."""
    return [
        row
        for row in rows
        if row["kind"] == kind and all(row.get(k) == v for k, v in fields.items())
    ]


class NothingWritten:
    """A ``streams.pipeline.Sink`` for the pipeline's pure decisions: a flush writes nothing."""

    def flush(self, batch: SinkBatch) -> FlushResult:
        return FlushResult(0, 0, 0, 0, {}, 0.0)

    def with_retry(self, read: Callable[[], T]) -> T:
        return read()

    def stop(self) -> None:
        return None
