"""An energy reference file a regulator edits is read like every other YAML file a person
writes (schemas/yamlfile): aliases refused, the line at fault named."""

from __future__ import annotations

from pathlib import Path

import pytest
from energy_support import energy_document

from schemas.energy_reference import ReferenceError, load_energy_reference
from schemas.registry import RegistryError, parse_registry

PACKAGED = Path(__file__).parents[3] / "schemas" / "reference" / "energy.yaml"


def test_an_alias_in_the_reference_is_refused_with_its_line(tmp_path: Path) -> None:
    text = PACKAGED.read_text("utf-8").replace(
        "version: energy-reference-2026.2", "version: &v energy-reference-2026.2\nalias: *v"
    )
    path = tmp_path / "energy.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ReferenceError, match=r"line 12: YAML aliases"):
        load_energy_reference(path)
    document = energy_document()
    document["energy_reference_file"] = str(path)
    with pytest.raises(RegistryError, match="aliases"):
        parse_registry(document)


def test_a_broken_reference_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "energy.yaml"
    path.write_text("version: x\ncarriers: [\n", "utf-8")
    with pytest.raises(ReferenceError, match=r"energy.yaml: line \d"):
        load_energy_reference(path)
