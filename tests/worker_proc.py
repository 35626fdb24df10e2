"""A worker process for tests that kill or stop workers: `python -m tests.worker_proc REDIS_URL PREFIX
SLEEP VISIBILITY GRACE [thread]`. It runs the real `bot.runtime.worker.Worker` (with its signal handling,
under `bot.cli.worker.run_service` as `prguard worker` does) around a `RedisLogHandler`, whose records the
test reads from Redis; with `thread`, the handler's sleep is a blocking call in a thread, as a scan is."""

from __future__ import annotations

import asyncio
import sys

from redis.asyncio import Redis

from bot.cli.worker import install_stop_signals, run_service
from bot.log import configure
from bot.runtime.queue import JobQueue
from bot.runtime.worker import Worker
from tests.worker_handlers import RedisLogHandler


async def main(redis_url: str, prefix: str, sleep: float, visibility: float, grace: float,
               in_thread: bool = False) -> int:
    redis = Redis.from_url(redis_url)
    handler = RedisLogHandler(redis, prefix, sleep, in_thread=in_thread)
    worker = Worker(JobQueue(redis, prefix=prefix), {"scan": handler}, concurrency=2,
                    visibility_timeout=visibility, max_attempts=3, shutdown_grace=grace, block_ms=100)
    stop = asyncio.Event()
    install_stop_signals(stop)
    await redis.rpush(f"{prefix}:test-log", f"ready:{worker.consumer}")  # type: ignore[misc]
    await worker.run(stop)
    await redis.aclose()
    return 0


if __name__ == "__main__":
    configure("INFO")
    url, prefix, sleep, visibility, grace = sys.argv[1:6]
    in_thread = sys.argv[6:7] == ["thread"]
    sys.exit(run_service(main(url, prefix, float(sleep), float(visibility), float(grace), in_thread)))
