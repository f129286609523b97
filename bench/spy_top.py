"""Top costs of a running worker from a py-spy recording (collapsed stacks).

``py-spy record --pid PID --format raw -o worker.txt`` writes one line per distinct stack,
``frame;frame;…;leaf count``. ``python -m bench.spy_top worker.txt`` prints the ``--top``
functions by own samples (the leaf frame, where the CPU actually was) and Greenwatch's own
functions by inclusive samples, each with its share of all samples.
``BENCH_PIPELINE_SPY=DIR python -m bench pipeline`` records the pipeline benchmark's worker
while it drains its backlog (``bench.spy``; docs/perf.md).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path


def tally(lines: list[str]) -> tuple[Counter[str], Counter[str], int]:
    """(own samples, inclusive samples, total samples) per frame of collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_short(frame) for frame in stack.split(";")]
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    return own, inclusive, total


def _short(frame: str) -> str:
    """``function (path)``: one entry per function (py-spy names each line), without the
    interpreter's and the checkout's prefixes."""
    head, _, tail = frame.partition(" (")
    path = tail.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[-1]
            break
    path = path.replace(str(Path(__file__).resolve().parent.parent) + "/", "")
    return f"{head} ({path})" if tail else head


_PACKAGES = ("streams", "runtime", "ingest", "schemas", "alerts")
_OWN = ".py)"


def report(path: Path, top: int) -> list[str]:
    """The report lines for the recording at ``path``."""
    own, inclusive, total = tally(path.read_text("utf-8", "replace").splitlines())
    if not total:
        return [f"{path}: no samples"]
    lines = [f"{path}: {total} samples", "own time (the leaf frame):"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines.append("inclusive time of Greenwatch's own functions (they or what they called):")
    ours = Counter({f: n for f, n in inclusive.items() if f.endswith(_OWN) or "(" not in f})
    ours = Counter({f: n for f, n in ours.items() if any(f"({p}/" in f for p in _PACKAGES)})
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in ours.most_common(top)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spy_top", description=__doc__)
    parser.add_argument("recording", type=Path, help="py-spy --format raw output")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    for line in report(args.recording, args.top):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
