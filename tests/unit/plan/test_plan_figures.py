"""Year-to-date sums of one subject: an intensity's numerator counts only the months that
report value added (a month's energy without its value added would inflate the intensity);
resource figures count every month."""

from __future__ import annotations

from datetime import date

import pytest

from streams.domain.plan_progress import year_figures


def test_numerators_only_over_months_with_value_added() -> None:
    total = year_figures(
        {
            date(2026, 1, 1): {"energy_kgce": 1000.0, "value_added": 10.0, "new_water": 5.0},
            date(2026, 2, 1): {"energy_kgce": 3000.0, "solid_waste_generated": 7.0},
            date(2026, 3, 1): {"energy_kgce": 1000.0, "value_added": 10.0, "co2_kg": 2.0},
        }
    )
    assert total["energy_kgce"] == pytest.approx(2000.0)
    assert total["value_added"] == pytest.approx(20.0)
    assert total["new_water"] == pytest.approx(5.0) and total["co2_kg"] == pytest.approx(2.0)
    assert total["solid_waste_generated"] == pytest.approx(7.0)
    assert (total["months_matched"], total["months_unmatched"]) == (2, 1)
