"""Test `Handler`s: real implementations of the protocol that record what the worker asked of them."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

from redis.asyncio import Redis

from bot.runtime.envelope import Envelope as Job
from bot.runtime.envelope import IsCurrent


@dataclass
class RecordingHandler:
    """Records every call. `fail_with` makes `process` raise; `sleep` makes it take that long first."""

    sleep: float = 0.0
    fail_with: str | None = None
    fail_times: int | None = None          # raise only for the first N calls (None = always, with fail_with)
    calls: list[tuple[str, str, int]] = field(default_factory=list)   # (method, delivery_id, attempt)
    fail_reasons: list[str] = field(default_factory=list)
    current_after_sleep: list[bool] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def process(self, job: Job, is_current: IsCurrent) -> None:
        self.calls.append(("process", job.delivery_id, job.attempt))
        self.started.set()
        if self.sleep:
            await asyncio.sleep(self.sleep)
        self.current_after_sleep.append(await is_current())
        processed = sum(1 for c in self.calls if c[0] == "process")
        if self.fail_with and (self.fail_times is None or processed <= self.fail_times):
            raise RuntimeError(self.fail_with)

    async def fail(self, job: Job, reason: str) -> None:
        self.calls.append(("fail", job.delivery_id, job.attempt))
        self.fail_reasons.append(reason)

    async def cancel(self, job: Job, newer_version: str = "") -> None:
        self.calls.append(("cancel", job.delivery_id, job.attempt))

    def methods(self, delivery_id: str | None = None) -> list[str]:
        return [c[0] for c in self.calls if delivery_id is None or c[1] == delivery_id]


class RedisLogHandler:
    """For worker subprocesses: appends `method:delivery:attempt:pid` to the list `{prefix}:test-log` so the
    test (another process) can see what happened, and sleeps `sleep` seconds inside `process`."""

    def __init__(self, redis: Redis, prefix: str, sleep: float, in_thread: bool = False) -> None:
        self.redis = redis
        self.key = f"{prefix}:test-log"
        self.sleep = sleep
        self.in_thread = in_thread    # sleep in a thread, like a scan: cancelling the job cannot stop it

    async def _record(self, what: str, job: Job) -> None:
        await self.redis.rpush(self.key, f"{what}:{job.delivery_id}:{job.attempt}:{os.getpid()}")  # type: ignore[misc]

    async def process(self, job: Job, is_current: IsCurrent) -> None:
        await self._record("start", job)
        if self.in_thread:
            await asyncio.to_thread(time.sleep, self.sleep)
        else:
            await asyncio.sleep(self.sleep)
        await self._record("done", job)

    async def fail(self, job: Job, reason: str) -> None:
        await self._record("fail", job)

    async def cancel(self, job: Job, newer_version: str = "") -> None:
        await self._record("cancel", job)
