"""Discover and run the benchmarks in ``bench/`` (see ``bench/__init__.py``)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path


def available() -> list[str]:
    """Names of the benchmark modules, without the ``bench_`` prefix, sorted."""
    here = str(Path(__file__).resolve().parent)
    return sorted(
        info.name.removeprefix("bench_")
        for info in pkgutil.iter_modules([here])
        if info.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of {names}; all if none")
    chosen = parser.parse_args(argv).names or names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {names}")
    for name in chosen:
        module = importlib.import_module(f"bench.bench_{name}")
        run: Callable[[], list[str]] = module.run
        print(f"== {name}", flush=True)
        for line in run():
            print(f"   {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
