"""Run the worker's routing step (`bot.runtime.deliveries`) on the deliveries a receiver queued, in a test.

The receiver queues each delivery as it came; a worker routes it to the features. Tests of the receiver
that look at the features' envelopes route first, with the real handler and router, so they see the stream
as a worker leaves it.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from bot.features import router as default_router
from bot.runtime import deliveries
from bot.runtime.envelope import Envelope
from bot.runtime.queue import JobQueue
from bot.runtime.router import Router


async def _always() -> bool:
    return True


async def route_queued(redis_url: str, prefix: str, router: Router | None = None) -> int:
    """Route every queued delivery of `prefix` and delete its entry, as a worker would; how many."""
    redis = Redis.from_url(redis_url)
    try:
        queue = JobQueue(redis, prefix=prefix)
        handler = deliveries.DeliveryHandler(router or default_router(), queue)
        routed = 0
        for entry_id, fields in await redis.xrange(queue.stream):
            envelope = Envelope.from_fields(fields)
            if envelope.feature != deliveries.FEATURE:
                continue
            await handler.process(envelope, _always)
            await redis.xdel(queue.stream, entry_id)
            routed += 1
        return routed
    finally:
        await redis.aclose()


def route_queued_sync(redis_url: str, prefix: str, router: Router | None = None) -> int:
    return asyncio.run(route_queued(redis_url, prefix, router))
