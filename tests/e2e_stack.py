"""The whole App on loopback for end-to-end tests and the latency benchmark.

GitHub double (uvicorn thread) ← worker (`bot.runtime.worker.Worker` + the scan feature's handler, in this
event loop) ← Redis Stream ← receiver (`bot.runtime.receiver.create_app`, uvicorn thread) ← signed real-shape
webhook deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx

from bot.features import Services, router
from bot.features.scan import ScanHandler
from bot.github.client import GitHubApp, GitHubOptions
from bot.runtime import redis_connect
from bot.runtime.queue import JobQueue
from bot.runtime.receiver import create_app
from bot.runtime.router import Router
from bot.runtime.worker import Worker
from bot.settings import Settings, load_settings
from tests.github_double.double import GitHubDouble
from tests.webhooks import ServedApp, fixture_payload, json_body, send

CHECKS = ("prguard/secrets", "prguard/dependencies", "prguard/iac", "prguard/prompt-safety")
FAST_RETRIES = (0.05, 0.1, 0.2)


def pr_payload(pr: Any, installation_id: int, *, action: str = "opened", head_sha: str | None = None,
               updated_at: str = "2026-01-01T00:00:00Z", owner: str = "octo", repo: str = "repo"
               ) -> dict[str, Any]:
    """GitHub's real `pull_request` payload (tests/fixtures), pointed at a PR that exists on the double."""
    payload = fixture_payload("pull_request", "opened")
    payload["action"] = action
    payload["number"] = pr.number
    payload["installation"]["id"] = installation_id
    payload["repository"]["owner"]["login"] = owner
    payload["repository"]["name"] = repo
    payload["repository"]["full_name"] = f"{owner}/{repo}"
    body = payload["pull_request"]
    body["number"] = pr.number
    body["state"] = "open"
    body["updated_at"] = updated_at
    body["head"]["sha"] = head_sha or pr.head_sha
    body["head"]["ref"] = pr.head_ref
    body["base"]["sha"] = pr.base_sha
    body["base"]["ref"] = pr.base_ref
    return payload


class Stack:
    """Receiver + one worker against a GitHub double and a real Redis (private key prefix)."""

    def __init__(self, double: GitHubDouble, redis_url: str, prefix: str, *, concurrency: int = 2,
                 visibility_timeout: float = 1.0, max_attempts: int = 2, annotation_cap: int = 500,
                 start_worker: bool = True, api_version: str | None = None,
                 only: tuple[str, ...] | None = None) -> None:
        self.double = double
        # api_version None: the settings' default for the double's (non-github.com) URL, i.e. 2022-11-28
        versioned = {"api_version": api_version} if api_version is not None else {}
        self.settings: Settings = load_settings(
            "any", app_id=double.app_id, private_key=double.private_key_pem, api_url=double.base_url,
            webhook_secret=double.webhook_secret, redis_url=redis_url, redis_prefix=prefix,
            visibility_timeout=visibility_timeout, max_attempts=max_attempts, annotation_cap=annotation_cap,
            worker_concurrency=concurrency, **versioned,
        )
        self.concurrency = concurrency
        self.start_worker = start_worker
        # `only`: just these features, in the receiver and the worker (tests of the scan's own runtime
        # behaviour count its requests and runs without the sign-off's beside them)
        features = router()
        if only is not None:
            features = Router([f for name, f in features.features.items() if name in only])
        self.router = features
        self.receiver = ServedApp(create_app(self.settings, router=features))
        self.redis = redis_connect.connect(redis_url, wait=None)  # one server, a cluster or Sentinel
        self.queue = JobQueue.from_settings(self.redis, self.settings)
        self.github = GitHubApp(GitHubOptions(
            app_id=double.app_id, private_key=double.private_key_pem, api_url=double.base_url,
            server_error_delays=FAST_RETRIES, max_rate_limit_wait=5.0, api_version=self.settings.api_version,
        ))
        self.pipeline = ScanHandler(self.settings, self.redis, github=self.github, queue=self.queue)
        # every feature's handler, as `prguard worker` builds them (the scan's kept at hand for tests)
        services = Services(settings=self.settings, redis=self.redis, github=self.github, queue=self.queue)
        handlers = {**features.handlers(services), "scan": self.pipeline}
        self.worker = Worker(self.queue, handlers, concurrency=concurrency,
                             visibility_timeout=visibility_timeout, max_attempts=max_attempts,
                             shutdown_grace=2.0, block_ms=100)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.http = httpx.Client(timeout=15)
        self.delivery_ms: list[float] = []

    async def __aenter__(self) -> Stack:
        self.receiver.start()
        if self.start_worker:
            self.task = asyncio.create_task(self.worker.run(self.stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 10)
        self.receiver.stop()
        self.http.close()
        await self.redis.aclose()

    def repo(self, files: dict[str, bytes] | None = None) -> int:
        inst = self.double.add_installation("octo")
        self.double.add_repo("octo/repo", installation_id=inst, files=files or {"README.md": b"hello\n"})
        return inst

    async def deliver(self, event: str, payload: dict[str, Any], delivery: str | None = None
                      ) -> httpx.Response:
        """POST a signed delivery to the running receiver (from a thread: the worker shares this loop)."""
        body = json_body(payload)
        started = time.perf_counter()
        reply = await asyncio.to_thread(send, self.receiver.url, event, body, self.settings.webhook_secret,
                                        delivery, self.http)
        self.delivery_ms.append((time.perf_counter() - started) * 1000)
        return reply

    async def completed(self, head_sha: str, timeout: float = 30.0, names: tuple[str, ...] = CHECKS
                        ) -> dict[str, Any]:
        """The newest run of each name on `head_sha`, once all of them are completed."""
        deadline = time.monotonic() + timeout
        while True:
            runs = {n: self.double.check_runs("octo/repo", head_sha, n) for n in names}
            if all(r and r[-1].status == "completed" for r in runs.values()):
                return {n: r[-1] for n, r in runs.items()}
            if time.monotonic() > deadline:
                states = {n: (r[-1].status, r[-1].conclusion) if r else None for n, r in runs.items()}
                raise AssertionError(f"check runs not completed in {timeout} s: {states}")
            await asyncio.sleep(0.02)

    async def drained(self, timeout: float = 20.0) -> None:
        """Every queued job was taken and acknowledged (nothing pending, nothing unread)."""
        stream = f"{self.settings.redis_prefix}:jobs"

        async def idle() -> bool:
            groups = await self.redis.xinfo_groups(stream)
            return bool(groups) and groups[0]["pending"] == 0 and groups[0]["lag"] == 0

        deadline = time.monotonic() + timeout
        while not await idle():
            if time.monotonic() > deadline:
                raise AssertionError("the queue did not drain in time")
            await asyncio.sleep(0.02)

    async def until(self, predicate: Any, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.02)
