"""Missing-data substitution for loads (HJ 75-2017; issue 13 item 5), on worked examples.

Every example is a series of hourly emission rates (kg/h) with one high hour placed so that
the tier's look-back (180, 720 or 2160 previous valid hours) decides whether it is seen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.domain.substitution import (
    NO_METHOD,
    Hour,
    capture_rate,
    split_load,
    substitute,
    substitution_rules,
)

RULES = substitution_rules()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def series(valid: int, gap: int, peaks: dict[int, float], base: float = 10.0) -> list[Hour]:
    """``valid`` hours at ``base`` kg/h (``peaks``: hour index → value), then ``gap`` missing."""
    hours = [Hour(T0 + timedelta(hours=h), peaks.get(h, base)) for h in range(valid)]
    hours += [Hour(T0 + timedelta(hours=valid + h), None) for h in range(gap)]
    return hours


def test_the_rules_come_from_the_dated_data_file() -> None:
    assert RULES.valid_from.isoformat() == "2018-03-01" and "HJ 75-2017" in RULES.source
    assert [t.previous_valid_hours for t in RULES.tiers] == [180, 720, 2160]


def test_capture_90_and_a_short_gap_takes_the_max_of_the_previous_180_valid_hours() -> None:
    # 2000 valid hours, a peak of 50 at hour 1900 (within the last 180) and 80 at hour 1500
    # (outside them); a 5-hour gap → every missing hour is 50.
    hours = series(2000, 5, {1900: 50.0, 1500: 80.0})
    filled = substitute(hours, 0.95, RULES)
    assert [(s.value, s.method, s.gap_hours, s.basis_hours) for s in filled] == [
        (50.0, "hj75_max180", 5, 180)
    ] * 5


def test_capture_90_and_a_gap_over_24_hours_looks_back_720_valid_hours() -> None:
    # Same history, a 30-hour gap: hour 1500 (500 hours before the gap) is now seen → 80.
    filled = substitute(series(2000, 30, {1900: 50.0, 1500: 80.0}), 0.95, RULES)
    assert {(s.value, s.method) for s in filled} == {(80.0, "hj75_max720")}
    assert len(filled) == 30


def test_a_gap_of_exactly_24_hours_is_still_short() -> None:
    filled = substitute(series(2000, 24, {1500: 80.0}), 0.90, RULES)
    assert {(s.value, s.method) for s in filled} == {(10.0, "hj75_max180")}


def test_capture_between_75_and_90_looks_back_2160_valid_hours() -> None:
    # 3000 valid hours; peak 99 at hour 1000 (2000 before the gap): only the 2160 tier sees it.
    filled = substitute(series(3000, 3, {1000: 99.0, 2500: 60.0}), 0.80, RULES)
    assert {(s.value, s.method) for s in filled} == {(99.0, "hj75_max2160")}


def test_below_75_percent_no_tier_applies_and_nothing_is_invented() -> None:
    filled = substitute(series(100, 3, {}), 0.70, RULES)
    assert {(s.value, s.method) for s in filled} == {(None, NO_METHOD)}


def test_previous_valid_hours_skip_missing_ones_and_each_gap_is_filled_on_its_own() -> None:
    # valid 0-9 (value = index), gap 10-11, valid 12-13 (100, 1), gap 14.
    values = [float(i) for i in range(10)] + [None, None, 100.0, 1.0, None]
    hours = [Hour(T0 + timedelta(hours=i), v) for i, v in enumerate(values)]
    filled = substitute(hours, 0.95, RULES)
    assert [(s.start.hour, s.value, s.gap_hours, s.basis_hours) for s in filled] == [
        (10, 9.0, 2, 10),
        (11, 9.0, 2, 10),
        (14, 100.0, 1, 12),  # the max over the 12 valid hours before: 0-9, 100, 1
    ]


def test_a_gap_with_no_valid_hour_before_it_stays_unsubstituted() -> None:
    hours = [Hour(T0, None), Hour(T0 + timedelta(hours=1), 5.0)]
    [only] = substitute(hours, 0.95, RULES)
    assert (only.value, only.method) == (None, NO_METHOD)


def test_capture_rate_counts_valid_hours() -> None:
    assert capture_rate(series(9, 1, {})) == pytest.approx(0.9)
    assert capture_rate([]) == 0.0


def test_substituted_load_is_kept_apart_from_the_measured_load() -> None:
    # A day: 20 measured hours at 10 kg/h, a 4-hour gap filled at 12 kg/h (quarter at 95 %).
    hours = series(176, 0, {170: 12.0}) + series(20, 4, {})
    hours = [Hour(T0 + timedelta(hours=i), h.value) for i, h in enumerate(hours)]
    filled = substitute(hours, 0.95, RULES)
    day = hours[-24:]
    split = split_load(day, [s for s in filled if s.start >= day[0].start])
    assert split.measured_kg == pytest.approx(200.0)
    assert split.substituted_kg == pytest.approx(48.0)
    assert (split.substituted_hours, split.unsubstituted_hours) == (4, 0)
    assert split.total_kg == pytest.approx(248.0)
