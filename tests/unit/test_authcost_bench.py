"""Issue 11, "authentication must not cost the pipeline more than 10 %": the benchmark that
says so compares the two sides on one broker in alternating rounds (``bench.bench_authcost``),
and the broker's second listener exists only there."""

from __future__ import annotations

from pathlib import Path

from bench.bench_authcost import Round, pair_ratios, side_of, summary
from deploy import kafka_service

LAYOUT = kafka_service.KafkaLayout(Path("/tmp/k"), 29092, 29093)


def test_rounds_alternate_so_a_drift_of_load_falls_on_both_sides() -> None:
    assert "".join(side_of(i) for i in range(8)) == "ABBAABBA"


def test_each_adjacent_pair_gives_one_ratio_whatever_its_order() -> None:
    rounds = [
        Round("A", 1.0, 100.0, 10.0, 5.0),
        Round("B", 1.0, 90.0, 11.0, 6.0),
        Round("B", 1.0, 50.0, 12.0, 6.0),
        Round("A", 1.0, 100.0, 10.0, 5.0),
        Round("A", 1.0, 80.0, 10.0, 5.0),  # a lone last round has no partner
    ]
    assert pair_ratios(rounds, lambda r: r.pipeline) == [0.9, 0.5]


def test_the_summary_prints_the_median_ratio_beside_both_medians() -> None:
    rounds = [
        Round("A", 10.0, 100.0, 10.0, 5.0),
        Round("B", 10.0, 95.0, 10.5, 5.0),
        Round("B", 10.0, 97.0, 10.0, 5.0),
        Round("A", 10.0, 100.0, 10.0, 5.0),
        Round("A", 10.0, 100.0, 10.0, 5.0),
        Round("B", 10.0, 60.0, 10.0, 5.0),  # one disturbed round does not move the median
    ]
    pipeline = next(line for line in summary(rounds) if line.startswith("pipeline"))
    assert "per pair 0.95, 0.97, 0.60" in pipeline
    assert "median ratio 0.950" in pipeline
    assert "costs +5.0%" in pipeline
    assert "medians A 100.0, B 95.0" in pipeline
    worker = next(line for line in summary(rounds) if line.startswith("worker CPU"))
    assert "costs +0.0%" in worker  # CPU: more is worse (median of 1.05, 1.0, 1.0)


def test_the_baseline_listener_is_the_benchmarks_only() -> None:
    stack = kafka_service.server_properties(LAYOUT, "adminpw")
    assert "BASELINE" not in stack
    assert "ANONYMOUS" not in stack
    bench = kafka_service.server_properties(LAYOUT, "adminpw", baseline_port=29094)
    assert (
        "listeners=SASL_PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093,"
        "BASELINE://127.0.0.1:29094\n"
    ) in bench
    assert ",BASELINE:PLAINTEXT\n" in bench
    assert "super.users=User:admin;User:ANONYMOUS\n" in bench
    # the secured listener is the stack's, unchanged
    for line in stack.splitlines():
        if not line.startswith(("listeners=", "advertised.listeners=", "listener.security",
                                "super.users=")):  # fmt: skip
            assert line in bench.splitlines()
