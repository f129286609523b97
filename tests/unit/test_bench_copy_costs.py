"""The COPY cost harness writes the drain's rows in the drain's batches (bench/copy_costs.py)."""

from __future__ import annotations

from bench.copy_costs import DEVICES, FACTORS, MINUTES, PER_BATCH, drain_batches


def test_the_drain_is_cut_in_its_batches_of_new_keys() -> None:
    batches = drain_batches(sort=False)
    rows = [row for batch in batches for row in batch]
    assert len(rows) == DEVICES * MINUTES * len(FACTORS)
    assert {len(b) for b in batches[:-1]} == {PER_BATCH * len(FACTORS)}
    assert len({row[:4] for row in rows}) == len(rows)  # every key new, as in the drain


def test_sorted_batches_hold_the_same_rows_in_key_order() -> None:
    plain, ordered = drain_batches(sort=False), drain_batches(sort=True)
    for before, after in zip(plain[:3], ordered[:3], strict=True):
        keys = [row[:4] for row in after]
        assert keys == sorted(keys)
        assert sorted(r[:4] for r in before) == keys
