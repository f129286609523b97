"""The dead-letter budget per peer and reason: a flood becomes counts and one sample."""

from __future__ import annotations

import math

from ingest.gateway.deadletter_budget import DeadLetterBudget, Suppressed


def test_beyond_the_budget_dead_letters_are_counted_and_sampled_per_window() -> None:
    budget = DeadLetterBudget(per_window=2, window_s=60, sample_bytes=4)
    admitted = [budget.admit("10.0.0.9", "garbage", b"x" * 100, now=t) for t in range(5)]
    assert admitted == [True, True, False, False, False]
    assert budget.admit("10.0.0.9", "bad_crc", b"frame", now=5)  # another reason
    assert budget.admit("10.0.0.8", "garbage", b"junk", now=5)  # another peer
    assert budget.expired(now=30) == []
    assert budget.expired(now=61) == [Suppressed("10.0.0.9", "garbage", 3, 300, b"xxxx", 60)]
    assert budget.admit("10.0.0.9", "garbage", b"x", now=62)  # a new window


def test_expired_at_infinity_ends_every_window_and_zero_means_unbounded() -> None:
    budget = DeadLetterBudget(per_window=1, window_s=60)
    budget.admit("p", "garbage", b"a", now=0)
    budget.admit("p", "garbage", b"b", now=1)
    assert [s.count for s in budget.expired(math.inf)] == [1]
    unbounded = DeadLetterBudget(per_window=0)
    assert all(unbounded.admit("p", "garbage", b"a", now=0) for _ in range(1000))
