"""Factor codes of HJ/T 212-2005 mapped to HJ 212-2017 (reference data in ``codes_2005.yaml``).

The codec keeps factor codes as sent; the stream normalizer calls
``factor_code_2005_to_2017()`` to map 2005 codes (``01``, ``B02``, ``S01``…) to 2017 ones
(``a34013``, ``a00000``, ``a19001``…).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import yaml


@cache
def factor_code_2005_to_2017() -> MappingProxyType[str, str]:
    """2005 factor code → 2017 factor code, read once from ``codes_2005.yaml``.

    Raises ``OSError`` or ``yaml.YAMLError`` if the packaged data file is missing or broken.
    """
    text = resources.files("ingest.hj212").joinpath("codes_2005.yaml").read_text("utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    factors: dict[str, dict[str, str]] = document["factors"]
    return MappingProxyType({str(old): str(row["code"]) for old, row in factors.items()})
