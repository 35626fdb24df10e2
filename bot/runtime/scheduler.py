"""Periodic work inside the workers: each task runs every `interval` seconds on exactly one worker at a time.

Why in the workers and not a cron: workers are already running wherever prguard runs, stateless and
interchangeable; a separate scheduler process would be one more thing to deploy and to keep single. Any
number of workers on any number of machines run a `Scheduler`; two Redis keys per task make it safe:

    {prefix}:sched:{task}:lock   held while the task runs (value: the holder), with a lease of the task's
                                 time limit plus a margin, deleted by its holder when the run ends; a
                                 holder that dies mid-run loses it when the lease expires
    {prefix}:sched:{task}:slot   set for `interval` when a run starts: the next run is due when it expires

A worker takes both in one script, only when neither is held: a task is never run by two workers at once
(lock), and at most once per interval across the fleet (slot). A run longer than its time limit is
cancelled before its lease can expire, so no renewal is needed. Each due task runs as its own asyncio task,
so a long one never delays the others on the same worker. A run that raises or times out is logged; the next
interval runs it again. Every run is logged (`schedule.run`: task, holder, seconds, outcome).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.log import get_logger, scrub

log = get_logger("prguard.scheduler")

# KEYS: 1 lock, 2 slot. ARGV: 1 holder, 2 lease ms, 3 interval ms. 1 when both were taken, else 0.
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return 1
"""
# KEYS: 1 lock. ARGV: 1 holder. Deletes the lock only while `holder` still owns it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
#: seconds of lease beyond a task's time limit (the run is cancelled at the limit, well before the lease)
LEASE_MARGIN = 5.0


@dataclass(frozen=True)
class PeriodicTask:
    """Work run every `interval` seconds on one worker at a time."""

    name: str
    interval: float
    run: Callable[[], Awaitable[None]]
    #: longest a run may take before it is cancelled; default: the interval (at least 10 s)
    timeout: float | None = None

    @property
    def limit(self) -> float:
        return self.timeout if self.timeout is not None else max(self.interval, 10.0)


class Scheduler:
    """Runs `tasks` when due (see the module docstring). `holder` names this worker in the lock and logs."""

    def __init__(self, redis: Redis, tasks: Sequence[PeriodicTask], *, holder: str, prefix: str = "prguard",
                 tick: float = 1.0) -> None:
        self.redis = redis
        self.tasks = list(tasks)
        self.holder = holder
        self.prefix = prefix
        self.tick = tick
        self.running: dict[str, asyncio.Task[None]] = {}
        self._take = redis.register_script(_TAKE)
        self._release = redis.register_script(_RELEASE)

    def _key(self, task: PeriodicTask, kind: str) -> str:
        return f"{self.prefix}:sched:{task.name}:{kind}"

    async def run(self, stop: asyncio.Event) -> None:
        """Start due tasks until `stop` is set; then cancel runs still going (their locks are released)."""
        if not self.tasks:
            return
        log.info("schedule.start", holder=self.holder, tasks={t.name: t.interval for t in self.tasks})
        try:
            while not stop.is_set():
                await self.start_due()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.tick)
        except Exception as exc:  # never stop scheduling silently
            log.error("schedule.crashed", holder=self.holder, error=scrub(repr(exc))[:500], exc_info=True)
            raise
        finally:
            running = list(self.running.values())
            for run in running:
                run.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def start_due(self) -> list[str]:
        """Start every task that is due, not running here and not running elsewhere; returns their names.
        Redis errors are logged (the next tick tries again)."""
        started: list[str] = []
        for task in self.tasks:
            if task.name in self.running:
                continue
            if await self._claim(task):
                run = asyncio.create_task(self._run(task), name=f"periodic-{task.name}")
                self.running[task.name] = run
                run.add_done_callback(lambda _r, name=task.name: self.running.pop(name, None))
                started.append(task.name)
        return started

    async def run_due(self) -> list[str]:
        """One pass that also waits for the runs it started (for tests and one-shot tools)."""
        started = await self.start_due()
        await asyncio.gather(*(self.running[n] for n in started if n in self.running), return_exceptions=True)
        return started

    async def _claim(self, task: PeriodicTask) -> bool:
        lease_ms = int((task.limit + LEASE_MARGIN) * 1000)
        try:
            taken = await self._take(keys=[self._key(task, "lock"), self._key(task, "slot")],
                                     args=[self.holder, lease_ms, max(1, int(task.interval * 1000))])
        except (RedisError, OSError) as exc:
            log.warning("schedule.redis_error", task=task.name, holder=self.holder, error=scrub(repr(exc)))
            return False
        return bool(taken)

    async def _run(self, task: PeriodicTask) -> None:
        started = time.monotonic()
        outcome = "ok"
        try:
            await asyncio.wait_for(task.run(), task.limit)
        except TimeoutError:
            outcome = f"timed out after {task.limit:g} s"
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:  # a task's failure is logged; the next interval runs it again
            outcome = scrub(f"{type(exc).__name__}: {exc}")[:500]
        finally:
            with contextlib.suppress(RedisError, OSError):  # otherwise it expires with its lease
                await self._release(keys=[self._key(task, "lock")], args=[self.holder])
            level = log.info if outcome == "ok" else log.warning
            level("schedule.run", task=task.name, holder=self.holder, outcome=outcome,
                  seconds=round(time.monotonic() - started, 3))
