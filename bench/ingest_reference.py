"""The bare reference receiver of the ingest benchmark (bench/webhook_ingest.py), not part of prguard.

It does only what any webhook receiver must: read the body, check the HMAC-SHA256 signature, mark the
delivery id with SET NX (dedupe) and XADD the body to a stream, answering 202 (or 200 for a duplicate). It
runs on the same stack as `prguard serve` (uvicorn, uvloop, httptools, redis-py with hiredis), so the ratio
of the two is what prguard's own work costs.

    python bench/ingest_reference.py PORT REDIS_URL PREFIX SECRET
"""

from __future__ import annotations

import hashlib
import hmac
import sys

import uvicorn
from redis.asyncio import Redis


def build(redis_url: str, prefix: str, secret: bytes):  # type: ignore[no-untyped-def]
    redis = Redis.from_url(redis_url, max_connections=64)

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = dict(scope["headers"])
        signature = headers.get(b"x-hub-signature-256", b"").decode()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        status = 401
        if hmac.compare_digest(signature, expected):
            delivery = headers.get(b"x-github-delivery", b"").decode()
            if await redis.set(f"{prefix}:delivery:{delivery}", "1", nx=True, ex=4 * 86400):
                await redis.xadd(f"{prefix}:jobs", {"body": body}, maxlen=100_000, approximate=True)
                status = 202
            else:
                status = 200
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"status": "ok"}'})

    return app


if __name__ == "__main__":
    port, redis_url, prefix, secret = sys.argv[1:5]
    uvicorn.run(
        build(redis_url, prefix, secret.encode()),
        host="127.0.0.1",
        port=int(port),
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )
