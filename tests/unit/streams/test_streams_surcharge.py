"""Electricity surcharges on worked examples (domain-energy.md §4.2–4.3): the aluminium 2013
bands, the 2021 rule's 20 kWh/t steps over a threshold that falls by year, overdue ×1.5, the
punitive and differential prices with a province's override."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.registry import RegistryError
from schemas.tariffs import load_surcharges
from streams.domain.surcharge import (
    aluminium_surcharge,
    differential_surcharge,
    punitive_surcharge,
)

CATALOGUE = load_surcharges()


@pytest.mark.parametrize(
    ("pricing_year", "previous", "rate"),
    [
        # 2013 rule (发改价格〔2013〕2530号), pricing years 2014–2021
        (2018, 13_650, "0"),
        (2018, 13_700, "0"),  # at the band's lower bound: normal price
        (2018, 13_700.01, "0.02"),
        (2018, 13_800, "0.02"),  # the first band includes its upper bound
        (2018, 13_800.5, "0.08"),
        (2021, 14_200, "0.08"),
        # 2021 rule (1239号): 13 650 in 2022
        (2022, 13_650, "0"),
        (2022, 13_651, "0.01"),  # a part of 20 counts whole
        (2022, 13_670, "0.01"),  # exactly one step
        (2022, 13_670.1, "0.02"),
        (2022, 13_750, "0.05"),
        # 13 450 from 2023, 13 300 from 2025
        (2023, 13_500, "0.03"),
        (2024, 13_450, "0"),
        (2025, 13_500, "0.10"),
        (2026, 13_301, "0.01"),
    ],
)
def test_aluminium_tiered_rates(pricing_year: int, previous: float, rate: str) -> None:
    result = aluminium_surcharge(CATALOGUE, pricing_year, previous, billed_kwh=1_000_000)
    assert result.rate_yuan_per_kwh == Decimal(rate)
    assert result.amount_yuan == (Decimal(rate) * 1_000_000).quantize(Decimal("0.01"))


def test_a_worked_2026_example_reads_line_by_line() -> None:
    # 2025's 13 500 kWh/t over 2026's 13 300: ⌈200/20⌉ = 10 steps = 0.10 yuan/kWh on a
    # 100 kt/a smelter's 1.35 TWh = 135 million yuan
    result = aluminium_surcharge(CATALOGUE, 2026, 13_500, billed_kwh=1_350_000_000)
    assert result.rule_id == "NDRC-2021-1239"
    assert result.amount_yuan == Decimal("135000000.00")
    text = "\n".join(result.lines)
    assert "grading standard 2026: 13300 kWh/t" in text
    assert "⌈(13500 − 13300) / 20⌉ = 10" in text
    assert text.endswith("= 135000000.00 yuan")


def test_unpaid_after_90_days_is_one_and_a_half_times() -> None:
    result = aluminium_surcharge(CATALOGUE, 2022, 13_700, billed_kwh=100, overdue=True)
    assert result.rate_yuan_per_kwh == Decimal("0.045")  # 3 steps × 0.01 × 1.5
    assert any("unpaid 90 days" in line for line in result.lines)
    # the 2013 rule had no such multiple
    assert aluminium_surcharge(CATALOGUE, 2018, 13_750, 100, overdue=True).rate_yuan_per_kwh == (
        Decimal("0.02")
    )


def test_before_2014_there_is_no_tiered_price() -> None:
    assert aluminium_surcharge(CATALOGUE, 2012, 14_000, 100).rule_id is None


@given(
    used=st.decimals(min_value=13_300, max_value=16_000, places=3),
    year=st.integers(2022, 2030),
)
def test_the_2021_rate_is_monotone_and_never_a_part_step(used: Decimal, year: int) -> None:
    lower = aluminium_surcharge(CATALOGUE, year, used, 1).rate_yuan_per_kwh
    higher = aluminium_surcharge(CATALOGUE, year, used + Decimal("0.5"), 1).rate_yuan_per_kwh
    assert lower <= higher
    assert (lower / Decimal("0.01")) == (lower / Decimal("0.01")).to_integral_value()


def test_punitive_price_within_and_beyond_one_times_the_quota() -> None:
    # calcium carbide quota 3 200 kWh/t; 3 600 is 0.125× over: restricted 0.10 on the excess
    within = punitive_surcharge(CATALOGUE, "640000", 2026, 3_600, 3_200, 36_000_000)
    assert within.rate_yuan_per_kwh == Decimal("0.10")
    assert within.billed_kwh == Decimal("4000000.000")  # 36e6 × 400 / 3600
    assert within.amount_yuan == Decimal("400000.00")
    beyond = punitive_surcharge(CATALOGUE, "640000", 2026, 6_500, 3_200, 65_000_000)
    assert beyond.rate_yuan_per_kwh == Decimal("0.30")
    assert punitive_surcharge(CATALOGUE, "640000", 2026, 3_100, 3_200, 1e6).amount_yuan == 0


def test_a_province_override_raises_the_eliminated_rate() -> None:
    anhui = punitive_surcharge(CATALOGUE, "340100", 2026, 6_500, 3_200, 65_000_000)
    assert anhui.rate_yuan_per_kwh == Decimal("0.60")
    handan = punitive_surcharge(CATALOGUE, "130402", 2026, 6_500, 3_200, 65_000_000)
    assert handan.rate_yuan_per_kwh == Decimal("0.40")
    assert any("override" in line for line in handan.lines)


def test_differential_price_by_class_and_the_steel_rule_of_2017() -> None:
    ferro = differential_surcharge(CATALOGUE, "640000", "ferroalloy", "eliminated", 2026, 1e6)
    assert ferro.rate_yuan_per_kwh == Decimal("0.30")
    steel = differential_surcharge(CATALOGUE, "640000", "steel", "eliminated", 2026, 1e6)
    assert steel.rate_yuan_per_kwh == Decimal("0.50")
    assert differential_surcharge(
        CATALOGUE, "640000", "steel", "eliminated", 2016, 1e6
    ).rate_yuan_per_kwh == Decimal("0.30")
    assert differential_surcharge(
        CATALOGUE, "640000", "cement", "restricted", 2026, 1e6
    ).rate_yuan_per_kwh == Decimal("0.10")


def test_a_broken_catalogue_names_its_place(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    bad = tmp_path / "s.yaml"
    bad.write_text(
        "version: x\naluminium_tiered:\n  - {id: a, name: a, source: s, valid_from: 2022-01-01,"
        " indicator: i, kind: steps}\ndifferential: []\npunitive: []\n",
        "utf-8",
    )
    with pytest.raises(RegistryError, match="needs thresholds"):
        load_surcharges(bad)
