"""The source trees a benchmark compares: the order its rounds visit them, and a harness
file run over another tree's code.

``this`` is the tree the benchmark runs from; ``base`` (optional) another checkout whose
worker runs in that tree's directory (``bench.bench_pipeline._start_worker(tree=…)``). Rounds
alternate base, this, this, base so that a drift of the machine during the run weighs on both
trees alike.

``child_figures`` runs a harness file over another tree in a fresh process, as ``__main__``
without its directory on ``sys.path``, from ``tree`` with ``PYTHONPATH=tree`` (``python -m``
and a script's directory would put the current tree first), on the same local stack (the
state dir of this process's settings). Its last line of output is a JSON object of figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def compared(this: Path, base: str) -> tuple[dict[str, Path], list[str]]:
    """The trees by name and the order of the rounds (``base`` may be "": this tree alone)."""
    trees = {"this": this, **({"base": Path(base)} if base else {})}
    order = ["base", "this", "this", "base"] if base else ["this"]
    return trees, order


RUN_HARNESS = (
    "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)
"""A child's program: the harness file as ``__main__`` without its directory on ``sys.path``."""


def child_figures(harness: Path, tree: Path, args: list[str]) -> dict[str, float]:
    """Run ``harness`` with ``args`` over ``tree``'s code; its figures (SystemExit if it
    failed, with the end of its stderr)."""
    from runtime.settings import Settings

    state = str(Settings().state_dir.resolve())
    env = dict(os.environ, PYTHONPATH=str(tree), GREENWATCH_STATE_DIR=state)
    done = subprocess.run(
        [sys.executable, "-c", RUN_HARNESS, str(harness.resolve()), *args],
        env=env, cwd=tree, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{tree}: the harness failed:\n{done.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures
