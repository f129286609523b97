"""Post the simulated energy management systems' data to the energy API (httpx, asyncio).

``post_energy(schedule, api, start, hours, speed)`` walks simulated time in 15-minute steps,
paced so that ``speed`` simulated seconds pass per wall second, and posts what
``EnergySchedule.posts`` says, each request with its enterprise's key; like a real 接入端 it
resends a request until it is acknowledged (202), backing off, and counts what it sent.
Blocks until the span is done or ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from ingest.simulator.energy import STEP, EnergySchedule, Post


@dataclass(slots=True)
class PosterStats:
    requests: Counter[str] = field(default_factory=Counter)
    items: int = 0
    refused: int = 0
    resends: int = 0


async def post_energy(
    schedule: EnergySchedule,
    api: str,
    start: datetime,
    hours: float,
    speed: float,
    stop: asyncio.Event,
) -> PosterStats:
    stats = PosterStats()
    wall0 = time.monotonic()
    steps = int(timedelta(hours=hours) / STEP)
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        for step in range(steps + 1):
            at = start + step * STEP
            delay = wall0 + (at - start).total_seconds() / speed - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    return stats
                except TimeoutError:
                    pass
            if stop.is_set():
                return stats
            for post in schedule.posts(at):
                await _send(client, post, stats, stop)
    return stats


async def _send(
    client: httpx.AsyncClient, post: Post, stats: PosterStats, stop: asyncio.Event
) -> None:
    pause = 0.2
    while not stop.is_set():
        try:
            reply = await client.post(
                post.path, json=post.body, headers={"Authorization": f"Bearer {post.key}"}
            )
        except httpx.HTTPError:
            reply = None
        if reply is not None and reply.status_code == 202:
            body = reply.json()
            stats.requests[post.path] += 1
            stats.items += int(body["accepted"])
            stats.refused += int(body["refused"])
            return
        if reply is not None and 400 <= reply.status_code < 500:
            stats.requests[f"{post.path} {reply.status_code}"] += 1
            return  # a client error: resending the same body cannot help
        stats.resends += 1
        await asyncio.sleep(pause)
        pause = min(pause * 2, 5.0)
