"""The worker's registry shares its models' fields sets (streams/registry_memory.py)."""

from __future__ import annotations

import tracemalloc

from streams_support import make_registry

from bench import pipeline_fleet
from schemas.registry import Registry
from streams.registry_memory import share_fields_sets


def test_a_shared_registry_is_the_same_registry_in_less_memory() -> None:
    built = pipeline_fleet.registry()
    dump = built.model_dump(mode="json")
    tracemalloc.start()
    try:
        copy = Registry.model_validate(built.model_dump())  # as the worker validates JSON
        as_set = copy.model_dump(exclude_unset=True)
        before = tracemalloc.get_traced_memory()[0]
        replaced = share_fields_sets(copy)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert copy == built
    assert copy.model_dump(mode="json") == dump
    assert copy.model_dump(exclude_unset=True) == as_set
    assert replaced > 3 * pipeline_fleet.DEVICES
    assert before - after > 200 * pipeline_fleet.DEVICES  # bytes: ~1.7 KiB per device


def test_a_copy_of_a_shared_model_does_not_touch_the_others() -> None:
    registry = make_registry()
    share_fields_sets(registry)
    outlets = [o for e in registry.enterprises for o in e.outlets]
    first, second = outlets[0], outlets[1]
    before = set(second.model_fields_set)
    changed = first.model_copy(update={"name": "renamed"})
    assert "name" in changed.model_fields_set
    assert second.model_fields_set == before
    assert changed.name == "renamed" and first.name != "renamed"
