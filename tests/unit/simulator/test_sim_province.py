"""The simulated province and its registry: what the gateway and the workers will load."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.simulator.province import build_province
from ingest.simulator.session import write_registry
from schemas.registry import dump_registry, load_registry


def test_same_seed_gives_the_same_registry_and_another_seed_another() -> None:
    first = dump_registry(build_province(12, seed=5).registry)
    assert dump_registry(build_province(12, seed=5).registry) == first
    assert dump_registry(build_province(12, seed=6).registry) != first


def test_seven_enterprises_cover_every_industry_and_the_sewage_plant_is_art7() -> None:
    registry = build_province(7, seed=1).registry
    codes = {e.id.split("-")[1] for e in registry.enterprises}
    assert codes == {"TP", "CM", "AL", "FA", "CC", "PC", "WW"}
    art7 = {e.id.split("-")[1] for e in registry.enterprises if e.art7_facility}
    assert art7 == {"WW"}


def test_written_registry_loads_and_authenticates_every_simulated_device(tmp_path: Path) -> None:
    province = build_province(9, seed=2)
    path = tmp_path / "registry.yaml"
    write_registry(province, path)

    loaded = load_registry(path)

    assert loaded.version == province.registry.version
    assert province.devices[0].password not in path.read_text("utf-8")
    for device in province.devices:
        found = loaded.device(device.mn)
        assert found is not None
        assert found[2].password_matches(device.password, None)
        assert found[1].id == device.outlet_id


def test_outlets_use_standards_that_limit_their_pollutants() -> None:
    province = build_province(14, seed=3)
    for device in province.devices:
        assert set(device.kind.pollutants) <= set(device.limits)
        found = province.registry.device(device.mn)
        assert found is not None
        outlet = found[1]
        assert outlet.medium.value == device.kind.medium
        assert outlet.load_quotas, f"{outlet.id} has no load quota"


def test_gas_outlets_of_power_and_cement_have_a_reference_o2() -> None:
    province = build_province(7, seed=1)
    by_kind = {d.kind_name: d for d in province.devices}
    assert by_kind["coal_unit_stack"].reference_o2 == 6.0
    assert by_kind["cement_kiln_tail"].reference_o2 == 10.0
    assert by_kind["potline_fume"].reference_o2 is None


def test_an_empty_province_is_refused() -> None:
    with pytest.raises(ValueError):
        build_province(0, seed=1)
