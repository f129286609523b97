"""bench.trees: the trees a benchmark compares and the alternating order of its rounds."""

from __future__ import annotations

from pathlib import Path

from bench.trees import compared


def test_rounds_alternate_base_this_this_base() -> None:
    trees, order = compared(Path("/here"), "/base")
    assert trees == {"this": Path("/here"), "base": Path("/base")}
    assert order == ["base", "this", "this", "base"]


def test_without_a_base_this_tree_runs_alone() -> None:
    assert compared(Path("/here"), "") == ({"this": Path("/here")}, ["this"])
