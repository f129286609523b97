"""Regional roll-up by GB/T 2260 prefixes: sums per county, city and province, intensities as
Σ numerator ÷ Σ value added over the reporting enterprises, never an average of ratios."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.energy.regions import EnterpriseMonth, region_of, roll_up

MARCH = date(2026, 3, 1)


def month(eid: str, region: str, tce: float, co2: float, va: float | None) -> EnterpriseMonth:
    return EnterpriseMonth(eid, region, MARCH, tce, tce, co2, 0.0, va)


def test_worked_example_two_cities_of_one_province() -> None:
    rows = roll_up(
        [
            month("AL", "520402", 100_000.0, 250_000.0, 50_000.0),  # 2.0 tce/10^4 yuan
            month("CM", "520302", 20_000.0, 90_000.0, 2_000.0),  # 10.0 tce/10^4 yuan
            month("PP", "520303", 5_000.0, 9_000.0, None),  # reported no value added
        ]
    )
    by = {(r.level, r.region): r for r in rows}
    province = by[("province", "520000")]
    assert province.enterprises == 3 and province.tce == 125_000.0
    assert province.value_added == 52_000.0
    # Σ/Σ over AL and CM: 120 000 / 52 000 = 2.31, not (2.0 + 10.0) / 2 = 6.0
    assert province.tce_per_10k_yuan == pytest.approx(120_000.0 / 52_000.0)
    assert province.tco2_per_10k_yuan == pytest.approx(340_000.0 / 52_000.0)
    zunyi = by[("city", "520300")]
    assert (zunyi.enterprises, zunyi.tce) == (2, 25_000.0)
    assert zunyi.tce_per_10k_yuan == pytest.approx(10.0)
    assert by[("county", "520303")].tce_per_10k_yuan is None  # nobody reported value added
    assert region_of("520402", 4) == "520400" and region_of("640104", 2) == "640000"


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["520102", "520302", "520402", "640104"]),
            st.floats(0, 1e6),
            st.floats(1, 1e5),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_a_province_is_the_sum_of_its_cities(items: list[tuple[str, float, float]]) -> None:
    rows = roll_up(
        [month(f"E{i}", code, tce, tce * 2, va) for i, (code, tce, va) in enumerate(items)]
    )
    for province in (r for r in rows if r.level == "province"):
        cities = [r for r in rows if r.level == "city" and r.region[:2] == province.region[:2]]
        assert province.tce == pytest.approx(sum(c.tce for c in cities))
        assert province.enterprises == sum(c.enterprises for c in cities)
        assert province.tce_per_10k_yuan == pytest.approx(
            sum(c.tce for c in cities) / sum(c.value_added or 0 for c in cities)
        )
