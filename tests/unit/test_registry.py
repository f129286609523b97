"""The registry file format: what a regulator editing the YAML would notice."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from schemas.registry import RegistryError, hash_password, load_registry, parse_registry

EXAMPLE = Path(__file__).parents[2] / "schemas" / "examples" / "demo-province.yaml"


def _example_document() -> dict[str, object]:
    document = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    assert isinstance(document, dict)
    return document


def test_documented_example_loads_with_its_limits() -> None:
    registry = load_registry(EXAMPLE)
    found = registry.device("DEMO-TP01-G1")
    assert found is not None
    enterprise, outlet, device = found
    assert enterprise.id == "E-TP-01"
    assert registry.limit(outlet, "a21026") == (35.0, "ULE-coal-power")
    assert registry.reference_o2(outlet) == 6.0
    assert device.password_matches("123456", None)
    assert not device.password_matches("654321", None)


def test_permit_limit_overrides_the_standard() -> None:
    document = _example_document()
    outlet = document["enterprises"][0]["outlets"][0]  # type: ignore[index]
    outlet["limits"] = {"a21026": 25.0}
    registry = parse_registry(document)
    _, found_outlet, _ = registry.device("DEMO-TP01-G1") or (None, None, None)
    assert found_outlet is not None
    assert registry.limit(found_outlet, "a21026") == (25.0, "permit:E-TP-01-G1")
    assert registry.limit(found_outlet, "a21002") == (50.0, "ULE-coal-power")
    assert registry.limit(found_outlet, "w01018") is None


def test_unknown_standard_is_refused_with_the_outlet_named() -> None:
    document = _example_document()
    document["enterprises"][0]["outlets"][0]["standard"] = "GB-0000"  # type: ignore[index]
    with pytest.raises(RegistryError, match="E-TP-01-G1: unknown standard"):
        parse_registry(document)


def test_duplicate_device_is_refused() -> None:
    document = _example_document()
    enterprises = document["enterprises"]
    mn = enterprises[0]["outlets"][0]["devices"][0]["mn"]  # type: ignore[index]
    enterprises[1]["outlets"][0]["devices"][0]["mn"] = mn  # type: ignore[index]
    with pytest.raises(RegistryError, match="defined twice"):
        parse_registry(document)


def test_unreadable_file_is_a_registry_error(tmp_path: Path) -> None:
    broken = tmp_path / "r.yaml"
    broken.write_text("enterprises: [", "utf-8")
    with pytest.raises(RegistryError):
        load_registry(broken)


def test_password_digest_is_bound_to_the_device() -> None:
    assert hash_password("MN1", "123456") != hash_password("MN2", "123456")


def test_art7_and_heavy_metals_are_known() -> None:
    registry = load_registry(EXAMPLE)
    sewage = next(e for e in registry.enterprises if e.id == "E-WW-01")
    assert sewage.art7_facility
    assert registry.is_heavy_metal_or_pop("w20120")
    assert not registry.is_heavy_metal_or_pop("a21026")
