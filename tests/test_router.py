"""The event router end to end: a throw-away feature registered through the router next to the PR scan.

Real parts: the real receiver over loopback HTTP with real (adapted) GitHub payloads, a real Redis, the real
worker; only the handlers are recording stand-ins, so what is asserted is which feature ran what.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from bot.features import router as prguard_router
from bot.features.scan import ScanFeature
from bot.runtime.envelope import Envelope
from bot.runtime.queue import JobQueue
from bot.runtime.receiver import create_app
from bot.runtime.router import Router
from bot.runtime.worker import Worker
from bot.settings import load_settings
from tests.routing import route_queued, route_queued_sync
from tests.webhooks import ServedApp, fixture_payload, json_body, pull_request_payload, send
from tests.worker_handlers import RecordingHandler

SECRET = "whsec-router-" + "Qw8zT3kL"


class CommentFeature:
    """A feature for `issue_comment.created` on a PR (as slash-commands will be): never superseded."""

    name = "comment"
    events: ClassVar[dict[str, frozenset[str]]] = {"issue_comment": frozenset({"created"})}

    def __init__(self, handler: RecordingHandler) -> None:
        self._handler = handler

    def envelopes(self, event: str, delivery_id: str, payload: dict[str, Any]) -> list[Envelope]:
        issue = payload["issue"]
        repo = payload["repository"]
        return [Envelope(feature=self.name, event=event, action=payload["action"], delivery_id=delivery_id,
                         installation_id=int(payload["installation"]["id"]), owner=repo["owner"]["login"],
                         repo=repo["name"], pr_number=int(issue["number"]),
                         data={"body": payload["comment"]["body"][:100]})]

    def handler(self, services: Any) -> RecordingHandler:
        return self._handler

    def periodic(self, services: Any) -> list[Any]:
        return []


def comment_payload(number: int) -> dict[str, Any]:
    """GitHub's real `issue_comment.created` payload, on PR `number`, delivered to an App installation."""
    payload = fixture_payload("issue_comment", "created")
    payload["issue"]["number"] = number
    payload["issue"]["pull_request"] = {"url": f"https://api.github.com/repos/Codertocat/Hello-World/pulls/{number}"}
    payload["installation"] = {"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
    payload["comment"]["body"] = "/prguard status"
    return payload


@pytest.fixture
def handlers() -> tuple[RecordingHandler, RecordingHandler]:
    return RecordingHandler(), RecordingHandler()


@pytest.fixture
def served(redis_url: str, redis_prefix: str, handlers: tuple[RecordingHandler, RecordingHandler]
           ) -> Iterator[tuple[ServedApp, Router]]:
    settings = load_settings("web", webhook_secret=SECRET, redis_url=redis_url, redis_prefix=redis_prefix)
    # the scan feature beside a throwaway one (prguard's own comment and sign-off features left out, so the
    # counts below are the runtime's, not theirs)
    router = Router([ScanFeature(), CommentFeature(handlers[1])])
    with ServedApp(create_app(settings, router=router)) as server:
        yield server, router


async def test_a_throwaway_feature_runs_on_the_worker_and_a_push_cancels_only_the_older_scan(
    served: tuple[ServedApp, Router], handlers: tuple[RecordingHandler, RecordingHandler],
    redis_url: str, redis_prefix: str,
) -> None:
    server, router = served
    scan, comment = handlers
    opened = pull_request_payload("opened", head_sha="1" * 40, number=2, updated_at="2026-03-01T10:00:00Z")
    pushed = pull_request_payload("synchronize", head_sha="2" * 40, number=2,
                                  updated_at="2026-03-01T10:05:00Z")
    pushed["before"] = "1" * 40
    replies = [
        await asyncio.to_thread(send, server.url, "pull_request", json_body(opened), SECRET, "d-opened"),
        await asyncio.to_thread(send, server.url, "issue_comment", json_body(comment_payload(2)), SECRET,
                                "d-comment"),
        # the push is queued behind the comment
        await asyncio.to_thread(send, server.url, "pull_request", json_body(pushed), SECRET, "d-pushed"),
    ]
    assert [r.status_code for r in replies] == [202, 202, 202]

    redis = Redis.from_url(redis_url)
    try:
        queue = JobQueue(redis, prefix=redis_prefix)
        # the comment handler as the router builds it; the scan handler replaced by a recorder; the
        # deliveries routed first, in the order they came, as the worker's first jobs
        assert await route_queued(redis_url, redis_prefix, router) == 3
        handlers = {"scan": scan, "comment": router.features["comment"].handler(None)}
        worker = Worker(queue, handlers, concurrency=4, visibility_timeout=5.0, block_ms=50)
        assert await asyncio.wait_for(worker.run_once(), 30) == 3
        assert await queue.pending_count() == 0
    finally:
        await redis.aclose()
    # the comment ran on its own feature's handler, untouched by the newer push
    assert comment.calls == [("process", "d-comment", 1)]
    assert comment.current_after_sleep == [True]
    # the newer head cancelled the older scan; the scan handler never saw the comment
    assert sorted(scan.calls) == [("cancel", "d-opened", 1), ("process", "d-pushed", 1)]


def test_a_delivery_no_feature_wants_is_ignored_and_one_several_want_is_queued_once_each(
    served: tuple[ServedApp, Router], redis_url: str, redis_prefix: str,
) -> None:
    server, router = served
    assert [f.name for f in router.wants("issue_comment", "created")] == ["comment"]
    assert router.wants("issue_comment", "deleted") == []
    deleted = {**comment_payload(2), "action": "deleted"}
    assert send(server.url, "issue_comment", json_body(deleted), SECRET, "d-deleted").status_code == 202
    assert send(server.url, "push", json_body(deleted), SECRET).json() == {"status": "ignored"}
    body = json_body(comment_payload(2))
    assert send(server.url, "issue_comment", body, SECRET, "d-same").status_code == 202
    again = send(server.url, "issue_comment", body, SECRET, "d-same")
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert route_queued_sync(redis_url, redis_prefix, router) == 2
    db = SyncRedis.from_url(redis_url, decode_responses=True)
    try:
        queued = [(f["feature"], f["delivery_id"]) for _id, f in db.xrange(f"{redis_prefix}:jobs")]
    finally:
        db.close()
    assert queued == [("comment", "d-same")], "the deleted comment is ignored by every feature"


def test_two_features_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="two features are called 'scan'"):
        prguard_router(CommentFeature(RecordingHandler()), type("Dup", (CommentFeature,), {"name": "scan"})(
            RecordingHandler()))


