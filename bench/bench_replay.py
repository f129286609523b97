"""``greenwatch replay`` at speed, this tree beside main's in the same run (issue 15).

Writes one fraction of a province-day (``bench.replay_fraction``: ``BENCH_REPLAY_DEVICES`` ×
``BENCH_REPLAY_MINUTES`` minute frames × 8 factors) and replays it ``BENCH_REPLAY_ROUNDS``
times with this tree's ``streams.replay`` and with main's, each in a fresh interpreter
(``python bench/replay_fraction.py --input FILE`` on that tree's ``PYTHONPATH``), alternating
which goes first. Main's tree is ``BENCH_REPLAY_BASE`` (a checkout), else
``git archive BENCH_REPLAY_BASE_REF`` (default ``main``) of this repository unpacked in a
temporary directory; without either, only this tree is measured. The baseline measured in
the same run is the HJ 212 decode of the same lines alone (what no replay can beat).

This tree is measured twice per round: ``--jobs 1`` (one process, today's path) and
``--jobs N`` (``BENCH_REPLAY_JOBS``, default the usable cores: ``streams.replay_parallel``).

Figures: measurements/s (wall clock) and CPU µs per measurement (``time.process_time`` of the
replaying process plus its partition processes: other load on a shared machine moves it much
less). Target: replay ≥ 100 000 measurements/s.

Memory: the peak RSS of one replay per tree of ``BENCH_REPLAY_RSS_DEVICES`` devices (default
200) at two input lengths, ``BENCH_REPLAY_RSS_MINUTES`` (default ``90,360``) minutes, beside
the interpreter's own peak before the replay (modules and registry). A bounded replay's peak
does not grow with the input's length.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from statistics import median

from bench import replay_fraction
from bench.replay_fraction import ReplayFigure
from ingest.hj212 import DecodeError, decode
from streams.replay_parallel import usable_cores

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("BENCH_REPLAY_ROUNDS", "3"))
BASE_DIR = os.environ.get("BENCH_REPLAY_BASE", "")
BASE_REF = os.environ.get("BENCH_REPLAY_BASE_REF", "main")
TARGET_PER_S = 100_000
FACTORS = 8
RSS_DEVICES = int(os.environ.get("BENCH_REPLAY_RSS_DEVICES", "200"))
RSS_MINUTES = tuple(int(m) for m in os.environ.get("BENCH_REPLAY_RSS_MINUTES", "90,360").split(","))
JOBS = int(os.environ.get("BENCH_REPLAY_JOBS", "0")) or usable_cores()
THIS_ONE, THIS_N = "this --jobs 1", f"this --jobs {JOBS}"
RUNS: dict[str, tuple[bool, int | None]] = {"main": (False, None), THIS_ONE: (True, 1)}
if JOBS > 1:
    RUNS[THIS_N] = (True, JOBS)
"""What each figure runs: this tree or main's, ``--jobs`` (None: main's ``replay_lines``)."""


def run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="gw-bench-replay-") as tmp:
        path = Path(tmp) / "province-day-fraction.hj212"
        frames = replay_fraction.write_fraction(path)
        decode_s = _decode_seconds(path)
        with _base_tree(Path(tmp)) as (base, where):
            figures: dict[str, list[ReplayFigure]] = {name: [] for name in RUNS}
            for round_index in range(ROUNDS):
                order = list(RUNS) if round_index % 2 == 0 else list(reversed(RUNS))
                for name in order:
                    ours, jobs = RUNS[name]
                    tree = ROOT if ours else base
                    if tree is not None:
                        figures[name].append(_replay(tree, path, jobs=jobs))
            memory = _memory_lines(Path(tmp), base)
    values = frames * FACTORS
    lines = [
        f"fraction: {replay_fraction.REPLAY_DEVICES} devices × {replay_fraction.REPLAY_MINUTES} "
        f"minute frames × {FACTORS} factors = {values:,} values "
        f"({values / replay_fraction.PROVINCE_DAY_VALUES:.2%} of a province-day); "
        f"{ROUNDS} rounds, order alternating; main's tree: {where}; usable cores {usable_cores()}, "
        f"load average {os.getloadavg()[0]:.1f}",
        f"baseline, same run: HJ 212 decode alone {frames / decode_s:,.0f} frames/s = "
        f"{values / decode_s:,.0f} values/s (one core)",
    ]
    for name, runs in figures.items():
        if not runs:
            lines.append(f"{name}: not measured")
            continue
        rates = ", ".join(f"{f.rate:,.0f}" for f in runs)
        cpu = ", ".join(f"{f.cpu_seconds / f.measurements * 1e6:.1f}" for f in runs)
        lines.append(
            f"{name}: replay {rates} measurements/s; CPU (all its processes) {cpu} µs per "
            "measurement"
        )
    main = _median_rate(figures["main"]) if figures["main"] else 0.0
    main_cpu = _median_cpu(figures["main"]) if figures["main"] else 0.0
    for name in RUNS:
        if name == "main" or not figures[name] or not main:
            continue
        rate, this_cpu = _median_rate(figures[name]), _median_cpu(figures[name])
        lines.append(
            f"median: {name} {rate:,.0f}/s vs main {main:,.0f}/s (×{rate / main:.2f}); "
            f"CPU {this_cpu:.1f} vs {main_cpu:.1f} µs per measurement (×{main_cpu / this_cpu:.2f})"
        )
    best = max((_median_rate(figures[n]) for n in RUNS if n != "main" and figures[n]), default=0)
    if best:
        verdict = "reached" if best >= TARGET_PER_S else "NOT reached"
        lines.append(
            f"target ≥ {TARGET_PER_S:,} measurements/s: {verdict} ({best / TARGET_PER_S:.0%}, "
            f"best median of this tree); decode alone on one core is {values / decode_s / best:.1f}"
            "× it"
        )
    return lines + memory


def _memory_lines(tmp: Path, base: Path | None) -> list[str]:
    """Peak RSS of one replay per tree at each of ``RSS_MINUTES`` (order alternating); this
    tree's with ``--jobs 1`` (the sum of its processes' peaks with more)."""
    peaks: dict[str, list[ReplayFigure]] = {"main": [], THIS_ONE: []}
    for index, minutes in enumerate(RSS_MINUTES):
        path = tmp / f"rss-{minutes}.hj212"
        replay_fraction.write_fraction(path, RSS_DEVICES, minutes)
        for name in ["main", THIS_ONE] if index % 2 == 0 else [THIS_ONE, "main"]:
            ours, jobs = RUNS[name]
            tree = ROOT if ours else base
            if tree is not None:
                peaks[name].append(_replay(tree, path, RSS_DEVICES, jobs))
    lines = [f"memory: {RSS_DEVICES} devices × {'/'.join(map(str, RSS_MINUTES))} minutes"]
    for name in ("main", THIS_ONE):
        if not peaks[name]:
            continue
        shown = "; ".join(
            f"{minutes} min ({f.measurements:,} values) peak RSS {f.peak_rss_mib:,.0f} MiB "
            f"(interpreter + registry before it {f.rss_before_mib:,.0f} MiB)"
            for minutes, f in zip(RSS_MINUTES, peaks[name], strict=True)
        )
        growth = peaks[name][-1].peak_rss_mib - peaks[name][0].peak_rss_mib
        lines.append(f"{name}: {shown}; growth {growth:+,.0f} MiB")
    return lines


def _decode_seconds(path: Path) -> float:
    """Seconds to decode every frame of ``path`` once (receive time and TAB cut off)."""
    frames = [line.split(b"\t", 1)[-1] for line in path.read_bytes().splitlines()]
    started = time.perf_counter()
    for frame in frames:
        with suppress(DecodeError):
            decode(frame)
    return time.perf_counter() - started


def _replay(
    tree: Path, path: Path, devices: int = replay_fraction.REPLAY_DEVICES, jobs: int | None = None
) -> ReplayFigure:
    """One replay of ``path`` by the ``streams.replay`` of ``tree``, in a fresh interpreter
    (``jobs``: ``--jobs`` of ``replay_fraction``, this tree only)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "BENCH_PIPELINE_DEVICES": str(devices)}
    script = str(Path(replay_fraction.__file__).resolve())
    extra = [] if jobs is None else ["--jobs", str(jobs)]
    done = subprocess.run(
        [sys.executable, script, "--input", str(path), *extra],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return ReplayFigure(**json.loads(done.stdout.splitlines()[0]))


@contextmanager
def _base_tree(tmp: Path) -> Iterator[tuple[Path | None, str]]:
    """Main's tree: ``BENCH_REPLAY_BASE``, else ``git archive`` of ``BENCH_REPLAY_BASE_REF``."""
    if BASE_DIR:
        yield Path(BASE_DIR), BASE_DIR
        return
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", BASE_REF],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        yield None, f"none (git archive {BASE_REF}: {archive.stderr.decode().strip()[:80]})"
        return
    target = tmp / "base"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", BASE_REF],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    yield target, f"git archive {BASE_REF} ({commit})"


def _median_rate(figures: list[ReplayFigure]) -> float:
    return median(f.rate for f in figures)


def _median_cpu(figures: list[ReplayFigure]) -> float:
    return median(f.cpu_seconds / f.measurements * 1e6 for f in figures)
