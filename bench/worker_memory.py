"""The real worker's resident memory, this tree beside another, in the same run.

``python -m bench.worker_memory [--base DIR] [--rounds N] [--env NAME=VALUE ...]`` runs
``greenwatch worker`` (the real command, as ``python -m bench pipeline`` does) on the local
stack's Kafka and PostgreSQL with the pipeline benchmark's fleet (``BENCH_PIPELINE_DEVICES``
devices × ``BENCH_PIPELINE_FRAMES_PER_DEVICE`` minute frames × 8 factors), once per tree and
round, alternating which tree goes first: fresh topics and a fresh migrated schema each time,
the worker started on empty topics, the backlog produced, drained. Prints per run the
worker's RSS (``VmRSS``) once it serves its metrics with the registry loaded and nothing
received ("idle"), after the drain (the figure ``python -m bench pipeline`` prints as "worker
RSS"), and the peak (``VmHWM``).

``--base DIR``: another checkout (e.g. ``git worktree add --detach /tmp/base main``), run with
``PYTHONPATH=DIR`` and this virtualenv. ``--env``: a variable set for this tree's worker only
(e.g. ``MALLOC_ARENA_MAX=2``), to measure a process setting against the same code without it.
Needs ``greenwatch stack up``; the machine is shared, so only memory is compared, never time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench import pipeline_fleet
from bench.bench_pipeline import (
    _drain,
    _free_port,
    _memory,
    _metric,
    _produce,
    _schemas,
    _start_worker,
    _topics,
)
from bench.db import unreachable
from bench.kafka import service_env
from runtime.kafka_access import Principal
from runtime.settings import Settings, database_dsn
from schemas.registry import dump_registry

IDLE_WAIT_S = 600.0


def _run_one(
    tree: str | None, env: dict[str, str], registry_file: Path, tmp: Path, schema: str
) -> tuple[float, float, float]:
    """(idle RSS, RSS after the drain, peak) in MiB of one worker of ``tree`` (None: this)."""
    settings = Settings()
    login = service_env(settings, Principal.WORKER)
    backlog = [
        pipeline_fleet.frame(mn, at, at + timedelta(seconds=3))
        for mn, at in pipeline_fleet.backlog_times()
    ]
    saved = dict(os.environ)
    os.environ.pop("PYTHONPATH", None)
    if tree is not None:
        os.environ["PYTHONPATH"] = tree
    os.environ.update(env)
    try:
        with _topics(settings) as (kafka, prefix):
            port = _free_port()
            worker = _start_worker(login, schema, prefix, registry_file, port, tmp)
            try:
                deadline = time.monotonic() + IDLE_WAIT_S
                while _metric(port, "process_resident_memory_bytes") == 0.0:
                    if worker.poll() is not None or time.monotonic() > deadline:
                        log = (tmp / "worker.log").read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"worker did not start (exit {worker.poll()}): {log}")
                    time.sleep(0.2)
                time.sleep(3.0)  # joined the group, partitions assigned
                idle, _ = _memory(worker.pid)
                _produce(kafka, prefix, backlog)
                _drain([port], [worker], len(backlog) * 8)
                rss, peak = _memory(worker.pid)
            finally:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:  # a worker still starting may not stop
                    worker.kill()
                    worker.wait(timeout=30)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return idle, rss, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.worker_memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--base", type=Path, help="another tree to run beside this one")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    dsn = database_dsn(Settings())
    if missing := unreachable(dsn):
        print(missing[0], file=sys.stderr)
        return 2
    trees: list[tuple[str, str | None, dict[str, str]]] = [("this", None, env)]
    if args.base is not None:
        trees.append((f"base {args.base}", str(args.base.resolve()), {}))
    elif env:
        trees.append(("this without --env", None, {}))
    print(
        f"fleet: {pipeline_fleet.DEVICES} devices × {pipeline_fleet.FRAMES_PER_DEVICE} minutes "
        f"× 8 factors; --env {env or 'none'}"
    )
    with tempfile.TemporaryDirectory(prefix="gw-rss-") as tmp, _schemas(dsn) as schema:
        registry_file = Path(tmp) / "registry.yaml"
        registry_file.write_text(dump_registry(pipeline_fleet.registry()), "utf-8")
        for round_ in range(args.rounds):
            order = trees if round_ % 2 == 0 else list(reversed(trees))
            for name, tree, tree_env in order:
                run_dir = Path(tmp) / f"r{round_}-{len(name)}"
                idle, rss, peak = _run_one(tree, tree_env, registry_file, run_dir, schema())
                print(
                    f"round {round_ + 1} {name}: RSS idle {idle:.0f} MiB, after the drain "
                    f"{rss:.0f} MiB, peak {peak:.0f} MiB",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