async def test_an_envelope_for_a_feature_this_worker_does_not_know_is_retried_then_dead_lettered(
    redis: Redis, redis_prefix: str,
) -> None:
    """A receiver newer than the worker (a rolling deploy) may queue work for a feature the worker lacks: it
    stays for a worker that knows it, and ends as a dead letter saying why, never silently dropped."""
    queue = JobQueue(redis, prefix=redis_prefix, maxlen=1000)
    env = Envelope(feature="signoff", event="pull_request", action="opened", delivery_id="d-new",
                   installation_id=1, owner="acme", repo="shop", pr_number=3, head_sha="a" * 40)
    assert await queue.enqueue(env)
    worker = Worker(queue, {"scan": RecordingHandler()}, visibility_timeout=0.05, max_attempts=2, block_ms=10)
    assert await worker.run_once() == 1
    assert await redis.xlen(queue.dead) == 0 and await queue.pending_count() == 1
    await asyncio.sleep(0.1)
    assert await worker.run_once() == 1
    [(_id, fields)] = await redis.xrange(queue.dead)
    assert fields[b"reason"].startswith(b"no handler for feature 'signoff'")
    assert await queue.pending_count() == 0


class BrokenFeature(CommentFeature):
    """A feature whose payload reading has a bug."""

    name = "broken"

    def envelopes(self, event: str, delivery_id: str, payload: dict[str, Any]) -> list[Envelope]:
        return [self._missing(payload["no such key"])]  # type: ignore[attr-defined]


def test_one_features_bug_does_not_cost_the_other_features_their_work(
    redis_url: str, redis_prefix: str,
) -> None:
    """A delivery one feature cannot read keeps the other features' work; only when no feature could read it
    is it unroutable (logged and counted, never retried)."""
    settings = load_settings("web", webhook_secret=SECRET, redis_url=redis_url, redis_prefix=redis_prefix)
    both = prguard_router(BrokenFeature(RecordingHandler()), CommentFeature(RecordingHandler()))
    alone = Router([BrokenFeature(RecordingHandler())])
    body = json_body(comment_payload(2))
    from bot import metrics

    unroutable = metrics.ROUTED.labels("issue_comment", "unexpected_payload")
    with ServedApp(create_app(settings, router=both)) as server:
        assert send(server.url, "issue_comment", body, SECRET, "d-both").status_code == 202
    assert route_queued_sync(redis_url, redis_prefix, both) == 1
    db = SyncRedis.from_url(redis_url, decode_responses=True)
    try:
        features = [f["feature"] for _id, f in db.xrange(f"{redis_prefix}:jobs")]
        assert "comment" in features and "broken" not in features
        db.delete(f"{redis_prefix}:jobs")
        before = unroutable._value.get()
        with ServedApp(create_app(settings, router=alone)) as server:
            assert send(server.url, "issue_comment", body, SECRET, "d-alone").status_code == 202
        assert route_queued_sync(redis_url, redis_prefix, alone) == 1
        assert db.xlen(f"{redis_prefix}:jobs") == 0 and unroutable._value.get() == before + 1
    finally:
        db.close()


def test_two_envelopes_with_one_dedupe_key_are_refused_rather_than_one_dropped() -> None:
    class Twice(CommentFeature):
        def envelopes(self, event: str, delivery_id: str, payload: dict[str, Any]) -> list[Envelope]:
            return super().envelopes(event, delivery_id, payload) * 2

    with pytest.raises(ValueError, match="same dedupe key"):
        Router([Twice(RecordingHandler())]).route("issue_comment", "d", comment_payload(2))
