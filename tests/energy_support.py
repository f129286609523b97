"""A registry with energy meters for the energy tests: the demo province plus an aluminium
smelter (potline electricity on a rolled-over, replaced register; daily output) and a cement
plant's coal, each with its own API key."""

from __future__ import annotations

import copy
import hashlib
import hmac
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from schemas.registry import Registry, parse_registry
from streams.domain.periods import CHINA_TZ

EXAMPLE = Path(__file__).parents[1] / "schemas" / "examples" / "demo-province.yaml"
KEY_SECRET = "energy-test-secret"
AL_KEY = "al-key-0123456789"
CM_KEY = "cm-key-0123456789"


def digest(key: str) -> str:
    return hmac.new(KEY_SECRET.encode(), key.encode(), hashlib.sha256).hexdigest()


def energy_document() -> dict[str, Any]:
    document = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    document = copy.deepcopy(document)
    document["version"] = "energy-test-1"
    document["enterprises"].append(
        {
            "id": "E-AL-01",
            "name": "示范电解铝 (demo aluminium)",
            "region_code": "520400",
            "industry_code": "3216",
            "energy_quotas": [
                {
                    "product": "al-liquid",
                    "indicator": "铝液综合交流电耗",
                    "limit": 13650.0,
                    "unit": "kWh/t",
                    "standard": "发改价格〔2021〕1239号 grading 2022 [src]",
                }
            ],
            "energy": {
                "api_key_hmac": digest(AL_KEY),
                "products": [{"id": "al-liquid", "name": "铝液"}],
                "meters": [
                    {
                        "id": "AL-POT-1",
                        "carrier": "electricity",
                        "unit": "kWh",
                        "kind": "cumulative",
                        "multiplier": 100.0,
                        "rollover": 1000000.0,
                        "max_per_hour": 500000.0,
                        "process": "electrolysis",
                        "product": "al-liquid",
                    },
                    {
                        "id": "AL-AUX-1",
                        "carrier": "natural_gas",
                        "unit": "m3",
                        "kind": "interval",
                        "product": "al-liquid",
                    },
                ],
            },
        }
    )
    cement = next(e for e in document["enterprises"] if e["id"] == "E-CM-01")
    cement["energy"] = {
        "api_key_hmac": digest(CM_KEY),
        "products": [{"id": "clinker", "name": "熟料"}],
        "meters": [
            {
                "id": "CM-COAL-1",
                "carrier": "raw_coal",
                "unit": "kg",
                "kind": "interval",
                "product": "clinker",
            }
        ],
    }
    cement["energy_quotas"] = [
        {
            "product": "clinker",
            "indicator": "comprehensive coal",
            "limit": 120.0,
            "unit": "kgce/t",
            "standard": "GB 16780-2012",
        }
    ]
    return document


def energy_registry() -> Registry:
    return parse_registry(energy_document(), "energy-test")


def day(offset: int = 0, base: date = date(2026, 3, 1)) -> datetime:
    """00:00 China time of ``base`` + ``offset`` days."""
    d = base + timedelta(days=offset)
    return datetime(d.year, d.month, d.day, tzinfo=CHINA_TZ)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
