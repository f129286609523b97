"""Missing-data substitution for emission loads (缺失数据的处理, HJ 75-2017; domain.md §3).

An hour with no valid value (missing, or invalid for compliance) still emitted: for the load
(排放量) HJ 75-2017 replaces it by the **maximum** of the previous N valid hourly values, N
chosen by the quarterly data capture rate (有效数据捕集率) and the length of the gap. The tiers
(rates, gap length, N) and the method codes are data: ``reference/hj75_substitution.yaml``,
with source and validity dates, loaded by ``substitution_rules``.

- ``capture_rate``: valid hours / hours of the quarter's series;
- ``substitute``: for every missing hour of a contiguous hourly series, the substituted value
  and its method code (``none``: no tier applies, or no valid hour before the gap); "previous N
  valid hours" counts valid hours only, backwards from the gap's first hour, across earlier
  quarters if the series holds them, and the whole gap takes the same value;
- ``split_load``: a period's load as measured kg and substituted kg, kept apart (a substituted
  hour never counts as measured).

Pure: the functions take the rules; ``substitution_rules`` reads the packaged data file once.
Wired into the daily load verdict by ``load_substitution`` (docs/processing.md §4a).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from math import fsum
from typing import Final

import yaml
from pydantic import BaseModel, ConfigDict, Field

NO_METHOD: Final = "none"
"""Method code of a missing hour no tier substitutes."""


class Tier(BaseModel):
    """One substitution tier: applies at a capture rate ≥ ``min_capture_rate`` and a gap of at
    most ``max_gap_hours`` (None: any length)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str
    min_capture_rate: float = Field(ge=0, le=1)
    max_gap_hours: int | None = Field(default=None, gt=0)
    previous_valid_hours: int = Field(gt=0)


class SubstitutionRules(BaseModel):
    """The tiers of ``hj75_substitution.yaml``, checked in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    source: str
    valid_from: date
    valid_to: date | None = None
    tiers: tuple[Tier, ...]

    def tier(self, rate: float, gap_hours: int) -> Tier | None:
        """The first tier that applies to a gap of ``gap_hours`` at capture ``rate``."""
        for tier in self.tiers:
            if rate >= tier.min_capture_rate and (
                tier.max_gap_hours is None or gap_hours <= tier.max_gap_hours
            ):
                return tier
        return None


@lru_cache(maxsize=1)
def substitution_rules() -> SubstitutionRules:
    """The packaged HJ 75-2017 tiers (read once)."""
    text = resources.files("streams.domain.reference").joinpath("hj75_substitution.yaml")
    return SubstitutionRules.model_validate(yaml.safe_load(text.read_text("utf-8")))


@dataclass(frozen=True, slots=True)
class Hour:
    """One hour of a contiguous series: its valid value (kg/h or mg/m³), None when missing."""

    start: datetime
    value: float | None


@dataclass(frozen=True, slots=True)
class SubstitutedHour:
    """A missing hour's substitute: ``value`` None when ``method`` is ``none``."""

    start: datetime
    value: float | None
    method: str
    gap_hours: int
    """Length of the gap the hour belongs to."""
    basis_hours: int
    """Valid hours the maximum was taken over (≤ the tier's N when history is shorter)."""


def capture_rate(quarter: Sequence[Hour]) -> float:
    """Valid hours / hours of ``quarter`` (0.0 for an empty series)."""
    if not quarter:
        return 0.0
    return sum(h.value is not None for h in quarter) / len(quarter)


def substitute(
    series: Sequence[Hour], rate: float, rules: SubstitutionRules
) -> list[SubstitutedHour]:
    """Substitutes of every missing hour of ``series`` (contiguous, in time order) at the
    quarter's capture ``rate``."""
    out: list[SubstitutedHour] = []
    index = 0
    while index < len(series):
        if series[index].value is not None:
            index += 1
            continue
        end = index
        while end < len(series) and series[end].value is None:
            end += 1
        out.extend(_fill(series, index, end, rate, rules))
        index = end
    return out


def _fill(
    series: Sequence[Hour], start: int, end: int, rate: float, rules: SubstitutionRules
) -> list[SubstitutedHour]:
    gap = end - start
    tier = rules.tier(rate, gap)
    before: list[float] = []
    if tier is not None:
        for hour in reversed(series[:start]):
            if hour.value is not None:
                before.append(hour.value)
                if len(before) == tier.previous_valid_hours:
                    break
    value = max(before) if before else None
    method = tier.method if tier is not None and before else NO_METHOD
    return [
        SubstitutedHour(series[i].start, value, method, gap, len(before)) for i in range(start, end)
    ]


@dataclass(frozen=True, slots=True)
class LoadSplit:
    """A period's load kept in two parts: measured and substituted (kg)."""

    measured_kg: float
    substituted_kg: float
    substituted_hours: int
    unsubstituted_hours: int
    """Missing hours no tier could fill (not in either sum)."""

    @property
    def total_kg(self) -> float:
        return self.measured_kg + self.substituted_kg


def split_load(rates: Sequence[Hour], substitutes: Sequence[SubstitutedHour]) -> LoadSplit:
    """The load (kg) of hourly emission rates (kg/h × 1 h): measured hours and substitutes
    summed apart."""
    filled = [s.value for s in substitutes if s.value is not None]
    return LoadSplit(
        measured_kg=fsum(h.value for h in rates if h.value is not None),
        substituted_kg=fsum(filled),
        substituted_hours=len(filled),
        unsubstituted_hours=len(substitutes) - len(filled),
    )
