"""The pipeline benchmark's CPU budget (bench.cpu_budget) and drain clocks
(bench.pipeline_drain): /proc parsing and the arithmetic, on hand-made samples."""

from __future__ import annotations

import os

import pytest

from bench import cpu_budget
from bench.cpu_budget import Probe, Sample, StatTimes, parse_box, parse_stat, tree_ticks
from bench.pipeline_drain import Scrape, drain

TICKS_PER_S = round(1 / cpu_budget.TICK_S)


def test_a_stat_line_is_read_after_the_last_parenthesis() -> None:
    # a command name with a space and a parenthesis, as a thread's comm can be
    line = "4242 (py (worker) x) S 17 4242 4242 0 -1 4194560 9 0 0 0 120 30 7 3 20 0 9 0 1"
    assert parse_stat(line) == StatTimes(ppid=17, own=150, reaped=10)
    with pytest.raises(ValueError):
        parse_stat("not a stat line")


def test_the_box_line_counts_idle_and_iowait_and_leaves_guest_out() -> None:
    text = "cpu  100 5 50 800 40 1 2 2 30 0\ncpu0 50 2 25 400 20 0 1 1 15 0\n"
    assert parse_box(text) == (840, 1000)
    with pytest.raises(ValueError):
        parse_box("intr 1 2 3\n")


def test_a_tree_counts_live_descendants_and_reaped_children() -> None:
    stats = {
        10: StatTimes(ppid=1, own=5, reaped=100),  # postmaster; exited backends in reaped
        11: StatTimes(ppid=10, own=40, reaped=0),
        12: StatTimes(ppid=10, own=7, reaped=2),
        13: StatTimes(ppid=12, own=1, reaped=0),
        20: StatTimes(ppid=1, own=999, reaped=0),  # someone else's
    }
    assert tree_ticks(10, stats) == 5 + 100 + 40 + 7 + 2 + 1
    assert tree_ticks(99, stats) == 0


def _sample(at: float, ticks: dict[str, int], box: tuple[int, int]) -> Sample:
    return Sample(at=at, ticks=ticks, box=box)


def test_the_budget_splits_a_worker_and_prices_each_role_per_measurement() -> None:
    second = TICKS_PER_S
    before = _sample(
        100.0,
        {"worker": 0, "worker: main thread": 0, "Kafka broker": 0, "the benchmark itself": 0},
        (0, 0),
    )
    after = _sample(
        110.0,  # 10 s window
        {
            "worker": 8 * second,
            "worker: main thread": 3 * second,
            "Kafka broker": 1 * second,
            "the benchmark itself": second // 2,
        },
        (5 * second, 20 * second),  # 5 of 20 core-seconds idle
    )
    lines = cpu_budget.describe(before, after, measurements=400_000)
    by_name = {line[:44].strip(): line[44:].split() for line in lines[1:-1]}
    assert by_name["worker"] == ["8.00", "80%", "20.0"]  # 8 s / 400 000 = 20 µs
    assert by_name["main thread (event loop)"] == ["3.00", "30%", "7.5"]
    assert by_name["other threads (+ children)"] == ["5.00", "50%", "12.5"]
    assert by_name["Kafka broker"] == ["1.00", "10%", "2.5"]
    assert by_name["the benchmark itself"] == ["0.50", "5%", "1.2"]
    assert lines[-1].startswith("box idle: 25% of")


def test_a_sample_of_this_process_reads_its_own_cpu() -> None:
    probe = Probe(workers={"me": os.getpid()}, postmaster=None, broker=None)
    first = cpu_budget.take(probe)
    deadline = first.at + 0.3
    while cpu_budget.take(probe).at < deadline:
        sum(range(10_000))
    second = cpu_budget.take(probe)
    assert second.ticks["me"] > first.ticks["me"]
    assert second.ticks["me: main thread"] > first.ticks["me: main thread"]
    assert second.box[1] > first.box[1]


def _scrape(at: float, rows: tuple[float, ...], assigned: tuple[float, ...]) -> Scrape[None]:
    return Scrape(at, rows, assigned, None)


def test_two_workers_steady_clock_starts_when_both_own_partitions() -> None:
    scrapes = [
        _scrape(1.0, (0, 0), (0, 0)),
        _scrape(2.0, (0, 0), (12, 0)),  # worker 1 alone with every partition
        _scrape(3.0, (10_000, 0), (12, 0)),
        _scrape(6.0, (40_000, 0), (12, 0)),
        _scrape(7.0, (40_000, 0), (6, 6)),  # rebalanced
        _scrape(17.0, (240_000, 200_000), (6, 6)),
    ]
    result = drain(scrapes, spawned=0.5)
    assert result.first_row.rate == pytest.approx(440_000 / 15.0)  # the old figure
    assert result.steady.rate == pytest.approx(400_000 / 10.0)
    assert result.rows_before == 40_000
    assert result.starts == (1.5, 6.5)


def test_one_worker_without_a_start_effect_has_both_clocks_equal() -> None:
    scrapes = [
        _scrape(1.0, (0,), (0,)),
        _scrape(2.0, (0,), (12,)),
        _scrape(2.5, (0,), (12,)),
        _scrape(3.0, (8_000,), (12,)),
        _scrape(12.5, (480_000,), (12,)),
    ]
    result = drain(scrapes, spawned=0.0)
    assert result.steady == result.first_row
    assert result.steady.rate == pytest.approx(480_000 / 10.0)
    assert result.rows_before == 0
    assert result.starts == (2.0,)


def test_a_drain_without_a_row_is_refused() -> None:
    with pytest.raises(ValueError):
        drain([_scrape(1.0, (0,), (12,))], spawned=0.0)


def test_batch_sizes_are_counted_within_the_window() -> None:
    scrapes = [
        Scrape(1.0, (0, 0), (6, 6), None, (10, 0), (10_000, 0)),
        Scrape(5.0, (80_000, 64_000), (6, 6), None, (15, 9), (20_000, 9_000)),
    ]
    assert drain(scrapes, spawned=0.0).steady.batch_sizes() == ((5, 2_000), (9, 1_000))


def test_cpu_seconds_is_this_process_cpu_as_the_os_counts_it() -> None:
    """``cpu_seconds`` (the one /proc reader of a process's CPU the benchmarks share) agrees
    with ``os.times`` for this process, to a clock tick or two."""
    sum(i * i for i in range(2_000_000))  # some CPU of our own
    times = os.times()
    assert abs(cpu_budget.cpu_seconds(os.getpid()) - (times.user + times.system)) < 0.05
