"""The worker runtime: reads envelopes from the stream and hands each to its feature's `Handler`, at
least once.

Why it owns retries and not the features: whatever a handler does (GitHub calls, scans), the same rules must
hold for all work, including when the process dies — an entry is acknowledged only after `handler.process`
returned, so a dead worker's work is reclaimed by another; work that keeps failing ends in the dead-letter
stream after the feature's `fail` closed what it had opened (a scan completes its check runs as failure), so
nothing stays "in progress" forever.

The life of one stream entry (`Worker._handle`)::

    no handler for envelope.feature -> retried like a failure (a newer worker may know it), then dead letter
    delivery count > max_attempts   -> handler.fail(env, reason); dead letter + XACK   (holder died mid-try)
    a newer version superseded it   -> handler.cancel(env, newer); XACK       (see JobQueue.newer_version)
    handler.process(env, is_current) returns -> XACK
    handler.process raises          -> stays pending; reclaimed after the visibility timeout by any worker;
                                       on the last attempt: handler.fail(env, reason); dead letter + XACK

`envelope.attempt` is the entry's delivery count (1 for the first try). `reason` is redacted (`bot.log.scrub`)
and at most 1,000 characters. If `handler.fail` itself raises, the entry stays pending and `fail` is retried
on the next reclaims (at most `max_attempts` more times) before the entry is dead-lettered anyway.

Running entries get a heartbeat every `visibility_timeout / 3` seconds (XCLAIM JUSTID by their owner), so work
that runs longer than the visibility timeout is not stolen. Handlers must not block the event loop (run CPU
work with `asyncio.to_thread` or in a subprocess), or the heartbeat stops and the entry is reclaimed
elsewhere; a worker whose heartbeat finds an entry reclaimed by another cancels its own copy (one runner per
entry).

Stopping (SIGTERM/SIGINT, or `stop.set()`): no new reads; running work gets `shutdown_grace` seconds
(PRGUARD_SHUTDOWN_GRACE, default 20, under Heroku's 30 s); what is still running is cancelled and handed back
(made reclaimable at once, not after the visibility timeout). An exception never stops the worker; a lost
Redis connection is retried with backoff.

Bounds (tell operators): the stream holds about PRGUARD_STREAM_MAXLEN entries (default 100,000, approximate
trimming); see bot/runtime/queue.py.

Embedding (tests, other runtimes)::

    worker = Worker(queue, {"scan": scan_handler, ...}, consumer=consumer_name(), concurrency=4,
                    visibility_timeout=120, max_attempts=3)
    await worker.run(stop_event)      # until stop_event is set
    await worker.run_once()           # one poll (reclaim + read) and its work to completion; returns count

`prguard worker` (bot/cli/worker.py) builds the handlers from `bot.features.router()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import string
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot import metrics
from bot.log import get_logger, scrub
from bot.runtime.entry import Entry
from bot.runtime.envelope import DELIVERY_FEATURE, Envelope, Handler
from bot.runtime.queue import JobQueue

log = get_logger("prguard.worker")

MAX_REASON = 1000
T = TypeVar("T")


def consumer_name() -> str:
    """hostname-pid-random: unique per process, and readable in XINFO CONSUMERS."""
    suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=6))
    return f"{socket.gethostname()}-{os.getpid()}-{suffix}"


def _context(entry: Entry | None) -> dict[str, Any]:
    """feature, event, delivery, repo, pr, head_sha of an entry's envelope, for every job-related log line."""
    return entry.envelope.log_context() if entry is not None and entry.envelope is not None else {}


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return scrub(text)[:MAX_REASON]


async def _retrying(operation: Callable[[], Awaitable[T]], delays: tuple[float, ...] = (0.2, 0.5, 1.0)) -> T:
    """Retry a Redis call across a short blip: a failed ack would make a finished job run again."""
    for delay in delays:
        try:
            return await operation()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            log.warning("worker.redis_retry", error=_reason(exc), retry_in=delay)
            await asyncio.sleep(delay)
    return await operation()


