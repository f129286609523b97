"""The source trees a benchmark compares, and the order its rounds visit them.

``this`` is the tree the benchmark runs from; ``base`` (optional) another checkout whose
worker runs in that tree's directory (``bench.bench_pipeline._start_worker(tree=…)``). Rounds
alternate base, this, this, base so that a drift of the machine during the run weighs on both
trees alike.
"""

from __future__ import annotations

from pathlib import Path


def compared(this: Path, base: str) -> tuple[dict[str, Path], list[str]]:
    """The trees by name and the order of the rounds (``base`` may be "": this tree alone)."""
    trees = {"this": this, **({"base": Path(base)} if base else {})}
    order = ["base", "this", "this", "base"] if base else ["this"]
    return trees, order
