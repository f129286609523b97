"""Shared helpers of the gateway tests: a small registry and frame builders."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ingest.hj212 import CHINA_TZ, CrcVariant, encode
from schemas.registry import Registry, hash_password, parse_registry

PASSWORD = "s3cret-pw"
DEVICE = "GW-TEST-0001"
MODBUS_DEVICE = "GW-TEST-MODBUS"
NOW = datetime(2026, 3, 1, 10, 30, tzinfo=CHINA_TZ)


def registry(clock_skew_seconds: int = 600) -> Registry:
    """One enterprise, one gas outlet, an Appendix-A device and a MODBUS-CRC device."""
    devices: list[dict[str, Any]] = [
        {"mn": DEVICE, "password_sha256": hash_password(DEVICE, PASSWORD)},
        {
            "mn": MODBUS_DEVICE,
            "password_sha256": hash_password(MODBUS_DEVICE, PASSWORD),
            "crc": "modbus",
        },
    ]
    return _one_outlet("gateway-test-1", devices, clock_skew_seconds)


def registry_of(version: str, *mns: str) -> Registry:
    """A registry edition holding the Appendix-A devices ``mns`` (password ``PASSWORD``), with
    the clock-skew check off."""
    devices = [{"mn": mn, "password_sha256": hash_password(mn, PASSWORD)} for mn in mns]
    return _one_outlet(version, devices, 0)


def _one_outlet(version: str, devices: list[dict[str, Any]], clock_skew_seconds: int) -> Registry:
    return parse_registry(
        {
            "version": version,
            "region": {"code": "520000", "name": "test"},
            "policy": {"clock_skew_seconds": clock_skew_seconds},
            "enterprises": [
                {
                    "id": "E-T-01",
                    "name": "test plant",
                    "region_code": "520100",
                    "industry_code": "4411",
                    "outlets": [
                        {
                            "id": "E-T-01-G1",
                            "name": "stack 1",
                            "medium": "gas",
                            "standard": "ULE-coal-power",
                            "devices": devices,
                        }
                    ],
                }
            ],
        }
    )


def frame(
    *,
    mn: str = DEVICE,
    pw: str | None = PASSWORD,
    flag: int | None = 5,
    cn: str = "2051",
    device_clock: datetime = NOW,
    data_time: datetime | None = None,
    qn: str | None = "",
    pnum: int | None = None,
    pno: int | None = None,
    values: dict[str, dict[str, float | str]] | None = None,
    crc: CrcVariant = "hj212",
) -> bytes:
    """Wire bytes of one frame; ``qn=""`` stamps QN from ``device_clock``."""
    if qn == "":
        qn = device_clock.strftime("%Y%m%d%H%M%S") + f"{device_clock.microsecond // 1000:03d}"
    return encode(
        st="31",
        cn=cn,
        mn=mn,
        pw=pw,
        qn=qn,
        flag=flag,
        pnum=pnum,
        pno=pno,
        data_time=data_time or (device_clock - timedelta(minutes=1)).replace(second=0),
        values=values or {"a21026": {"Avg": 12.5, "ZsAvg": 14.0, "Flag": "N"}},
        crc=crc,
    ).encode()


ELECTRICITY_METER = "T-EL-1"
DAILY_METER = "T-EL-DAY"


def energy_registry(version: str = "gateway-energy-1") -> Registry:
    """``registry()`` with energy meters read over HJ 212 from ``DEVICE``: a cumulative kWh
    register on ``i33201`` (multiplier 10) and a daily kWh quantity on ``i33202``."""
    document = registry().model_dump(mode="json", exclude={"standards", "energy_reference"})
    document["version"] = version
    document["enterprises"][0]["energy"] = {
        "meters": [
            {
                "id": ELECTRICITY_METER,
                "carrier": "electricity",
                "unit": "kWh",
                "kind": "cumulative",
                "multiplier": 10.0,
                "hj212": {"mn": DEVICE, "code": "i33201"},
            },
            {
                "id": DAILY_METER,
                "carrier": "electricity",
                "unit": "kWh",
                "kind": "interval",
                "hj212": {"mn": DEVICE, "code": "i33202"},
            },
        ]
    }
    return parse_registry(document)
