"""Periodic work inside the workers: each task runs every `interval` seconds on exactly one worker at a time.

Why in the workers and not a cron: workers are already running wherever prguard runs, stateless and
interchangeable; a separate scheduler process would be one more thing to deploy and to keep single. Any
number of workers on any number of machines run a `Scheduler`; two Redis keys per task make it safe:

    {prefix}:sched:{task}:lock   SET NX PX lease, value = the holder; renewed while the task runs, deleted
                                 (only by its holder) when it ends; expires by itself if the holder dies
    {prefix}:sched:{task}:slot   SET NX PX interval: the task ran in the current interval; the next run is
                                 due when it expires

A worker takes the lock first, then the slot: a task is never run by two workers at once (lock), and at most
once per interval across the fleet (slot). A run that raises or exceeds its timeout is logged and cancelled;
the next interval runs it again. Every run is logged (`schedule.run`: task, holder, seconds, outcome).
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

# KEYS: 1 lock. ARGV: 1 holder, 2 lease ms. Extends the lock only while `holder` still owns it.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: 1 lock. ARGV: 1 holder. Deletes the lock only while `holder` still owns it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


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
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def _key(self, task: PeriodicTask, kind: str) -> str:
        return f"{self.prefix}:sched:{task.name}:{kind}"

    async def run(self, stop: asyncio.Event) -> None:
        """Run due tasks until `stop` is set (a task still running is then cancelled, its lock released)."""
        if not self.tasks:
            return
        log.info("schedule.start", holder=self.holder, tasks={t.name: t.interval for t in self.tasks})
        while not stop.is_set():
            await self.run_due()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.tick)

    async def run_due(self) -> list[str]:
        """One pass: every task that is due and not running elsewhere runs here, concurrently; returns their
        names. Redis errors are logged (the next pass tries again)."""
        ran = await asyncio.gather(*(self._maybe_run(task) for task in self.tasks))
        return [task.name for task, did in zip(self.tasks, ran, strict=True) if did]

    async def _maybe_run(self, task: PeriodicTask) -> bool:
        lock, lease_ms = self._key(task, "lock"), int(task.limit * 1000) + 5000
        try:
            if not await self.redis.set(lock, self.holder, nx=True, px=lease_ms):
                return False  # running on another worker right now
            if not await self.redis.set(self._key(task, "slot"), self.holder, nx=True,
                                        px=max(1, int(task.interval * 1000))):
                await self._release(keys=[lock], args=[self.holder])
                return False  # already ran in this interval
        except (RedisError, OSError) as exc:
            log.warning("schedule.redis_error", task=task.name, holder=self.holder, error=scrub(repr(exc)))
            return False
        renewer = asyncio.create_task(self._keep(lock, lease_ms))
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
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):  # `_keep` logs its own
                await renewer
            with contextlib.suppress(RedisError, OSError):  # expires by itself within the lease otherwise
                await self._release(keys=[lock], args=[self.holder])
            level = log.info if outcome == "ok" else log.warning
            level("schedule.run", task=task.name, holder=self.holder, outcome=outcome,
                  seconds=round(time.monotonic() - started, 3))
        return True

    async def _keep(self, lock: str, lease_ms: int) -> None:
        """Renew the lock every third of its lease while the task runs."""
        while True:
            await asyncio.sleep(lease_ms / 3000)
            try:
                await self._renew(keys=[lock], args=[self.holder, lease_ms])
            except (RedisError, OSError) as exc:
                log.warning("schedule.renew_failed", lock=lock, holder=self.holder, error=scrub(repr(exc)))
