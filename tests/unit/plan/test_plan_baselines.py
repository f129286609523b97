"""Plan baselines in the registry (issue 10 item 1): regions and enterprises carry the
baseline-year intensity of each reduction target, by target id; a tracked region without a
baseline, a negative baseline, a baseline for an unknown or a level target, or in the wrong
unit is refused with its place, and ``db load-registry`` exits 2 before touching anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from greenwatch.cli import app
from runtime.settings import Settings
from schemas.plan_registry import contains, region_prefix
from schemas.registry import RegistryError, load_registry, parse_registry

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "demo-province.yaml"


def _document() -> dict[str, Any]:
    document = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    assert isinstance(document, dict)
    return document


def test_example_registry_has_region_and_enterprise_baselines_and_the_coverage_flag() -> None:
    registry = load_registry(EXAMPLE)
    guiyang = next(r for r in registry.plan_regions if r.code == "520100")
    assert {b.target for b in guiyang.baselines} == {"gz-energy-per-va-2018", "gz-co2-per-va-2019"}
    power = next(e for e in registry.enterprises if e.id == "E-TP-01")
    assert power.above_designated_size is True
    assert power.plan_baselines[0].target == "gz-energy-per-va-2018"
    sewage = next(e for e in registry.enterprises if e.id == "E-WW-01")
    assert sewage.above_designated_size is False


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["plan_regions"][1]["baselines"].pop(1),
            "plan_regions[520100]: target gz-co2-per-va-2019 has no baseline",
        ),
        (
            lambda d: d["plan_regions"][0]["baselines"][0].update(value=-1.6),
            "plan_regions.0.baselines.0.value: Input should be greater than 0",
        ),
        (
            lambda d: d["enterprises"][0]["plan_baselines"][0].update(value=0),
            "enterprises.0.plan_baselines.0.value: Input should be greater than 0",
        ),
        (
            lambda d: d["enterprises"][0]["plan_baselines"][0].pop("value"),
            "enterprises.0.plan_baselines.0.value: Field required",
        ),
        (
            lambda d: d["enterprises"][0]["plan_baselines"][0].update(target="gz-nothing"),
            "unknown target 'gz-nothing'",
        ),
        (
            lambda d: d["enterprises"][0]["plan_baselines"][0].update(
                target="gz-fly-ash-utilisation-2018"
            ),
            "is a level (level_above), it has no baseline",
        ),
        (
            lambda d: d["enterprises"][0]["plan_baselines"][0].update(unit="kgce/yuan"),
            "energy_per_value_added is in tce/10^4 yuan, not kgce/yuan",
        ),
        (
            lambda d: d["enterprises"][0]["plan_baselines"][0].update(
                target="nx-energy-per-va-2020"
            ),
            "target nx-energy-per-va-2020 is 640000's, 520100 is outside it",
        ),
    ],
)
def test_bad_baselines_are_refused_with_their_place(edit: Any, expected: str) -> None:
    document = _document()
    edit(document)
    with pytest.raises(RegistryError) as refused:
        parse_registry(document, "r.yaml")
    assert expected in str(refused.value)


def test_load_registry_exits_2_on_a_target_without_a_baseline(tmp_path: Path) -> None:
    document = _document()
    document["plan_regions"][0]["baselines"] = []
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(app, ["db", "load-registry", str(bad)], obj=settings)
    assert result.exit_code == 2
    assert "gz-energy-per-va-2018 has no baseline" in result.output
    assert "Traceback" not in result.output


def test_gbt2260_prefixes() -> None:
    assert region_prefix("520000") == "52"
    assert region_prefix("520100") == "5201"
    assert contains("520000", "520302") and contains("520100", "520102")
    assert not contains("520100", "520302")
