"""`prguard status`: is the fleet keeping up? Queue depth, the oldest job's age, workers alive, dead letters
and the last reconcile, read from Redis (no GitHub credentials needed)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bot.settings import ConfigError, load_settings

#: a worker that has not talked to Redis for this long is counted as gone (idle workers poll every 100 ms;
#: a busy one heartbeats at a third of the visibility timeout)
ALIVE_MS = 60_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings("any")
    except ConfigError as exc:
        return exc.exit()
    try:
        status = asyncio.run(collect(settings.redis_url, settings.redis_prefix))
    except Exception as exc:  # Redis down: say so, never a traceback
        print(f"prguard: cannot read the queue at REDIS_URL: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(status, indent=2))
    else:
        print(render(status))
    return 0


async def collect(redis_url: str, prefix: str) -> dict[str, Any]:
    from bot.features.reconcile import last_key
    from bot.runtime import redis_connect
    from bot.runtime.queue import JobQueue

    redis = redis_connect.connect(redis_url, wait=None, socket_connect_timeout=3, socket_timeout=5)
    try:
        queue = JobQueue(redis, prefix=prefix)
        stats = await queue.stats()
        consumers = await queue.consumers()
        last = await redis.get(last_key(prefix))
        return {
            "queue": {**stats, "oldest_job_age_s": round(await queue.oldest_age(), 1)},
            "workers_alive": sum(1 for c in consumers if c["idle_ms"] < ALIVE_MS),
            "workers": consumers,
            "last_reconcile": json.loads(last) if last else None,
        }
    finally:
        await redis.aclose()


def render(status: dict[str, Any]) -> str:
    q = status["queue"]
    lines = [
        f"queue:        {q['stream']} in the stream, {q['pending']} running, oldest unfinished job "
        f"{q['oldest_job_age_s']:g} s old",
        f"dead letters: {q['dead_letters']}",
        f"workers:      {status['workers_alive']} alive",
    ]
    for c in status["workers"]:
        lines.append(f"  {c['name']}: {c['pending']} running, last seen {c['idle_ms'] / 1000:.1f} s ago")
    last = status["last_reconcile"]
    if last is None:
        lines.append("reconcile:    never ran")
    else:
        from datetime import UTC, datetime

        when = datetime.fromtimestamp(last["started_at"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines.append(
            f"reconcile:    last at {when} ({last['seconds']:g} s): {last['redelivered']} redelivered of "
            f"{last['failed_deliveries']} failed deliveries, {last['queued']} PR heads queued, "
            f"{last['stuck_failed']} stuck runs failed, {len(last['errors'])} errors"
        )
    return "\n".join(lines)
