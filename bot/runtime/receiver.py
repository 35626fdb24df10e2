"""The webhook receiver: verify, deduplicate, queue, answer — in milliseconds, no GitHub call, no scan.

Why so little: GitHub gives a delivery 10 seconds and never retries by itself, so the receiver only decides
whether a delivery is authentic, asks the router which features want it (`bot.runtime.router`: payload only,
no GitHub call) and makes their envelopes durable on the Redis Stream; workers do the rest.

    POST /webhook
      no X-Hub-Signature-256                  -> 401 (the SHA-1 X-Hub-Signature alone is not accepted)
      body over 25 MB                         -> 413 (Content-Length checked first; the stream is cut off)
      signature mismatch (HMAC-SHA256, raw)   -> 401, checked before anything is parsed
      not JSON / not an object / odd shape    -> 400
      no feature wants it, ping               -> 200 {"status": "ignored"} / {"status": "pong"}
      every envelope's dedupe key seen        -> 200 {"status": "duplicate"}, nothing queued
      relevant                                -> 202 {"status": "queued"}, one stream entry per new envelope
      Redis unreachable                       -> 503, so GitHub shows the delivery failed (redeliverable)
    GET /healthz                              -> 200 {"status": "ok"} when Redis answers PING, else 503

One structured log line per delivery (`webhook.delivery`: event, delivery, repo, pr, head_sha, features,
outcome, status, ms); never the body. `prguard serve` (bot/cli/serve.py) runs this app under uvicorn.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.log import get_logger
from bot.runtime.queue import JobQueue, stale_connection_retry
from bot.runtime.router import Router
from bot.settings import ConfigError, Settings

log = get_logger("prguard.web")

#: GitHub caps webhook payloads at 25 MB; anything larger is not from GitHub.
MAX_BODY_BYTES = 25 * 1024 * 1024


class BodyTooLarge(Exception):
    pass


async def read_capped(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing (without reading the rest) as soon as it exceeds `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` over the raw bytes, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def _payload(body: bytes, content_type: str) -> dict[str, Any] | None:
    """The JSON object GitHub sent (JSON, or the form encoding's `payload` field); None when malformed."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            text = parse_qs(body.decode("utf-8"), strict_parsing=True).get("payload", [""])[0]
        else:
            text = body.decode("utf-8")
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def connect(redis_url: str) -> Redis:
    """A client for the receiver: a bounded pool where a burst waits (up to 3 s) for a free connection
    instead of failing, and short timeouts so a dead Redis is a quick 503, not a GitHub timeout.

    A command that meets a dropped connection is retried once on a fresh one (`stale_connection_retry`):
    otherwise the first delivery after Redis restarted or dropped idle clients got a 503.
    """
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=64, timeout=3, socket_connect_timeout=2,
                                           socket_timeout=3, retry=stale_connection_retry())
    return Redis.from_pool(pool)


def create_app(settings: Settings, redis_client: Redis | None = None,
               router: Router | None = None) -> Starlette:
    """The receiver app. Without `redis_client` it makes one from `settings.redis_url` (closed on shutdown);
    without `router`, prguard's features (`bot.features.router()`).

    Needs only `settings.webhook_secret` and Redis; short Redis timeouts keep a dead Redis from making
    GitHub wait past its 10-second delivery timeout (the answer is then 503).
    """
    if not settings.webhook_secret:
        raise ConfigError("GITHUB_WEBHOOK_SECRET is not set")
    secret = settings.webhook_secret.encode()
    owned = redis_client is None
    redis = redis_client or connect(settings.redis_url)
    queue = JobQueue.from_settings(redis, settings)
    if router is None:
        from bot.features import router as default_router

        router = default_router()

    async def webhook(request: Request) -> JSONResponse:
        started = time.perf_counter()
        event = request.headers.get("x-github-event", "")
        delivery = request.headers.get("x-github-delivery", "")
        ctx: dict[str, Any] = {"event": event, "delivery": delivery}

        def answer(status: int, outcome: str, **extra: Any) -> JSONResponse:
            ms = round((time.perf_counter() - started) * 1000, 2)
            level = log.warning if status in (401, 413, 503) else log.info
            level("webhook.delivery", outcome=outcome, status=status, ms=ms, **ctx, **extra)
            return JSONResponse({"status": outcome}, status_code=status)

        signature = request.headers.get("x-hub-signature-256")
        if not signature:
            return answer(401, "missing_signature")
        try:
            body = await read_capped(request)
        except BodyTooLarge:
            return answer(413, "too_large")
        if not signature_ok(secret, body, signature):
            return answer(401, "bad_signature")
        if not event or not delivery or len(delivery) > 200:
            return answer(400, "missing_headers")
        payload = _payload(body, request.headers.get("content-type", ""))
        if payload is None:
            return answer(400, "malformed_json")
        if event == "ping":
            return answer(200, "pong")
        try:
            envelopes = router.route(event, delivery, payload)
        except (KeyError, TypeError, ValueError, AttributeError):
            return answer(400, "unexpected_payload", action=str(payload.get("action", "")))
        if not envelopes:
            repo = (payload.get("repository") or {}).get("full_name") if isinstance(
                payload.get("repository"), dict) else None
            return answer(200, "ignored", action=str(payload.get("action", "")), repo=repo)
        ctx = {**ctx, **envelopes[0].log_context(), "features": [e.feature for e in envelopes]}
        ctx.pop("feature", None)
        queued = 0
        try:
            for envelope in envelopes:  # each has its own dedupe mark: a retry queues only what is missing
                queued += await queue.enqueue(envelope)
        except (RedisError, OSError) as exc:
            return answer(503, "redis_unavailable", error=type(exc).__name__)
        if not queued:
            return answer(200, "duplicate")
        return answer(202, "queued")

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

    return Starlette(routes=[Route("/webhook", webhook, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"])], lifespan=lifespan)
