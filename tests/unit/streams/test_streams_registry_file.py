"""The worker reads its registry file in a child process (issue 15: worker RSS): the same
registry and the same errors as ``load_registry``, without the YAML's peak in the worker."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from bench import pipeline_fleet
from schemas.registry import RegistryError, dump_registry, load_registry
from streams.registry_file import load_registry_apart

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "demo-province.yaml"


def test_the_same_registry_as_reading_it_here() -> None:
    assert load_registry_apart(EXAMPLE) == load_registry(EXAMPLE)


def test_a_bad_file_is_the_same_error_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "registry.yaml"
    broken.write_text("version: v1\nenterprises: [\n", "utf-8")
    with pytest.raises(RegistryError) as here:
        load_registry(broken)
    with pytest.raises(RegistryError) as apart:
        load_registry_apart(broken)
    assert (apart.value.source, apart.value.reason) == (here.value.source, here.value.reason)
    assert "line" in apart.value.reason


def _traced_peak(load: object, path: Path) -> int:
    tracemalloc.start()
    try:
        assert callable(load)
        load(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_yaml_peak_stays_out_of_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline_fleet, "DEVICES", 100)
    registry = pipeline_fleet.registry()
    outlets = sum(len(e.outlets) for e in registry.enterprises)
    path = tmp_path / "province.yaml"
    path.write_text(dump_registry(registry), "utf-8")
    here = _traced_peak(load_registry, path)
    apart = _traced_peak(load_registry_apart, path)
    # Measured at 10 000 devices with PyYAML's loader: 257 MiB here, the JSON and the models
    # (~55 MiB) apart. Folded from libyaml's events (schemas.yaml_events) there is no node
    # graph any more: 54 MiB here against 37 MiB apart (100 devices: 629 against 461 kB).
    assert apart < here * 0.85, (outlets, apart, here)
