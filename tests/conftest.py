"""Shared fixtures: a real Redis (the machine's on 127.0.0.1:6379 with a private key prefix, or a private
redis-server when none is reachable) and private servers for tests that stop Redis on purpose."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis as AsyncRedis

from tests.redis_server import RedisServer, delete_prefix, reachable

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "fixtures" / "webhooks"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a running Redis: $PRGUARD_TEST_REDIS_URL, else 127.0.0.1:6379, else a private redis-server."""
    explicit = os.environ.get("PRGUARD_TEST_REDIS_URL")
    if explicit:
        yield explicit
        return
    if reachable("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix private to one test; its keys are deleted afterwards."""
    prefix = f"prguard-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture(name="redis")
async def async_redis(redis_url: str) -> AsyncIterator[AsyncRedis]:
    """An asyncio Redis client on `redis_url` (pair it with `redis_prefix` for private keys)."""
    client = AsyncRedis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which the test may stop and restart."""
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


# The GitHub double's fixture (tests/github_double/README.md describes its API).
from tests.github_double.fixtures import github_double  # noqa: E402, F401
