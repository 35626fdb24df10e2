"""The scheduler on a real Redis: two workers, one run at a time, once per interval, failures logged."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest
from redis.asyncio import Redis

from bot.runtime.scheduler import PeriodicTask, Scheduler


class Probe:
    """A task body that records who ran it and when, and how many ran at once (never more than one)."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.running = 0
        self.most_at_once = 0
        self.runs: list[tuple[str, float, float]] = []  # (holder, start, end)

    def task_for(self, holder: str):
        async def run() -> None:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            started = time.monotonic()
            try:
                await asyncio.sleep(self.duration)
            finally:
                self.running -= 1
                self.runs.append((holder, started, time.monotonic()))
        return run


async def test_two_workers_run_a_periodic_task_one_at_a_time(redis_url: str, redis_prefix: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """Each worker has its own Redis client, as two processes on two machines would."""
    caplog.set_level(logging.INFO, logger="prguard.scheduler")
    probe = Probe(duration=0.15)
    interval = 0.25
    clients = [Redis.from_url(redis_url) for _ in range(2)]
    schedulers = [
        Scheduler(client, [PeriodicTask("probe", interval, probe.task_for(name))], holder=name,
                  prefix=redis_prefix, tick=0.02)
        for client, name in zip(clients, ("worker-a", "worker-b"), strict=True)
    ]
    stop = asyncio.Event()
    runners = [asyncio.create_task(s.run(stop)) for s in schedulers]
    await asyncio.sleep(2.0)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*runners), 5)
    for client in clients:
        await client.aclose()

    assert probe.most_at_once == 1, probe.runs
    # about one run per interval over 2 s (never two in one interval): 2.0 / 0.25 = 8 slots at most
    assert 4 <= len(probe.runs) <= 9, probe.runs
    starts = sorted(start for _holder, start, _end in probe.runs)
    assert all(b - a >= interval * 0.9 for a, b in itertools.pairwise(starts)), starts
    ordered = sorted(probe.runs, key=lambda r: r[1])
    assert all(prev[2] <= nxt[1] for prev, nxt in itertools.pairwise(ordered)), ordered
    logged = [r for r in caplog.records if r.getMessage() == "schedule.run"]
    assert len(logged) == len(probe.runs)
    assert {getattr(r, "outcome", None) for r in logged} == {"ok"}
    assert {getattr(r, "holder", None) for r in logged} <= {"worker-a", "worker-b"}


async def test_a_task_longer_than_its_interval_is_not_started_twice(redis: Redis, redis_prefix: str) -> None:
    """The lock, not the interval, keeps a slow run single: the second worker waits until it ends."""
    probe = Probe(duration=0.6)
    schedulers = [Scheduler(redis, [PeriodicTask("slow", 0.1, probe.task_for(name), timeout=5)], holder=name,
                            prefix=redis_prefix, tick=0.02) for name in ("a", "b")]
    stop = asyncio.Event()
    runners = [asyncio.create_task(s.run(stop)) for s in schedulers]
    await asyncio.sleep(1.5)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*runners), 5)
    assert probe.most_at_once == 1, probe.runs
    assert 2 <= len(probe.runs) <= 3, probe.runs


async def test_a_failing_or_hanging_task_is_logged_and_releases_its_lock(
    redis: Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="prguard.scheduler")

    async def boom() -> None:
        raise RuntimeError("advisory mirror unreachable")

    async def hang() -> None:
        await asyncio.sleep(30)

    tasks = [PeriodicTask("boom", 60, boom), PeriodicTask("hang", 60, hang, timeout=0.2)]
    scheduler = Scheduler(redis, tasks, holder="w", prefix=redis_prefix)
    assert sorted(await asyncio.wait_for(scheduler.run_due(), 5)) == ["boom", "hang"]
    outcomes = {r.task: r.outcome for r in caplog.records if r.getMessage() == "schedule.run"}  # type: ignore[attr-defined]
    assert outcomes == {"boom": "RuntimeError: advisory mirror unreachable", "hang": "timed out after 0.2 s"}
    assert not await redis.exists(f"{redis_prefix}:sched:boom:lock", f"{redis_prefix}:sched:hang:lock")
    # ran in this interval: not again until it passes
    assert await scheduler.run_due() == []



async def test_a_long_task_does_not_delay_another_on_the_same_worker(redis: Redis, redis_prefix: str) -> None:
    slow, quick = Probe(duration=2.0), Probe(duration=0.01)
    scheduler = Scheduler(redis, [PeriodicTask("slow", 0.1, slow.task_for("w"), timeout=5),
                                  PeriodicTask("quick", 0.2, quick.task_for("w"))],
                          holder="w", prefix=redis_prefix, tick=0.02)
    stop = asyncio.Event()
    runner = asyncio.create_task(scheduler.run(stop))
    await asyncio.sleep(1.5)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert len(quick.runs) >= 5, quick.runs  # every 0.2 s while the slow one held the worker's other slot
    assert slow.runs and slow.runs[0][2] - slow.runs[0][1] < 2.0  # cancelled at stop, lock released
    assert not await redis.exists(f"{redis_prefix}:sched:slow:lock")
