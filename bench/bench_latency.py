"""p99 event → verdict at ``PACED_RATE`` measurements/s, this tree beside a base tree, with
where the time goes (issue 15, p99 slice).

Each round: fresh topics and a fresh schema migrated by the round's tree, a backlog of
``FRAMES_PER_DEVICE`` minute frames for each of the paced devices drained by one
``greenwatch worker`` of that tree (figure: measurements/s, the throughput baseline of the
same run), then the pipeline benchmark's paced run (``bench.bench_pipeline._paced``):
latency = the verdict's timestamp on the ``verdicts`` topic − the send time of the frame
that closed its hour. Rounds alternate the trees (base, this, this, base, …) so that load
from elsewhere on the shared machine falls on both alike; the summary gives the medians.
The stages of this tree's worker (``bench.pipeline_stages``) are printed per round.

Settings: ``BENCH_LATENCY_BASE`` a checkout of the base (e.g. ``git worktree add --detach
/tmp/base main``; without it only this tree runs, one round per repetition),
``BENCH_LATENCY_ROUNDS`` (repetitions of base, this, this, base; default 2), and the
pipeline benchmark's ``BENCH_PIPELINE_PACED_DEVICES`` (1 000),
``BENCH_PIPELINE_PACED_RATE`` and ``BENCH_PIPELINE_PACED_S`` (the registry holds the whole
fleet, ``BENCH_PIPELINE_DEVICES``). Needs the local stack (``greenwatch stack up``).
Nothing asserts a time.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from statistics import median

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench import bench_pipeline, pipeline_fleet, pipeline_stages
from bench.cpu_budget import cpu_seconds
from bench.db import unreachable
from bench.kafka import service_env
from bench.trees import compared
from deploy.timescaledb import drop_schema
from runtime.kafka_access import Principal
from runtime.settings import Settings, database_dsn
from schemas.registry import dump_registry

BASE = os.environ.get("BENCH_LATENCY_BASE", "")
ROUNDS = int(os.environ.get("BENCH_LATENCY_ROUNDS", "2"))
HERE = Path(__file__).resolve().parents[1]
_MIGRATE = (
    "import sys, psycopg\n"
    "from deploy.migrate import migrate\n"
    "with psycopg.connect(sys.argv[1], autocommit=True) as conn:\n"
    "    migrate(conn)\n"
)


@dataclass(frozen=True, slots=True)
class Round:
    tree: str
    drained: float
    p50_ms: float
    p99_ms: float
    verdicts: int
    stages: list[str]
    cpu_s: float
    """The worker's CPU seconds (user + system) during the paced run."""


def run() -> list[str]:
    settings = Settings()
    dsn = database_dsn(settings)
    if missing := unreachable(dsn):
        return missing
    trees, order = compared(HERE, BASE)
    rounds: list[Round] = []
    lines = [
        f"fleet: {bench_pipeline.PACED_DEVICES} devices × {pipeline_fleet.FRAMES_PER_DEVICE} "
        f"frames drained, then {bench_pipeline.PACED_RATE:,.0f} measurements/s for "
        f"{bench_pipeline.PACED_S:.0f} s; base: {BASE or 'none (BENCH_LATENCY_BASE unset)'}"
    ]
    with tempfile.TemporaryDirectory(prefix="gw-latency-") as tmp:
        for index in range(ROUNDS):
            for step, name in enumerate(order if index % 2 == 0 else order[::-1]):
                where = Path(tmp) / f"r{index}-{step}-{name}"
                measured = _round(settings, dsn, name, trees[name], where)
                print(f"   (round {index}.{step} {name}: p99 {measured.p99_ms:,.0f} ms)",
                      file=sys.stderr, flush=True)  # fmt: skip
                rounds.append(measured)
                lines.append(
                    f"{name}: drained {measured.drained:,.0f} measurements/s; event → verdict "
                    f"({measured.verdicts} verdicts) p50 {measured.p50_ms:,.0f} ms, "
                    f"p99 {measured.p99_ms:,.0f} ms; worker CPU in the paced run "
                    f"{measured.cpu_s:.1f} s"
                )
                lines.extend(measured.stages if name == "this" else [])
    for name in trees:
        mine = [r for r in rounds if r.tree == name]
        lines.append(
            f"median of {len(mine)} {name} rounds: p99 {median(r.p99_ms for r in mine):,.0f} ms,"
            f" p50 {median(r.p50_ms for r in mine):,.0f} ms, drained"
            f" {median(r.drained for r in mine):,.0f} measurements/s, worker CPU in the paced run"
            f" {median(r.cpu_s for r in mine):.1f} s"
        )
    return lines


def _round(settings: Settings, dsn: str, name: str, tree: Path, tmp: Path) -> Round:
    tmp.mkdir(parents=True)
    registry_file = tmp / "registry.yaml"
    registry_file.write_text(dump_registry(pipeline_fleet.registry()), "utf-8")
    paced = {pipeline_fleet.mn(index) for index in range(bench_pipeline.PACED_DEVICES)}
    backlog = [
        pipeline_fleet.frame(mn, at, at + timedelta(seconds=3))
        for mn, at in pipeline_fleet.backlog_times()
        if mn in paced
    ]
    login = service_env(settings, Principal.WORKER)
    with _schema(dsn, tree) as schema, bench_pipeline._topics(settings) as (kafka, prefix):
        bench_pipeline._produce(kafka, prefix, backlog)
        port = bench_pipeline._free_port()
        worker = bench_pipeline._start_worker(
            login, schema, prefix, registry_file, port, tmp, tree=tree
        )
        try:
            drained, _, _ = bench_pipeline._drain([port], [worker], len(backlog) * 8)
            before = pipeline_stages.parse(bench_pipeline._scrape(port))
            cpu_before = cpu_seconds(worker.pid)
            latencies = bench_pipeline._paced(kafka, prefix)
            cpu = cpu_seconds(worker.pid) - cpu_before
            after = pipeline_stages.parse(bench_pipeline._scrape(port))
        finally:
            worker.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(timeout=30)
    return Round(
        name,
        drained,
        bench_pipeline._quantile(latencies, 0.5),
        bench_pipeline._quantile(latencies, 0.99),
        len(latencies),
        pipeline_stages.describe(pipeline_stages.between(before, after)),
        cpu,
    )


@contextlib.contextmanager
def _schema(dsn: str, tree: Path) -> Iterator[str]:
    """A fresh schema migrated by ``tree``'s own migrations (its DSN); dropped on exit."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    scoped = make_conninfo(dsn, options=f"-c search_path={name},public")
    try:
        subprocess.run(
            [sys.executable, "-c", _MIGRATE, scoped],
            env={**os.environ, "PYTHONPATH": str(tree)},
            cwd=tree,
            check=True,
            capture_output=True,
        )
        yield scoped
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            drop_schema(conn, name)
