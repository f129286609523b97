"""Admission of posted energy items: pure checks from JSON values to records or refusals.

``admit(kind, items, enterprise, registry, now)`` checks each item of a ``readings`` or
``statistics`` array on its own and returns the accepted ``EnergyRecord`` s (with their index)
and one ``Refusal`` per bad item: its HTTP-style status, a stable code (the dead-letter reason
and the metric label), the JSON path of the fault and the reason. Good items of a batch are
taken whatever the bad ones are. Codes:

- ``invalid`` (422): not a valid item (a field missing, wrong type, both or neither times…);
- ``non_finite`` (422): NaN or ±Infinity (also a literal too large for a double);
- ``unknown_meter`` (404): no meter of that id in the registry;
- ``forbidden_meter`` (403): the meter belongs to another enterprise;
- ``wrong_unit`` (422): not the meter's (or the indicator's) unit;
- ``wrong_kind`` (422): a register value without an instant, or a quantity without a period;
- ``unknown_product`` (422): output for a product the enterprise does not have;
- ``clock_skew`` (422): a time later than now + ``policy.energy_clock_skew_seconds``;
- ``period_not_over`` (422): a monthly figure for a month that has not ended yet (a month's
  statistics are final only after it: the plans' progress sums them, issue 10).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from schemas.energy import (
    STATISTIC_UNITS,
    EnergyRecord,
    ReadingIn,
    ReadingKind,
    StatisticIn,
    StatType,
)
from schemas.registry import Enterprise, Registry

ItemKind = Literal["readings", "statistics"]


@dataclass(frozen=True, slots=True)
class Refusal:
    index: int
    status: int
    code: str
    path: str
    reason: str
    item: Any


@dataclass(frozen=True, slots=True)
class Admission:
    accepted: list[tuple[int, EnergyRecord]]
    refused: list[Refusal]


def admit(
    kind: ItemKind,
    items: Sequence[Any],
    enterprise: Enterprise,
    registry: Registry,
    now: datetime,
) -> Admission:
    """Check every item of ``items`` (JSON values) posted by ``enterprise``."""
    accepted: list[tuple[int, EnergyRecord]] = []
    refused: list[Refusal] = []
    latest = now + timedelta(seconds=registry.policy.energy_clock_skew_seconds)
    for index, item in enumerate(items):
        where = f"$.{kind}[{index}]"
        try:
            if kind == "readings":
                reading = ReadingIn.model_validate(item)
                problem = _check_reading(reading, enterprise, registry, latest)
                record = EnergyRecord(enterprise_id=enterprise.id, reading=reading)
            else:
                statistic = StatisticIn.model_validate(item)
                problem = _check_statistic(statistic, enterprise, registry, latest)
                record = EnergyRecord(enterprise_id=enterprise.id, statistic=statistic)
        except ValidationError as error:
            refused.append(_from_validation(index, where, item, error))
            continue
        if problem is None:
            accepted.append((index, record))
        else:
            status, code, field, reason = problem
            refused.append(Refusal(index, status, code, f"{where}.{field}", reason, item))
    return Admission(accepted, refused)


Problem = tuple[int, str, str, str] | None


def _check_reading(
    reading: ReadingIn, enterprise: Enterprise, registry: Registry, latest: datetime
) -> Problem:
    found = registry.meter(reading.meter_id)
    if found is None:
        return 404, "unknown_meter", "meter_id", f"no meter {reading.meter_id!r} in the registry"
    owner, meter = found
    if owner.id != enterprise.id:
        return 403, "forbidden_meter", "meter_id", f"meter {meter.id} is not {enterprise.id}'s"
    if reading.unit != meter.unit:
        return (
            422,
            "wrong_unit",
            "unit",
            f"meter {meter.id} reads in {meter.unit}, not {reading.unit}",
        )
    if meter.kind is ReadingKind.CUMULATIVE and reading.instant is None:
        return 422, "wrong_kind", "instant", f"meter {meter.id} is a register: give its instant"
    if meter.kind is ReadingKind.INTERVAL and reading.period_start is None:
        return (
            422,
            "wrong_kind",
            "period_start",
            f"meter {meter.id} reports quantities: give period_start",
        )
    if reading.at > latest:
        field = "instant" if reading.instant is not None else "period_start"
        return (
            422,
            "clock_skew",
            field,
            f"{reading.at.isoformat()} is later than the server clock allows",
        )
    return None


def _check_statistic(
    statistic: StatisticIn, enterprise: Enterprise, registry: Registry, latest: datetime
) -> Problem:
    unit = STATISTIC_UNITS[statistic.indicator]
    if statistic.unit != unit:
        return (
            422,
            "wrong_unit",
            "unit",
            f"{statistic.indicator} is reported in {unit}, not {statistic.unit}",
        )
    if statistic.product is not None and registry.product(enterprise, statistic.product) is None:
        return (
            422,
            "unknown_product",
            "product",
            f"{enterprise.id} has no product {statistic.product!r}",
        )
    if statistic.period_start > latest:
        return 422, "clock_skew", "period_start", "a period that has not started"
    if statistic.stat_type is StatType.MONTH and _month_end(statistic.period_start) > latest:
        month = statistic.period_start.strftime("%Y-%m")
        return 422, "period_not_over", "period_start", f"the month {month} is not over yet"
    return None


def _month_end(start: datetime) -> datetime:
    """The first instant of the month after the one ``start`` is in (its own time zone)."""
    first = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )


def _from_validation(index: int, where: str, item: Any, error: ValidationError) -> Refusal:
    first = error.errors(include_url=False)[0]
    location = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
    code = "non_finite" if first["type"] == "finite_number" else "invalid"
    return Refusal(index, 422, code, where + location, first["msg"], item)
