"""`prguard worker`: one process running the worker loop and the scheduler over prguard's features.

Wiring only: the runtime (bot/runtime) runs whatever handlers and periodic tasks it is given; the features
(bot/features) are the ones `bot.features.router()` registers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Coroutine
from typing import Any

from bot.fingerprint_key import configure_for_app
from bot.log import configure, get_logger
from bot.settings import ConfigError, Settings, load_settings

log = get_logger("prguard.worker")

#: seconds between `queue.stats` log lines (queue depth, pending, dead letters), from one worker of the fleet
QUEUE_STATS_INTERVAL = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=None, metavar="N",
                        help="jobs run at once by this process (default: PRGUARD_WORKER_CONCURRENCY, 4)")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings("worker")
    except ConfigError as exc:
        return exc.exit()
    if args.concurrency is not None and args.concurrency < 1:
        return ConfigError("--concurrency must be >= 1").exit()
    configure(settings.log_level)
    configure_for_app(settings.webhook_secret)
    concurrency = args.concurrency or settings.worker_concurrency
    return run_service(_serve(settings, concurrency))


def run_service(main: Coroutine[Any, Any, int], linger: float = 1.0) -> int:
    """`asyncio.run(main)`, except that it never waits on threads that stopped jobs left behind.

    Why: a job cancelled at shutdown stops awaiting its scan, but an in-process check's thread
    (`asyncio.to_thread`) cannot be stopped; `asyncio.run` and then the interpreter would join it, so a
    SIGTERM'd worker could outlive its grace period by the length of a scan and be SIGKILLed by the platform.
    Cancelling a job also cancels its checks (their engines are killed within a fraction of a second), and
    any engine process group still alive when `main` returns is killed here (`checks.tools.kill_all`), so no
    engine outlives the worker. By then every unfinished job was handed back, so the process exits at once
    (`os._exit`, logs flushed) if check threads are still running `linger` seconds later.
    """
    from checks.tools import kill_all

    loop = asyncio.new_event_loop()
    try:
        code = loop.run_until_complete(main)
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()  # shuts the default executor down without waiting for its threads
        killed = kill_all()
        if killed:
            log.warning("worker.engines_killed", groups=killed, note="their jobs were handed back")
    deadline = time.monotonic() + linger
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    stray = [t.name for t in threading.enumerate()
             if t is not threading.current_thread() and not t.daemon and t.is_alive()]
    if stray:
        log.warning("worker.exit_abandoning_threads", threads=stray,
                    note="their jobs were handed back to the queue")
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


async def _serve(settings: Settings, concurrency: int) -> int:
    from bot import metrics
    from bot.features import Services, router
    from bot.github.client import GitHubApp
    from bot.runtime import redis_connect
    from bot.runtime.queue import JobQueue
    from bot.runtime.redis_connect import stale_connection_retry
    from bot.runtime.scheduler import PeriodicTask, Scheduler
    from bot.runtime.worker import Worker, consumer_name

    # a bounded pool that waits for a free connection (jobs, heartbeats and the handlers share it)
    redis = redis_connect.connect(
        settings.redis_url, max_connections=2 * concurrency + 8, wait=10, socket_connect_timeout=5,
        socket_timeout=30, health_check_interval=30, retry=stale_connection_retry())
    queue = JobQueue.from_settings(redis, settings)
    github = GitHubApp.from_settings(settings)
    services = Services(settings=settings, redis=redis, github=github, queue=queue)
    features = router()
    consumer = consumer_name()
    worker = Worker(queue, features.handlers(services), consumer, concurrency=concurrency,
                    visibility_timeout=settings.visibility_timeout, max_attempts=settings.max_attempts,
                    shutdown_grace=settings.shutdown_grace)

    async def queue_stats() -> None:
        stats = await queue.stats()
        metrics.set_queue(stats, await queue.oldest_age())
        log.info("queue.stats", **stats)

    if settings.metrics_port:
        metrics.serve(settings.metrics_port)
        log.info("metrics.serving", port=settings.metrics_port)

    tasks = [PeriodicTask("queue-stats", QUEUE_STATS_INTERVAL, queue_stats), *features.periodic(services)]
    scheduler = Scheduler(redis, tasks, holder=consumer, prefix=settings.redis_prefix)
    stop = asyncio.Event()
    install_stop_signals(stop)
    refused: list[str] = []
    check = asyncio.create_task(_startup_check(github, stop, refused))
    schedule = asyncio.create_task(scheduler.run(stop))
    try:
        await worker.run(stop)
    finally:
        check.cancel()
        schedule.cancel()
        await asyncio.gather(check, schedule, return_exceptions=True)
        await redis.aclose()
    if refused:
        return ConfigError(refused[0]).exit()
    return 0


async def _startup_check(github: Any, stop: asyncio.Event, refused: list[str]) -> None:
    """Ask GitHub once, beside the running worker, whether it accepts our settings; stop if it refuses."""
    problem = await github.misconfiguration()
    if problem:
        log.error("worker.github_refused_configuration", error=problem)
        refused.append(problem)
        stop.set()


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop` (the worker then drains); a second signal is ignored, not fatal."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
