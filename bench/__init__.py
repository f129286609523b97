"""Benchmarks: ``python -m bench`` runs every ``bench/bench_*.py``; ``python -m bench NAME``
runs ``bench_NAME`` only.

Each module exposes ``run() -> list[str]``: it measures, returns the lines to print (one
figure per line, units included), and cleans up what it started.
"""
