"""`prguard reconcile`: one reconcile pass now (the worker fleet also runs it on a schedule): redeliver
failed webhook deliveries, queue open PR heads with no prguard runs, fail runs stuck in progress.
See `bot.features.reconcile`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.settings import ConfigError, Settings, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recent", type=float, default=None, metavar="SECONDS",
                        help="leave PRs updated less than this long ago alone (default 120)")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings("worker")
    except ConfigError as exc:
        return exc.exit()
    from bot.fingerprint_key import configure_for_app
    from bot.log import configure

    configure(settings.log_level)
    configure_for_app(settings.webhook_secret)
    result = asyncio.run(_once(settings, args.recent))
    print(f"reconcile: {result.redelivered} redelivered of {result.failed_deliveries} failed deliveries; "
          f"{result.pulls} open PRs in {result.repositories} repositories, {result.queued} heads queued, "
          f"{result.stuck_failed} stuck runs failed ({result.seconds:g} s)")
    for error in result.errors:
        print(f"prguard: reconcile: {error}", file=sys.stderr)
    return 1 if result.errors else 0


async def _once(settings: Settings, recent: float | None):  # type: ignore[no-untyped-def]
    from bot.features.reconcile import RECENT_SECONDS, Reconciler
    from bot.github.client import GitHubApp
    from bot.runtime import redis_connect
    from bot.runtime.queue import JobQueue

    redis = redis_connect.connect(settings.redis_url, wait=None)  # one server, a Cluster or Sentinel
    try:
        queue = JobQueue.from_settings(redis, settings)
        reconciler = Reconciler(settings, redis, GitHubApp.from_settings(settings), queue,
                                recent_seconds=RECENT_SECONDS if recent is None else recent)
        return await reconciler.run()
    finally:
        await redis.aclose()
