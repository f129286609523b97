"""Plan targets as the seeds write them, the progress path, the barometer vintages and the
resource indicators, on worked examples (domain-energy.md §3–4, §6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.plans import load_plans
from schemas.registry import RegistryError
from streams.domain.plan import (
    Colour,
    PhosphogypsumYear,
    PlanInputError,
    barometer,
    consumption_growth,
    even_annual_rate,
    intensity,
    reduction,
    required_reduction,
    solid_waste_utilisation_rate,
)

PLANS = load_plans()
SEEDS = Path(__file__).parents[4] / "shared" / "seeds"


def test_every_seed_target_is_data_with_its_clause_found_in_the_seed() -> None:
    expected = {
        "gz-energy-per-va-2018": ("reduction", 2015, 2018, 12),
        "gz-co2-per-va-2019": ("reduction", 2015, 2019, 18),
        "nx-energy-per-va-2020": ("reduction", 2015, 2020, 14),
        "nx-water-per-va-2020": ("reduction", 2015, 2020, 18),
    }
    for target_id, (kind, base, year, pct) in expected.items():
        _, target = PLANS.target(target_id)
        assert (target.kind, target.baseline_year, target.target_year, target.reduction_pct) == (
            kind, base, year, pct,
        )  # fmt: skip
    levels = {"gz-fly-ash-utilisation-2018": 90, "gz-solid-waste-utilisation-2018": 60,
              "nx-general-solid-waste-utilisation-2020": 73}  # fmt: skip
    for target_id, pct in levels.items():
        assert PLANS.target(target_id)[1].value_pct == pct
    _, gypsum = PLANS.target("gz-phosphogypsum-balance-2020")
    assert gypsum.min_consumption_growth_pct == 10
    if SEEDS.is_dir():  # ../shared beside the checkout: every clause stands in its seed
        for plan in PLANS.plans:
            text = (SEEDS / plan.seed).read_text("utf-8")
            for target in plan.targets:
                for part in target.clause.split("……"):
                    assert part.strip("“”") in text, (target.id, part)


def test_the_even_rate_path_matches_the_worked_rates() -> None:
    assert even_annual_rate(0.12, 3) == pytest.approx(0.0417, abs=1e-4)  # Guizhou 2016–2018
    assert even_annual_rate(0.14, 5) == pytest.approx(0.0297, abs=1e-4)  # Ningxia 2016–2020
    assert required_reduction(0.14, 5, 5) == pytest.approx(0.14)
    assert required_reduction(0.14, 5, 0) == 0.0
    assert required_reduction(0.14, 5, 9) == pytest.approx(0.14)  # clamped after the end


@given(st.floats(0.01, 0.5), st.integers(1, 10), st.floats(0, 10), st.floats(0, 10))
def test_the_path_is_monotone(total: float, years: int, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert required_reduction(total, years, low) <= required_reduction(total, years, high) + 1e-12


def test_intensity_is_a_ratio_of_sums_and_reduction_is_against_the_baseline() -> None:
    # two months: 100 tce on 50 万元 and 900 on 150: 1000 / 200 = 5, not the mean of the
    # monthly ratios (2 + 6) / 2 = 4
    assert intensity(100 + 900, 50 + 150) == 5.0
    assert reduction(0.88, 1.0) == pytest.approx(0.12)
    assert reduction(1.05, 1.0) == pytest.approx(-0.05)
    with pytest.raises(PlanInputError, match="value_added"):
        intensity(10, 0)
    with pytest.raises(PlanInputError, match="numerator"):
        intensity(-1, 10)


def test_barometer_2020_red_yellow_green_by_ten_percent_of_the_target() -> None:
    rule = PLANS.barometer_rule("NDRC-2020-901")
    assert barometer(rule, 0.10, 0.10).colour is Colour.GREEN
    assert barometer(rule, 0.091, 0.10).colour is Colour.YELLOW  # gap 0.009 ≤ 0.010
    assert barometer(rule, 0.089, 0.10).colour is Colour.RED  # gap 0.011 > 0.010
    assert barometer(rule, -0.02, 0.10).colour is Colour.RED


def test_barometer_2021_rose_is_red_slow_is_yellow() -> None:
    rule = PLANS.barometer_rule("NDRC-2021-629")
    assert barometer(rule, -0.001, 0.03).colour is Colour.RED
    assert barometer(rule, 0.02, 0.03).colour is Colour.YELLOW
    assert barometer(rule, 0.089, 0.10).colour is Colour.YELLOW  # red under 2020, yellow here
    assert barometer(rule, 0.03, 0.03).colour is Colour.GREEN


def test_resource_indicators() -> None:
    # 60 utilised (10 of it from stock) of 90 generated + 10 from stock = 60 %
    assert solid_waste_utilisation_rate(60, 90, 10) == pytest.approx(0.60)
    with pytest.raises(PlanInputError, match="utilised_from_stock"):
        solid_waste_utilisation_rate(5, 90, 10)
    with pytest.raises(PlanInputError, match="generated"):
        solid_waste_utilisation_rate(5, -1, 0)
    # Guizhou H1 2020: 5.9236 Mt produced, 5.0317 Mt used or disposed (84.94 % 利用处置率)
    h1 = PhosphogypsumYear(produced=5.9236, utilised=3.0, treated=2.0317)
    assert h1.consumption / h1.produced == pytest.approx(0.8494, abs=1e-4)
    assert h1.utilisation_rate == pytest.approx(3.0 / 5.9236)  # 消纳 ≠ 综合利用
    assert not h1.consumption_exceeds_production
    later = PhosphogypsumYear(produced=5.0, utilised=4.0, treated=1.6)
    assert later.consumption_exceeds_production
    assert consumption_growth(h1, later) == pytest.approx(5.6 / 5.0317 - 1)


def test_a_target_without_what_its_kind_needs_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text(
        "version: x\nprogress_rules: []\nbarometer_rules: []\nplans:\n"
        "  - {id: p, name: p, seed: s, region_code: '520000', targets: [{id: t,"
        " indicator: energy_per_value_added, kind: reduction, target_year: 2018,"
        " clause: '到2018年底下降'}]}\n",
        "utf-8",
    )
    with pytest.raises(RegistryError, match="a reduction needs baseline_year"):
        load_plans(bad)