class Worker:
    """Runs envelopes from a `JobQueue` through their features' handlers (rules: the module docstring)."""

    def __init__(self, queue: JobQueue, handlers: Mapping[str, Handler], consumer: str | None = None,
                 concurrency: int = 4, visibility_timeout: float = 120.0, max_attempts: int = 3,
                 shutdown_grace: float = 20.0, block_ms: int = 1000,
                 reclaim_interval: float | None = None) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.consumer = consumer or consumer_name()
        self.concurrency = max(1, concurrency)
        self.visibility_timeout = visibility_timeout
        self.max_attempts = max(1, max_attempts)
        self.shutdown_grace = shutdown_grace
        self.block_ms = max(1, min(block_ms, int(visibility_timeout * 1000 / 3) or 1))
        #: seconds between XAUTOCLAIM sweeps of the service loop
        self.reclaim_interval = reclaim_interval or min(visibility_timeout / 2, 5.0)
        self.running: dict[str, asyncio.Task[None]] = {}
        self.entries: dict[str, Entry] = {}
        self._last_reclaim = 0.0

    # --- loop ---------------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Poll and run jobs until `stop` is set, then wind down within `shutdown_grace` seconds."""
        log.info("worker.start", consumer=self.consumer, concurrency=self.concurrency,
                 visibility_timeout=self.visibility_timeout, max_attempts=self.max_attempts)
        heartbeat = asyncio.create_task(self._heartbeat_loop())
        backoff = 0.5
        group_ready = False
        try:
            while not stop.is_set():
                try:
                    if not group_ready:
                        await self.queue.ensure_group()
                        group_ready = True
                    free = self.concurrency - len(self.running)
                    if free <= 0:
                        await self._wait_for_slot(stop)
                        continue
                    for entry in await self._poll(free, self.block_ms):
                        self._start(entry)
                    backoff = 0.5
                except Exception as exc:  # Redis down, or a bug: log, back off, keep serving
                    if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                        group_ready = False  # the stream was deleted: recreate it
                    redis_down = isinstance(exc, RedisError | OSError)
                    log.warning("worker.redis_error" if redis_down else "worker.poll_error",
                                consumer=self.consumer, error=_reason(exc), retry_in=backoff,
                                exc_info=not redis_down)
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            await self._wind_down()
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            try:
                await self.queue.remove_consumer(self.consumer)
            except (RedisError, OSError) as exc:  # only tidiness: XINFO CONSUMERS keeps a stale name
                log.warning("worker.remove_consumer_failed", consumer=self.consumer, error=_reason(exc))
            log.info("worker.stop", consumer=self.consumer)

    async def run_once(self, block_ms: int = 100) -> int:
        """One poll — reclaim stalled entries, read new ones — and run those jobs to completion.

        Returns how many entries were handled. For tests and one-shot tools (no heartbeat, no signal
        handling); `run` is the service loop.
        """
        await self.queue.ensure_group()
        entries = await self._poll(self.concurrency, block_ms, force_reclaim=True)
        tasks = [task for entry in entries if (task := self._start(entry)) is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    async def _poll(self, free: int, block_ms: int, force_reclaim: bool = False) -> list[Entry]:
        entries: list[Entry] = []
        now = time.monotonic()
        if force_reclaim or now - self._last_reclaim >= self.reclaim_interval:
            self._last_reclaim = now
            entries = await self.queue.reclaim(self.consumer, int(self.visibility_timeout * 1000), free)
            for entry in entries:
                log.info("job.reclaimed", consumer=self.consumer, entry_id=entry.entry_id,
                         attempt=entry.attempts, **_context(entry))
        if len(entries) < free:
            entries += await self.queue.read(self.consumer, free - len(entries),
                                             block_ms=0 if entries else block_ms)
        return entries

    def _start(self, entry: Entry) -> asyncio.Task[None] | None:
        if entry.entry_id in self.running:
            # our own running job came back (its heartbeat could not run in time): don't run it twice here
            log.warning("job.already_running", consumer=self.consumer, entry_id=entry.entry_id,
                        **_context(entry))
            return None
        task = asyncio.create_task(self._handle(entry), name=f"job-{entry.entry_id}")
        self.running[entry.entry_id] = task
        self.entries[entry.entry_id] = entry
        task.add_done_callback(lambda _t, eid=entry.entry_id: self._forget(eid))
        return task

    def _forget(self, entry_id: str) -> None:
        self.running.pop(entry_id, None)
        self.entries.pop(entry_id, None)

    async def _wait_for_slot(self, stop: asyncio.Event) -> None:
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopper, *self.running.values()], return_when=asyncio.FIRST_COMPLETED,
                               timeout=self.reclaim_interval)
        finally:
            stopper.cancel()

    async def _heartbeat_loop(self) -> None:
        interval = self.visibility_timeout / 3
        while True:
            await asyncio.sleep(interval)
            ids = list(self.running)
            if not ids:
                continue
            try:
                kept = set(await self.queue.heartbeat(self.consumer, ids))
                missing = [eid for eid in ids if eid not in kept]
                owners = await self.queue.owners(missing) if missing else {}
            except Exception as exc:  # the heartbeat must outlive any error
                log.warning("worker.heartbeat_failed", consumer=self.consumer, error=_reason(exc))
                continue
            for entry_id in missing:
                task = self.running.get(entry_id)
                if task is None or task.done():
                    continue  # finished (and acked) meanwhile
                owner = owners.get(entry_id)
                if owner is None:
                    # not pending anywhere: Redis restarted empty (no persistence). Nobody else has this job
                    # any more, so finish it: its results still get posted.
                    log.warning("job.entry_vanished", consumer=self.consumer, entry_id=entry_id,
                                **_context(self.entries.get(entry_id)))
                elif owner != self.consumer:
                    # Another worker reclaimed it (we stalled past the visibility timeout) and runs it now:
                    # stop our copy, so the two do not post over each other (one could even complete the
                    # runs as failure on its last attempt while the other is about to post results).
                    log.warning("job.ownership_lost", consumer=self.consumer, entry_id=entry_id, owner=owner,
                                action="cancelled here; the worker that reclaimed it finishes it",
                                **_context(self.entries.get(entry_id)))
                    task.cancel()

    async def _wind_down(self) -> None:
        if not self.running:
            return
        log.info("worker.draining", consumer=self.consumer, running=len(self.running),
                 grace=self.shutdown_grace)
        _done, pending = await asyncio.wait(list(self.running.values()), timeout=self.shutdown_grace)
        if not pending:
            return
        unfinished = [eid for eid, task in self.running.items() if task in pending]
        contexts = {eid: _context(self.entries.get(eid)) for eid in unfinished}  # forgotten once cancelled
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        try:
            await self.queue.hand_back(self.consumer, unfinished)
            for entry_id in unfinished:
                log.info("job.handed_back", consumer=self.consumer, entry_id=entry_id, **contexts[entry_id])
            log.info("worker.handed_back", consumer=self.consumer, entries=unfinished)
        except (RedisError, OSError) as exc:
            log.warning("worker.hand_back_failed", consumer=self.consumer, entries=unfinished,
                        error=_reason(exc), note="reclaimed after the visibility timeout instead")

    # --- one entry ----------------------------------------------------------------------------------------
    async def _handle(self, entry: Entry) -> None:
        """Run one entry; never raises (except cancellation at shutdown): a job must not kill the worker."""
        try:
            await self._handle_entry(entry)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Redis failed around the job (ack, dead letter...): the entry stays pending and comes back
            log.error("job.crashed", consumer=self.consumer, entry_id=entry.entry_id, error=_reason(exc),
                      exc_info=True, **_context(entry))

    async def _handle_entry(self, entry: Entry) -> None:
        env = entry.envelope
        if env is None:
            log.error("job.malformed", entry_id=entry.entry_id, fields=sorted(entry.fields))
            reason = "malformed stream entry: not a prguard job"
            await _retrying(lambda: self.queue.dead_letter(entry, reason))
            return
        ctx = {**env.log_context(), "entry_id": entry.entry_id, "attempt": env.attempt,
               "consumer": self.consumer}
        handler = self.handlers.get(env.feature)
        if handler is None:
            await self._unknown_feature(entry, env, ctx)
            return
        if entry.attempts > self.max_attempts:
            last = await _retrying(lambda: self.queue.last_error(entry.entry_id))
            reason = (f"gave up after {self.max_attempts} attempts; last error: {last}" if last else
                      f"gave up after {self.max_attempts} attempts: the worker running it stopped responding")
            await self._give_up(entry, handler, env, reason, ctx)
            return
        newer = await _retrying(lambda: self.queue.newer_version(env, entry.entry_id))
        if newer is not None:
            log.info("job.superseded", newer_version=newer, **ctx)
            await handler.cancel(env, newer)
            await _retrying(lambda: self.queue.ack(entry.entry_id))
            return

        async def is_current() -> bool:
            return await self.queue.newer_version(env, entry.entry_id) is None

        started = time.monotonic()
        log.info("job.start", **ctx)
        try:
            await handler.process(env, is_current)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = _reason(exc)
            metrics.JOB_SECONDS.labels(env.feature, "failed").observe(time.monotonic() - started)
            log.error("job.failed", error=reason, exc_info=True, **ctx)
            if env.attempt >= self.max_attempts:
                await self._give_up(entry, handler, env, f"failed {env.attempt} times; last error: {reason}",
                                    ctx)
            else:
                await _retrying(lambda: self.queue.record_error(entry.entry_id, reason))
                log.info("job.retry_later", retry_after=self.visibility_timeout, **ctx)
            return
        drop = env.feature == DELIVERY_FEATURE
        await _retrying(lambda: self.queue.ack(entry.entry_id, drop=drop))
        metrics.JOB_SECONDS.labels(env.feature, "done").observe(time.monotonic() - started)
        log.info("job.done", seconds=round(time.monotonic() - started, 3), **ctx)

    async def _unknown_feature(self, entry: Entry, env: Envelope, ctx: dict[str, Any]) -> None:
        """No handler here for the envelope's feature: a receiver newer than this worker queued it (a rolling
        deploy). Leave it for a worker that knows it, and dead-letter it once the attempts are used up."""
        reason = f"no handler for feature {env.feature!r} on this worker (known: {', '.join(self.handlers)})"
        log.error("job.unknown_feature", known=sorted(self.handlers), **ctx)
        if entry.attempts >= self.max_attempts:
            await _retrying(lambda: self.queue.dead_letter(entry, reason))
            log.error("job.dead_lettered", reason=reason, **ctx)
        else:
            await _retrying(lambda: self.queue.record_error(entry.entry_id, reason))

    async def _give_up(self, entry: Entry, handler: Handler, env: Envelope, reason: str,
                       ctx: dict[str, Any]) -> None:
        reason = scrub(reason)[:MAX_REASON]
        try:
            await handler.fail(env, reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("job.fail_handler_failed", error=_reason(exc), exc_info=True, **ctx)
            if entry.attempts < 2 * self.max_attempts:
                await _retrying(lambda: self.queue.record_error(entry.entry_id, reason))
                return  # stays pending: `fail` is retried after the visibility timeout
            reason = f"{reason}; completing the check runs as failure failed too: {_reason(exc)}"
            reason = reason[:MAX_REASON]
        await _retrying(lambda: self.queue.dead_letter(entry, reason))
        metrics.DEAD_LETTERS.labels(env.feature if env.feature in self.handlers else "unknown").inc()
        log.error("job.dead_lettered", reason=reason, **ctx)
