"""``Engine.missing_years`` remembers a device-year whose annual ledgers are held (issue 15,
fourth slice: no repeated work for hydrated devices), and forgets it when the ledgers go."""

from __future__ import annotations

from streams_support import GAS, SO2, T0, make_registry, measurement

from streams.domain.engine import Engine

REGISTRY = make_registry()
KEY = ("G1", SO2, 2024)


def test_a_year_is_missing_until_hydrated_then_not_asked_again() -> None:
    engine = Engine(REGISTRY)
    batch = [measurement(SO2, T0, 10.0)]
    assert engine.missing_years(batch) == {KEY}
    assert engine.missing_years(batch) == {KEY}  # still lacking: asked again
    engine.hydrate_year(*KEY, {})
    assert engine.missing_years(batch) == set()
    assert engine.missing_years([measurement(SO2, T0.replace(hour=5), 1.0)]) == set()


def test_forgetting_a_device_or_swapping_the_registry_asks_again() -> None:
    engine = Engine(REGISTRY)
    batch = [measurement(SO2, T0, 10.0)]
    engine.hydrate_year(*KEY, {})
    assert engine.missing_years(batch) == set()
    engine.forget([GAS])  # the outlet's ledgers are dropped
    assert engine.missing_years(batch) == {KEY}
    engine.hydrate_year(*KEY, {})
    assert engine.missing_years(batch) == set()
    engine.use_registry(make_registry())  # an equal registry: ledgers kept, nothing lacking
    assert engine.missing_years(batch) == set()
    engine.forget([GAS])
    engine.use_registry(make_registry())
    assert engine.missing_years(batch) == {KEY}


def test_a_day_near_new_year_needs_both_years() -> None:
    engine = Engine(REGISTRY)
    early = T0.replace(year=2025, month=1, day=1, minute=3)  # yesterday (2024) may still close
    assert engine.missing_years([measurement(SO2, early, 1.0)]) == {KEY, ("G1", SO2, 2025)}
