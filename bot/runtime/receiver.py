"""The webhook receiver: verify, deduplicate, queue, answer — in well under a millisecond of work, no parsing,
no GitHub call, no scan.

Why so little: GitHub gives a delivery 10 seconds and never retries by itself, and the receiver is the part
on the internet, so it does what any webhook receiver must and no more: check the signature, mark the
delivery id and append the body to the Redis Stream (one script: both or neither), then answer. A worker
routes it to the features (`bot.runtime.deliveries`: parse, `bot.runtime.router`, queue their envelopes).

    POST /webhook (or /webhook/; any other path is a plain 404, never a redirect GitHub would not follow)
      no X-Hub-Signature-256                  -> 401 (the SHA-1 X-Hub-Signature alone is not accepted)
      body over 25 MB                         -> 413 (Content-Length checked first; the stream is cut off)
      body budget of the process spent       -> 503 + Retry-After, before reading (`BodyBudget`)
      body not received within the deadline  -> 408 (PRGUARD_WEBHOOK_READ_TIMEOUT, whole body)
      client gone before the body ended      -> nothing to answer; one warning line (status 499)
      signature mismatch (HMAC-SHA256, raw)   -> 401, checked before anything is read of it
      no event or delivery header             -> 400
      ping / an event no feature handles      -> 200 {"status": "pong"} / {"status": "ignored"}
      not UTF-8, not a JSON object, or nested -> 400 (validated here, without building Python objects, for
      too deep to parse (1,024 levels)           that and the log line's repo, PR and head SHA:
                                                 `deliveries.Inspector`; routing it is the worker's job: a
                                                 payload no feature can read is logged `webhook.unroutable`)
      delivery id seen before                 -> 200 {"status": "duplicate"}, nothing queued
      relevant                                -> 202 {"status": "queued"}: one stream entry
      Redis unreachable                       -> 503, so GitHub shows the delivery failed (redeliverable)
    GET /healthz                              -> 200 {"status": "ok"} when Redis answers PING, else 503

An answer given before the body was read to its end carries `Connection: close`: the receiver does not drain
bodies it refused, and a client must not keep a connection (one of PRGUARD_WEBHOOK_MAX_CONNECTIONS) busy by
trickling the rest of one.

One structured log line per delivery (`webhook.delivery`: event, delivery, installation, repo, pr, head_sha,
outcome, status, ms); never the body, and header values only as a bounded, escaped prefix (`for_log`): the
headers are not covered by the signature. `prguard serve` (bot/cli/serve.py) runs this app under uvicorn
with the connection bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import metrics
from bot.log import get_logger
from bot.runtime import deliveries, redis_connect
from bot.runtime.batcher import EnqueueBatcher
from bot.runtime.body import BodyBudget, BodyReader, ClientGone, Refused
from bot.runtime.envelope import Envelope
from bot.runtime.queue import JobQueue
from bot.runtime.router import Router
from bot.settings import ConfigError, Settings

log = get_logger("prguard.web")

#: Characters of an unauthenticated header value that reach the log (`for_log`); GitHub's are under 40.
LOG_HEADER_CHARS = 64
#: An answer is due this many seconds after the request started, inside GitHub's 10: confirming an enqueue
#: whose reply timed out (`_enqueue_confirmed`) stops here and answers 503.
ANSWER_WITHIN_S = 8.0
#: Seconds an enqueue whose reply timed out is retried for (one socket timeout more, so a Redis that is
#: unreachable rather than stalled still gets a 503 in about 6 s).
CONFIRM_S = 3.0
#: `Retry-After` of the 503 for a spent body budget: it frees as soon as the bodies in flight are handled.
BUSY_RETRY_AFTER_S = 1


class Incoming:
    """A delivery's request as the receiver reads it: its headers (names lower-case, the first of repeated
    ones, as Starlette's `Headers.get`) and the ASGI `receive`. Why not Starlette's `Request`: a delivery
    needs four headers and the body, and the receiver answers thousands a second."""

    __slots__ = ("headers", "receive")

    def __init__(self, scope: Any, receive: Callable[[], Awaitable[Any]]) -> None:
        self.headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            self.headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        self.receive = receive


class Answer:
    """The receiver's reply, `{"status": outcome}` as JSON, sent as two raw ASGI messages (an ASGI app, as
    Starlette's responses are)."""

    __slots__ = ("body", "headers", "status")

    _bodies: ClassVar[dict[str, bytes]] = {}  # outcomes are a fixed set: each body encoded once

    def __init__(self, status: int, outcome: str, headers: dict[str, str] | None = None) -> None:
        body = self._bodies.get(outcome)
        if body is None:
            body = self._bodies.setdefault(outcome, orjson.dumps({"status": outcome}))
        self.status = status
        self.body = body
        self.headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        for name, value in (headers or {}).items():
            self.headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))

    async def __call__(self, scope: Any, receive: Any, send: Callable[[Any], Awaitable[None]]) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})

    def json(self) -> dict[str, str]:
        return orjson.loads(self.body)  # type: ignore[no-any-return]


