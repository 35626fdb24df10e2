"""The Redis Streams queue on a real Redis: dedupe, atomic enqueue, bound, delivery counts, dead letters."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.runtime.envelope import Envelope
from bot.runtime.queue import JobQueue
from tests.envelopes import enqueue, scan_job


def make_job(delivery: str, event: str = "pull_request", head_sha: str = "a" * 40, pr: int = 3) -> Envelope:
    return scan_job(delivery, event=event, head_sha=head_sha, pr=pr, owner="Acme", repo="Shop",
                    installation_id=9)


@pytest.fixture
def queue(redis: Redis, redis_prefix: str) -> JobQueue:
    return JobQueue(redis, prefix=redis_prefix, maxlen=1000, dedupe_ttl=3 * 24 * 3600)


async def test_enqueue_dedupes_by_delivery_id(queue: JobQueue, redis: Redis) -> None:
    assert await enqueue(queue, make_job("same")) is True
    assert await enqueue(queue, make_job("same", head_sha="b" * 40)) is False
    assert await enqueue(queue, make_job("other")) is True
    assert await redis.xlen(queue.stream) == 2
    assert 3 * 24 * 3600 - 5 <= await redis.ttl(queue.dedupe_mark("same")) <= 3 * 24 * 3600


async def test_a_failed_xadd_leaves_neither_mark_nor_head(queue: JobQueue, redis: Redis) -> None:
    await redis.set(queue.stream, "wrong type")
    job = make_job("d1")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await enqueue(queue, job, updated_at="2026-01-01T00:00:00Z")
    assert not await redis.exists(queue.dedupe_mark("d1"))
    assert await queue.latest_version(job) is None


async def test_only_pull_request_events_move_the_prs_head(queue: JobQueue) -> None:
    await enqueue(queue, make_job("pr", head_sha="1" * 40), updated_at="2026-01-01T00:00:00Z")
    await enqueue(queue, make_job("suite", event="check_suite", head_sha="2" * 40))
    assert await queue.latest_version(make_job("any")) == "1" * 40
    assert await queue.latest_version(make_job("no-pr", pr=0)) is None
    # GitHub owner/repo names are case-insensitive: ACME/shop#3 is the same PR
    upper = scan_job("x", head_sha="c" * 40, pr=3, owner="ACME", repo="shop", installation_id=9)
    assert await queue.latest_version(upper) == "1" * 40


async def test_the_stream_is_bounded_by_maxlen(queue: JobQueue, redis: Redis) -> None:
    for i in range(0, 2500, 50):
        await asyncio.gather(*(enqueue(queue, make_job(f"d{j}")) for j in range(i, i + 50)))
    length = await redis.xlen(queue.stream)
    assert 1000 <= length <= 1200  # approximate trimming keeps at least maxlen, within one macro node


async def test_read_reclaim_counts_deliveries_and_ack(queue: JobQueue) -> None:
    await queue.ensure_group()
    await queue.ensure_group()  # idempotent
    await enqueue(queue, make_job("d1"))
    [first] = await queue.read("w1", 10, block_ms=10)
    assert first.envelope is not None and first.envelope.delivery_id == "d1" and first.envelope.attempt == 1
    assert await queue.reclaim("w2", min_idle_ms=60_000, count=10) == []  # not idle long enough
    await asyncio.sleep(0.05)
    [second] = await queue.reclaim("w2", min_idle_ms=20, count=10)
    assert second.entry_id == first.entry_id and second.attempts == 2 and second.envelope.attempt == 2  # type: ignore[union-attr]
    await queue.ack(second.entry_id)
    assert await queue.pending_count() == 0
    await asyncio.sleep(0.05)
    assert await queue.reclaim("w3", min_idle_ms=20, count=10) == []


async def test_jobs_queued_before_any_worker_are_read(queue: JobQueue) -> None:
    await enqueue(queue, make_job("early"))
    await queue.ensure_group()
    [entry] = await queue.read("w", 5, block_ms=10)
    assert entry.envelope is not None and entry.envelope.delivery_id == "early"


async def test_dead_letter_keeps_the_job_and_reason_and_acks(queue: JobQueue, redis: Redis) -> None:
    await queue.ensure_group()
    await enqueue(queue, make_job("d1"))
    [entry] = await queue.read("w", 1, block_ms=10)
    await queue.dead_letter(entry, "gave up after 3 attempts")
    assert await queue.pending_count() == 0
    [(_id, fields)] = await redis.xrange(queue.dead)
    assert fields[b"delivery_id"] == b"d1" and fields[b"reason"] == b"gave up after 3 attempts"
    assert fields[b"entry_id"] == entry.entry_id.encode() and fields[b"attempts"] == b"1"


async def test_hand_back_makes_an_entry_reclaimable_at_once(queue: JobQueue) -> None:
    await queue.ensure_group()
    await enqueue(queue, make_job("d1"))
    [entry] = await queue.read("stopping", 1, block_ms=10)
    assert await queue.hand_back("stopping", [entry.entry_id]) == [entry.entry_id]
    [taken] = await queue.reclaim("other", min_idle_ms=3_600_000, count=5)
    assert taken.entry_id == entry.entry_id and taken.attempts == 2


async def test_an_entry_trimmed_before_processing_is_dropped_from_pending(
    queue: JobQueue, redis: Redis
) -> None:
    await queue.ensure_group()
    await enqueue(queue, make_job("d1"))
    await queue.read("w", 1, block_ms=10)
    await redis.xtrim(queue.stream, maxlen=0)
    await asyncio.sleep(0.02)
    assert await queue.reclaim("other", min_idle_ms=1, count=5) == []
    assert await queue.pending_count() == 0


async def test_a_malformed_entry_is_returned_without_a_job(queue: JobQueue, redis: Redis) -> None:
    await queue.ensure_group()
    await redis.xadd(queue.stream, {"installation_id": "not-a-number", "delivery_id": "x"})
    [entry] = await queue.read("w", 1, block_ms=10)
    assert entry.envelope is None and entry.fields["delivery_id"] == "x"
