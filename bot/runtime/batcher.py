"""Enqueue batching for the receiver: the deliveries that reach Redis in the same event-loop turn share one
pipeline (one write, one read) instead of a round trip each — what ioredis calls auto-pipelining.

Why: under load the receiver's CPU went mostly to redis-py's per-command machinery (taking a pooled
connection, a write, a read, giving it back: ~40 % of a delivery's CPU in a py-spy profile), not to the
work Redis does. Batching changes nothing a delivery can observe: Redis runs the scripts one after another,
each atomic on its own, and every delivery gets its own reply or its own error, exactly as with a call of
its own. A delivery waits at most one loop turn for its batch to leave; a batch does not wait for the one
before it, so one slow reply holds up only the deliveries in its own batch.

On a Redis Cluster (whose pipelines refuse EVALSHA) calls go one by one, as `JobQueue.enqueue_all` does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.runtime.envelope import Envelope
from bot.runtime.queue import JobQueue

Call = tuple[list[str], list[Any]]


class EnqueueBatcher:
    """`enqueue_all` with the semantics of `JobQueue.enqueue_all`, batched across concurrent callers."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self.direct = isinstance(queue.redis, RedisCluster)
        self._pending: list[tuple[Call, asyncio.Future[Any]]] = []
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()  # strong references: the loop keeps only weak ones

    async def enqueue_all(self, envelopes: list[Envelope]) -> list[bool]:
        """Whether each envelope was queued (False: its dedupe key was seen before); raises redis errors."""
        if self.direct:
            return await self.queue.enqueue_all(envelopes)
        loop = asyncio.get_running_loop()
        futures = []
        for envelope in envelopes:
            future: asyncio.Future[Any] = loop.create_future()
            self._pending.append((self.queue.enqueue_call(envelope), future))
            futures.append(future)
        if not self._scheduled:  # the first of this turn starts the batch's task; it runs once the turn ends
            self._scheduled = True
            task = loop.create_task(self._send())
            self._running.add(task)
            task.add_done_callback(self._sent)
        if len(futures) == 1:  # the receiver's case
            return [(await futures[0]) is not None]
        results = await asyncio.gather(*futures)  # every future retrieved, even when one fails
        return [result is not None for result in results]

    async def _send(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        await self._run(batch)

    def _sent(self, task: asyncio.Task[None]) -> None:
        """A batch task cancelled before its first step never took its batch: fail those deliveries (503)
        and let the next one start a batch, rather than leave every later delivery waiting."""
        self._running.discard(task)
        if task.cancelled() and self._scheduled:
            self._scheduled = False
            batch, self._pending = self._pending, []
            for _, future in batch:
                if not future.done():
                    future.set_exception(RedisConnectionError("the enqueue was cancelled"))

    async def _run(self, batch: list[tuple[Call, asyncio.Future[Any]]]) -> None:
        try:
            results = await self.queue.run_enqueue_calls([call for call, _ in batch])
        except BaseException as exc:  # the round trip failed: every caller of the batch gets the error
            cancelled = isinstance(exc, asyncio.CancelledError)  # (a shutdown): an answer of 503 each
            error = RedisConnectionError("the enqueue was cancelled") if cancelled else exc
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            if cancelled:
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller gave up waiting (its own deadline): nothing to tell it
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
