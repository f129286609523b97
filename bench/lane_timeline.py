"""Read a ``GREENWATCH_LANE_TRACE`` file (``streams.lane_trace``) and print where the worker's
batches waited: a few batches' timelines and the sums over the drain (docs/perf.md, "Seventh
slice (deep)").

Usage: ``python -m bench.lane_timeline TRACE [FIRST [COUNT]]`` (the batches whose timeline
is printed; default the 10th to the 15th). Only batches that were taken by the agent (raw
batches, ticks and registry swaps alike) and acked or returned are counted.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

STEPS = ("taken", "read_wait", "read_go", "prepared", "returned", "commit", "committed",
         "published", "acked")  # fmt: skip


def load(path: Path) -> dict[int, dict[str, float]]:
    """Batch → step → seconds (perf_counter), from the trace's lines."""
    batches: dict[int, dict[str, float]] = defaultdict(dict)
    for line in path.read_text().splitlines():
        at, _thread, batch, step = line.split()
        batches[int(batch)][step] = float(at)
    return dict(batches)


def _span(marks: dict[str, float], start: str, end: str) -> float:
    if start in marks and end in marks:
        return marks[end] - marks[start]
    return 0.0


def summary(batches: dict[int, dict[str, float]]) -> dict[str, float]:
    """Seconds summed over the batches: wall clock, the agent's wait for its next batch
    (returned → taken), prepare (of which waiting for reads), the lane's wait for the batch
    before's commit (prepared → returned), commit (the sink's transaction), and the commit
    thread's idle time between two commits."""
    ordered = [batches[b] for b in sorted(batches) if "taken" in batches[b]]
    sums = dict.fromkeys(("wall", "take", "prepare", "read_wait", "lane_wait", "commit",
                          "commit_idle"), 0.0)  # fmt: skip
    if len(ordered) < 2:
        return sums
    sums["wall"] = ordered[-1].get("committed", ordered[-1]["taken"]) - ordered[0]["taken"]
    for before, marks in pairwise(ordered):
        sums["take"] += _span(before | {"taken": marks["taken"]}, "returned", "taken")
        if "commit" in marks and "committed" in before:
            sums["commit_idle"] += max(0.0, marks["commit"] - before["committed"])
    for marks in ordered:
        sums["prepare"] += _span(marks, "taken", "prepared")
        sums["read_wait"] += _span(marks, "read_wait", "read_go")
        sums["lane_wait"] += _span(marks, "prepared", "returned")
        sums["commit"] += _span(marks, "commit", "committed")
    return sums


def main(argv: list[str]) -> None:
    batches = load(Path(argv[0]))
    first = int(argv[1]) if len(argv) > 1 else 10
    count = int(argv[2]) if len(argv) > 2 else 6
    origin = batches[first]["taken"]
    header = "  ".join(f"{s:>9}" for s in STEPS)
    print(f"batch  {header}   (ms from batch {first} taken)")
    for b in range(first, first + count):
        marks = batches.get(b, {})
        cells = (f"{(marks[s] - origin) * 1000:9.1f}" if s in marks else " " * 9 for s in STEPS)
        print(f"{b:5d}  " + "  ".join(cells))
    sums = summary(batches)
    wall = sums["wall"] or 1.0
    print(f"\n{len(batches)} batches over {sums['wall']:.2f} s:")
    for name, seconds in sums.items():
        print(f"  {name:12s} {seconds:8.2f} s  {100 * seconds / wall:5.1f} % of the wall clock")


if __name__ == "__main__":
    main(sys.argv[1:])
