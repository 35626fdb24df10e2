"""The receiver's enqueue batching (bot/runtime/batcher.py) on a real Redis: deliveries of one loop turn share
one pipeline, and each still gets exactly the answer (or the error) a call of its own would have given."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from bot.runtime import deliveries
from bot.runtime.batcher import EnqueueBatcher
from bot.runtime.envelope import Envelope
from bot.runtime.queue import JobQueue
from tests.redis_server import RedisServer

pytestmark = pytest.mark.timeout(60)


class CountingQueue(JobQueue):
    """The real queue, recording how many scripts each round trip carried."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.round_trips: list[int] = []

    async def run_enqueue_calls(self, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        self.round_trips.append(len(calls))
        return await super().run_enqueue_calls(calls)


def delivery(n: int | str) -> Envelope:
    return deliveries.envelope("pull_request", f"d-{n}", '{"action": "opened"}')


def scan(pr: int, sha: str) -> Envelope:
    """A PR scan's envelope: it records its head, so a wrong-typed head key makes its script fail."""
    return Envelope(feature="scan", event="pull_request", action="opened", delivery_id=f"s-{pr}-{sha}",
                    installation_id=1, owner="o", repo="r", pr_number=pr, head_sha=sha,
                    supersede_key=f"o/r#{pr}", version=sha, version_order="2026-12-03T00:00:00Z",
                    records_version=True)


async def test_concurrent_deliveries_share_round_trips_and_each_gets_its_own_answer(
    redis: Redis, redis_prefix: str
) -> None:
    queue = CountingQueue(redis, prefix=redis_prefix)
    batcher = EnqueueBatcher(queue)
    # 40 deliveries at once, one of them twice in the same turn: the first is queued, the second a duplicate
    calls = [batcher.enqueue_all([delivery(n)]) for n in range(40)] + [batcher.enqueue_all([delivery(7)])]
    answers = await asyncio.gather(*calls)
    assert answers[:40] == [[True]] * 40 and answers[40] == [False]
    assert sum(queue.round_trips) == 41 and len(queue.round_trips) < 5, queue.round_trips
    assert await redis.xlen(f"{redis_prefix}:jobs") == 40
    # the same ids again, a turn later: every one a duplicate, nothing queued
    again = await asyncio.gather(*(batcher.enqueue_all([delivery(n)]) for n in range(40)))
    assert again == [[False]] * 40 and await redis.xlen(f"{redis_prefix}:jobs") == 40


async def test_one_failing_script_fails_only_its_own_delivery(redis: Redis, redis_prefix: str) -> None:
    queue = JobQueue(redis, prefix=redis_prefix)
    batcher = EnqueueBatcher(queue)
    await redis.set(queue.newest_key("o/r#2"), "not a hash")  # PR 2's script meets WRONGTYPE
    results = await asyncio.gather(batcher.enqueue_all([scan(1, "a" * 40)]),
                                   batcher.enqueue_all([scan(2, "b" * 40)]),
                                   batcher.enqueue_all([scan(3, "c" * 40)]), return_exceptions=True)
    assert results[0] == [True] and results[2] == [True]
    assert isinstance(results[1], ResponseError) and "WRONGTYPE" in str(results[1])
    assert await redis.hget(queue.newest_key("o/r#3"), "sha") == b"c" * 40


async def test_a_flushed_script_cache_is_reloaded_within_the_batch(private_redis: RedisServer) -> None:
    client = Redis.from_url(private_redis.url)  # a server of its own: flushing scripts touches no other test
    try:
        batcher = EnqueueBatcher(JobQueue(client, prefix="batch"))
        assert await batcher.enqueue_all([delivery("before")]) == [True]
        await client.script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT
        answers = await asyncio.gather(*(batcher.enqueue_all([delivery(n)]) for n in range(5)))
        assert answers == [[True]] * 5 and await client.xlen("batch:jobs") == 6
    finally:
        await client.aclose()


async def test_a_dead_redis_fails_every_delivery_of_the_batch(private_redis: RedisServer) -> None:
    client = Redis.from_url(private_redis.url, socket_connect_timeout=1, socket_timeout=1)
    try:
        batcher = EnqueueBatcher(JobQueue(client, prefix="batch"))
        assert await batcher.enqueue_all([delivery("up")]) == [True]
        private_redis.stop()
        results = await asyncio.gather(*(batcher.enqueue_all([delivery(n)]) for n in range(5)),
                                       return_exceptions=True)
        assert all(isinstance(r, RedisConnectionError | OSError) for r in results), results
    finally:
        await client.aclose()


async def test_a_batch_cancelled_before_it_is_sent_fails_its_deliveries_and_blocks_no_later_one(
    redis: Redis, redis_prefix: str
) -> None:
    batcher = EnqueueBatcher(JobQueue(redis, prefix=redis_prefix))
    waiting = asyncio.ensure_future(batcher.enqueue_all([delivery("cancelled")]))
    await asyncio.sleep(0)  # the delivery is pending and its batch task exists, not yet started
    for task in list(batcher._running):
        task.cancel()
    with pytest.raises(RedisConnectionError):
        await waiting
    assert await asyncio.wait_for(batcher.enqueue_all([delivery("after")]), 5) == [True]
