"""Reconcile: nothing lost, nothing stuck, whatever happened to a delivery on its way.

Webhooks can fail to arrive (the receiver was down, Redis was restarted empty, a deploy dropped a
connection) and jobs can vanish with their worker. GitHub is the record, so one periodic pass compares it
with what prguard did and repairs the difference:

1. **Failed deliveries**: the App's delivery log (`GET /app/hook/deliveries`) since the last pass; every
   delivery (guid) none of whose attempts got a 2xx is redelivered (`POST .../attempts`), at most
   `REDELIVERY_TRIES` times per guid and `reconcile_max_redeliveries` per pass.
2. **Heads without runs**: every open PR of every installation whose head has no prguard run is queued for a
   scan (dedupe key per head, so a head is queued once however many passes see it).
3. **Stuck runs**: a prguard run still queued or in progress `stuck_run_seconds` after it started lost its
   job: it is completed as `failure`, saying the scan was interrupted and how to run it again. It is not
   re-queued automatically, so a job that kills its worker every time cannot loop forever.

It runs in the worker fleet as a scheduled task (one worker at a time) and on demand as `prguard reconcile`.
The last pass's result is kept in Redis for `prguard status`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import metrics
from bot.features.scan_routing import make_envelope
from bot.github import fleet
from bot.github.checkruns import CheckRuns, Run
from bot.log import get_logger, scrub
from bot.runtime.envelope import Envelope
from bot.runtime.router import PeriodicFeature
from bot.runtime.scheduler import PeriodicTask

log = get_logger("prguard.reconcile")

NAME = "reconcile"
#: GitHub keeps this much of the delivery log
LOG_WINDOW = timedelta(days=3)
#: how far each pass reaches back before the previous pass's start
SINCE_OVERLAP_S = 300.0
#: an open PR updated less than this many seconds ago is left alone: its own delivery is probably in flight
RECENT_SECONDS = 120.0
#: redeliveries asked per delivery guid before reconcile gives up on it (its attempts stay in GitHub's log)
REDELIVERY_TRIES = 3


@dataclass
class ReconcileResult:
    started_at: float = 0.0
    seconds: float = 0.0
    failed_deliveries: int = 0
    redelivered: int = 0
    repositories: int = 0
    pulls: int = 0
    queued: int = 0
    stuck_failed: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def last_key(prefix: str) -> str:
    return f"{prefix}:reconcile:last"


class Reconciler:
    """One reconcile pass over the App's fleet (see the module docstring)."""

    def __init__(self, settings: Any, redis: Any, github: Any, queue: Any, *,
                 recent_seconds: float = RECENT_SECONDS) -> None:
        self.settings = settings
        self.recent = timedelta(seconds=recent_seconds)
        self.redis = redis
        self.github = github
        self.queue = queue
        self.prefix = settings.redis_prefix

    async def run(self) -> ReconcileResult:
        result = ReconcileResult(started_at=time.time())
        since_key = f"{self.prefix}:reconcile:since"
        stored = await self.redis.get(since_key)
        floor = datetime.now(UTC) - LOG_WINDOW
        # GitHub's log has whole seconds and a delivery may be logged a little after it was made: overlap
        # the previous pass (a delivery seen twice is harmless: the tries counter and 2xx check decide)
        since = max(floor, datetime.fromtimestamp(float(stored) - SINCE_OVERLAP_S, UTC)) if stored else floor
        async with self.github.app:
            try:
                await self._redeliver(since, result)
            except Exception as exc:  # one part failing must not stop the others
                result.errors.append(f"deliveries: {_reason(exc)}")
            try:
                await self._sweep(result)
            except Exception as exc:
                result.errors.append(f"installations: {_reason(exc)}")
        result.seconds = round(time.time() - result.started_at, 3)
        if not result.errors or result.redelivered or result.failed_deliveries == 0:
            await self.redis.set(since_key, str(result.started_at))
        await self.redis.set(last_key(self.prefix), result.to_json())
        for kind, count in (("redelivered", result.redelivered), ("queued", result.queued),
                            ("stuck_failed", result.stuck_failed), ("errors", len(result.errors))):
            metrics.RECONCILE.labels(kind).inc(count)
        log.info("reconcile.done", **{k: v for k, v in asdict(result).items() if k != "errors"},
                 errors=len(result.errors))
        return result

    # --- 1. deliveries that never got a 2xx -----------------------------------------------------------------
    async def _redeliver(self, since: datetime, result: ReconcileResult) -> None:
        newest_failed: dict[str, fleet.Delivery] = {}
        succeeded: set[str] = set()
        async for delivery in fleet.deliveries_since(self.github.app, since):
            if delivery.ok:
                succeeded.add(delivery.guid)
            elif delivery.guid not in newest_failed:
                newest_failed[delivery.guid] = delivery  # newest first: the first seen is the newest
        failed = [d for guid, d in newest_failed.items() if guid not in succeeded]
        result.failed_deliveries = len(failed)
        for delivery in reversed(failed):  # oldest first, as GitHub first sent them
            if result.redelivered >= self.settings.reconcile_max_redeliveries:
                break
            tries_key = f"{self.prefix}:reconcile:tries:{delivery.guid}"
            tries = await self.redis.incr(tries_key)
            await self.redis.expire(tries_key, int(LOG_WINDOW.total_seconds()))
            if tries > REDELIVERY_TRIES:
                continue
            await fleet.redeliver(self.github.app, delivery.id)
            result.redelivered += 1
            log.info("reconcile.redelivered", delivery=delivery.guid, event=delivery.event,
                     status=delivery.status_code, attempt=tries)

    # --- 2 and 3. open PR heads: no runs, or runs stuck ----------------------------------------------------
    async def _sweep(self, result: ReconcileResult) -> None:
        async for installation in fleet.installations(self.github.app):
            inst = self.github.installation(int(installation.id))
            async with inst:
                async for repo in fleet.repositories(inst):
                    result.repositories += 1
                    owner, name = repo.owner.login, repo.name
                    try:
                        async for pr in fleet.open_pulls(inst, owner, name):
                            result.pulls += 1
                            await self._pull(inst, int(installation.id), owner, name, pr, result)
                    except Exception as exc:
                        result.errors.append(f"{owner}/{name}: {_reason(exc)}")

    async def _pull(self, inst: Any, installation_id: int, owner: str, repo: str, pr: Any,
                    result: ReconcileResult) -> None:
        updated = getattr(pr, "updated_at", None)
        if updated is not None and _aware(updated) > datetime.now(UTC) - self.recent:
            return
        runs = CheckRuns(inst, owner, repo, app_id=self.settings.app_id)
        head_sha = str(pr.head.sha)
        existing = await runs.list_for_head(head_sha, all_runs=True)
        if not existing:
            if await self.queue.enqueue(self._scan(installation_id, owner, repo, pr)):
                result.queued += 1
                log.info("reconcile.queued", repo=f"{owner}/{repo}", pr=int(pr.number), head_sha=head_sha)
            return
        bound = datetime.now(UTC) - timedelta(seconds=self.settings.stuck_run_seconds)
        for run in existing:
            if not run.completed and run.started_at is not None and _aware(run.started_at) < bound:
                await runs.update(run, _interrupted(run, self.settings.stuck_run_seconds))
                result.stuck_failed += 1
                log.warning("reconcile.stuck_run_failed", repo=f"{owner}/{repo}", pr=int(pr.number),
                            head_sha=head_sha, check_run=run.name)

    @staticmethod
    def _scan(installation_id: int, owner: str, repo: str, pr: Any) -> Envelope:
        head_sha = str(pr.head.sha)
        stub = {"number": int(pr.number), "base": {"ref": pr.base.ref, "sha": pr.base.sha},
                "head": {"ref": pr.head.ref}}
        return make_envelope("pull_request", "reconcile", f"reconcile:{owner}/{repo}#{pr.number}@{head_sha}",
                             installation_id, owner, repo, head_sha, pr=stub)


def _interrupted(run: Run, bound: float) -> dict[str, Any]:
    minutes = round(bound / 60)
    return {
        "status": "completed",
        "conclusion": "failure",
        "completed_at": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "output": {
            "title": "Scan interrupted",
            "summary": (f"This check was still running {minutes} minutes after it started: the worker "
                        "running it stopped before it could report. Nothing was checked, so this is not a "
                        "pass.\n\n"
                        "To run it again, choose **Re-run** on this check in the Checks tab, or push a new "
                        "commit."),
        },
    }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _reason(exc: BaseException) -> str:
    return scrub(f"{type(exc).__name__}: {exc}")[:300]


class ReconcileFeature(PeriodicFeature):
    name = NAME

    def periodic(self, services: Any) -> list[PeriodicTask]:
        interval = services.settings.reconcile_interval
        if not interval:
            return []
        reconciler = Reconciler(services.settings, services.redis, services.github, services.queue)

        async def run() -> None:
            await reconciler.run()

        return [PeriodicTask(NAME, interval, run, timeout=max(interval, 300.0))]