def signature_ok(secret: bytes, body: bytes | bytearray, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` over the raw bytes, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("latin-1"))


def for_log(value: str, limit: int = LOG_HEADER_CHARS) -> str:
    """A header value as it may be logged: its first `limit` characters, anything but printable ASCII
    escaped (`\\xff`), and the full length when cut. Why: headers are not signed, so before (and even after)
    the signature check they are whatever a client sent, up to h11's 16 KB header block."""
    if len(value) <= limit and value.isascii() and value.isprintable():
        return value  # GitHub's own values, at no cost per delivery
    head = "".join(c if " " <= c <= "~" else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
                   for c in value[:limit])
    return head if len(value) <= limit else f"{head}...({len(value)} chars)"


def connect(redis_url: str) -> Redis:
    """A client for the receiver: a bounded pool where a burst waits (up to 3 s) for a free connection
    instead of failing, and short timeouts so a dead Redis is a quick 503, not a GitHub timeout.

    A command that meets a dropped connection is retried once on a fresh one (`stale_connection_retry`):
    otherwise the first delivery after Redis restarted or dropped idle clients got a 503.
    """
    return redis_connect.connect(redis_url, max_connections=64, wait=3, socket_connect_timeout=2,
                                 socket_timeout=3, retry=redis_connect.stale_connection_retry())


async def _enqueue_confirmed(queue: JobQueue, batcher: EnqueueBatcher, envelopes: list[Envelope],
                             answer_by: float) -> int:
    """Queue a delivery's envelopes (one round trip, shared with the deliveries of the same loop turn:
    `EnqueueBatcher`); how many are on the stream because of this delivery
    (queued now, or by its own earlier try), 0 when every dedupe key was seen before. Raises redis errors
    when that cannot be known in time (`CONFIRM_S`, and never after `answer_by`).

    Why: a Redis that stalls longer than the socket timeout still runs the enqueue script it was sent, so
    answering 503 at the timeout told GitHub "not queued" for a delivery that was. After a timeout the
    enqueue is sent again, on its own, on another connection for a while (the script is idempotent: it
    queues nothing when the mark exists). Finding the mark then means this delivery's own first try queued it
    (or an earlier delivery of the same id did): either way it is queued, and the answer is 202.
    """
    try:
        return sum(await batcher.enqueue_all(envelopes))
    except RedisTimeoutError as first:
        timed_out: Exception = first
    log.warning("webhook.redis_timeout", delivery=envelopes[0].delivery_id,
                features=[e.feature for e in envelopes])
    confirm_by = min(answer_by, time.monotonic() + CONFIRM_S)
    while (remaining := confirm_by - time.monotonic()) > 0.05:
        try:
            async with asyncio.timeout(remaining):
                await queue.enqueue_all(envelopes)
            return len(envelopes)
        except (RedisError, OSError, TimeoutError) as exc:
            timed_out = exc
            await asyncio.sleep(min(0.1, max(0.0, confirm_by - time.monotonic())))
    raise timed_out


def create_app(settings: Settings, redis_client: Redis | None = None,
               router: Router | None = None) -> _DirectWebhook:
    """The receiver app. Without `redis_client` it makes one from `settings.redis_url` (closed on shutdown);
    without `router`, prguard's features (`bot.features.router()`).

    Needs only `settings.webhook_secret` and Redis; short Redis timeouts keep a dead Redis from making
    GitHub wait past its 10-second delivery timeout (the answer is then 503). Body memory is bounded by
    `settings.webhook_body_budget` across all requests, and each body must arrive within
    `settings.webhook_read_timeout` seconds.
    """
    if not settings.webhook_secret:
        raise ConfigError("GITHUB_WEBHOOK_SECRET is not set")
    secret = settings.webhook_secret.encode()
    owned = redis_client is None
    redis = redis_client or connect(settings.redis_url)
    queue = JobQueue.from_settings(redis, settings)
    batcher = EnqueueBatcher(queue)
    inspector = deliveries.Inspector()
    budget = BodyBudget(settings.webhook_body_budget)
    if router is None:
        from bot.features import router as default_router

        router = default_router()
    known_events = frozenset({"ping", *(e for f in router.features.values() for e in f.events)})
    counters: dict[tuple[str, str], Any] = {}

    async def webhook(request: Incoming) -> Answer:
        started = time.perf_counter()
        answer_by = time.monotonic() + ANSWER_WITHIN_S
        event = request.headers.get("x-github-event", "")
        delivery = request.headers.get("x-github-delivery", "")
        ctx: dict[str, Any] = {"event": for_log(event), "delivery": for_log(delivery)}
        reader = BodyReader(request, budget, settings.webhook_read_timeout)

        def answer(status: int, outcome: str, **extra: Any) -> Answer:
            ms = round((time.perf_counter() - started) * 1000, 2)
            level = log.warning if status in (401, 408, 413, 499, 503) else log.info
            level("webhook.delivery", outcome=outcome, status=status, ms=ms, **ctx, **extra)
            counter = counters.get((event, outcome))
            if counter is None:  # labels() takes a lock and builds a key: once per (event, outcome)
                counter = metrics.DELIVERIES.labels(metrics.event_label(event, known_events), outcome)
                if len(counters) < 1000:  # a client choosing X-GitHub-Event cannot grow it without bound
                    counters[(event, outcome)] = counter
            counter.inc()
            headers = {} if reader.complete else {"Connection": "close"}
            if outcome == "busy":
                headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
            return Answer(status, outcome, headers)

        signature = request.headers.get("x-hub-signature-256")
        if not signature:
            return answer(401, "missing_signature")
        try:
            try:
                body = await reader.read()
            except Refused as refused:
                return answer(refused.status, refused.outcome)
            except ClientGone:  # 499: nginx's "client closed request"; nothing is sent, the line says so
                return answer(499, "client_disconnected")
            if not signature_ok(secret, body, signature):
                return answer(401, "bad_signature")
            if not event or not delivery or len(delivery) > 200:
                return answer(400, "missing_headers")
            return await deliver(event, delivery, body, request.headers.get("content-type", ""), ctx, answer,
                                 answer_by)
        finally:
            reader.release()

    async def deliver(event: str, delivery: str, body: bytearray, content_type: str, ctx: dict[str, Any],
                      answer: Callable[..., Answer], answer_by: float) -> Answer:
        """An authentic delivery: queue it as it came for a worker to route (`bot.runtime.deliveries`)."""
        if event == "ping":
            return answer(200, "pong")
        if event not in known_events:
            return answer(200, "ignored")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return answer(400, "malformed_json", error="not UTF-8")
        form = content_type.startswith("application/x-www-form-urlencoded")
        fields = inspector.inspect(body, text, form)
        if fields is None:
            return answer(400, "malformed_json", error="not a JSON object, or nested too deep")
        ctx.update(fields)
        envelope = deliveries.envelope(event, delivery, text, form=form)
        try:  # the delivery's dedupe mark and its entry are written together, or neither
            queued = await _enqueue_confirmed(queue, batcher, [envelope], answer_by)
        except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
            return answer(503, "redis_unavailable", error=type(exc).__name__)
        if not queued:
            return answer(200, "duplicate")
        return answer(202, "queued")

    async def metrics_endpoint(_request: Request) -> Response:
        """Prometheus exposition; the queue gauges are read from Redis now (bounded), the rest counted."""
        try:
            stats = await asyncio.wait_for(queue.stats(), 2.0)
            metrics.set_queue(stats, await asyncio.wait_for(queue.oldest_age(), 2.0))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("metrics.queue_unavailable", error=type(exc).__name__)
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    async def healthz(_request: Request) -> JSONResponse:
        try:
            await redis.ping()
        except (RedisError, OSError) as exc:
            log.warning("healthz.redis_unavailable", error=type(exc).__name__)
            return JSONResponse({"status": "redis unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                await redis.aclose()

    async def webhook_route(request: Request) -> Answer:
        """The same handler behind Starlette's router (which only answers other methods: 405)."""
        return await webhook(Incoming(request.scope, request.receive))

    app = Starlette(routes=[Route("/webhook", webhook_route, methods=["POST"]),
                            Route("/webhook/", webhook_route, methods=["POST"]),
                            Route("/healthz", healthz, methods=["GET"]),
                            Route("/metrics", metrics_endpoint, methods=["GET"])], lifespan=lifespan)
    # GitHub does not follow a redirect: `/webhook/` is served above, and any other path is a plain 404
    app.router.redirect_slashes = False
    return _DirectWebhook(app, webhook)


WEBHOOK_PATHS = ("/webhook", "/webhook/")


class _DirectWebhook:
    """Deliveries go straight to the webhook handler; everything else (health, metrics, lifespan, other
    methods and paths) through the Starlette app. Why: the handler already answers every outcome itself and
    never raises, so Starlette's error and exception middleware and its router cost a delivery time (about a
    tenth of the receiver's CPU per delivery) and add nothing."""

    def __init__(self, app: Starlette, webhook: Callable[[Incoming], Awaitable[Answer]]) -> None:
        self.app = app
        self.webhook = webhook
        self.state = app.state
        self.router = app.router

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in WEBHOOK_PATHS:
            response = await self.webhook(Incoming(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
