"""One simulation run: province + episodes + scripts + fleet, with a periodic summary line.

Used by ``greenwatch simulate`` and by the ingest demo. ``default_start`` is today 00:00 China
time (the brief's default); ``write_registry`` writes the province's registry YAML.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ingest.hj212 import CHINA_TZ
from ingest.simulator.episodes import Episode, EpisodeBook, parse_episodes, plan_episodes
from ingest.simulator.fleet import Fleet, FleetConfig, FleetStats
from ingest.simulator.profiles import load_profiles
from ingest.simulator.province import Province
from ingest.simulator.script import DeviceScript
from schemas.registry import dump_registry


def default_start(now: datetime | None = None) -> datetime:
    """Today 00:00 in China time (UTC+8)."""
    local = (now or datetime.now(CHINA_TZ)).astimezone(CHINA_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def write_registry(province: Province, path: Path) -> None:
    """Write the province's registry (schemas.registry YAML, password digests only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Registry of the simulated province (greenwatch simulate --seed {province.seed}).\n"
        "# Device passwords are stored as sha256(MN:PW); the simulator regenerates them "
        "from the seed.\n"
    )
    path.write_text(header + dump_registry(province.registry), "utf-8")


def choose_episodes(spec: str, province: Province, hours: float | None) -> list[Episode]:
    """``auto``: a seeded plan over ``hours`` (a day when unbounded); ``none``: no episode;
    anything else: parsed as ``--episodes`` syntax (raises ``EpisodeSpecError``)."""
    if spec == "none":
        return []
    if spec == "auto":
        return plan_episodes(province.devices, province.seed, hours or 24.0)
    return parse_episodes(spec)


@dataclass(frozen=True, slots=True)
class SimulationOptions:
    """``realtime_interval_s``: seconds between CN 2011 frames of real-time devices;
    ``summary_interval_s``: wall seconds between summary lines (None: none)."""

    realtime_interval_s: int = 30
    summary_interval_s: float | None = None


async def simulate(
    province: Province,
    episodes: list[Episode],
    config: FleetConfig,
    options: SimulationOptions | None = None,
    on_summary: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
) -> FleetStats:
    """Drive the province's devices against the gateway at ``config.host:port``."""
    options = options or SimulationOptions()
    profiles = load_profiles()
    book = EpisodeBook(episodes, province.devices)
    scripts = [
        DeviceScript(d, province.seed, config.start, book, profiles, options.realtime_interval_s)
        for d in province.devices
    ]
    fleet = Fleet(config, scripts, book)
    reporter = None
    if options.summary_interval_s and on_summary is not None:
        reporter = asyncio.create_task(
            _report(fleet, len(scripts), options.summary_interval_s, on_summary)
        )
    try:
        return await fleet.run(stop)
    finally:
        if reporter is not None:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter


async def _report(
    fleet: Fleet, devices: int, interval_s: float, emit: Callable[[str], None]
) -> None:
    last_sent, last_at = 0, time.monotonic()
    while True:
        await asyncio.sleep(interval_s)
        now = time.monotonic()
        emit(fleet_line(fleet, devices, (fleet.stats.frames_sent - last_sent) / (now - last_at)))
        last_sent, last_at = fleet.stats.frames_sent, now


def fleet_line(fleet: Fleet, devices: int, rate: float) -> str:
    """One summary line of the fleet."""
    stats = fleet.stats
    sim_now = (fleet.config.start + timedelta(minutes=stats.sim_minutes)).astimezone(CHINA_TZ)
    answers = ", ".join(f"QnRtn={k} {v}" for k, v in sorted(stats.answers.items())) or "none"
    corrupted = sum(stats.corrupted.values())
    backfilled = sum(stats.backfilled.values())
    return (
        f"sim {sim_now:%Y-%m-%d %H:%M} | sent/s {rate:,.0f} | sent {stats.frames_sent:,} "
        f"(2051 {stats.sent['2051']:,}, 2061 {stats.sent['2061']:,}, "
        f"2011 {stats.sent['2011']:,}; re-sent {backfilled:,}) | acks {stats.acks:,} | "
        f"refused: {answers} | "
        f"connected {stats.connected}/{devices} | corrupted {corrupted} | "
        f"dropped by gateway {stats.closed_by_gateway}"
    )
