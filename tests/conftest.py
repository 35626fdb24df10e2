"""Common fixtures: a real Redis (the machine's on 127.0.0.1:6379 with a private key prefix, or a private
redis-server when none is reachable), private servers for tests that stop Redis on purpose, the paths of
the third-party data in tests/fixtures, and a seeded key generator per test (tests/secrets_keys.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis as AsyncRedis

from tests import secrets_keys
from tests.redis_server import RedisServer, delete_prefix, reachable

# shared helpers that assert (pytest rewrites asserts only in test modules unless told)
pytest.register_assert_rewrite("tests.bad_input_app", "tests.signoff_stack")

#: Third-party data the tests read, kept in the repository (tests/fixtures/README.md names each source).
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
#: GitHub's real webhook payloads: `FIXTURES / <event> / <action>.payload.json`.
FIXTURES = FIXTURES_DIR / "webhooks"
#: JSON schemas of third-party formats (SARIF 2.1.0).
SCHEMAS = FIXTURES_DIR / "schemas"


@pytest.fixture(autouse=True)
def key_seed(request: pytest.FixtureRequest) -> int:
    """Every test draws its generated keys from `secrets_keys.RNG`, reseeded here from the run's seed
    (PRGUARD_TEST_SEED) and the test's node id: the same keys whether it runs alone or in the suite."""
    return secrets_keys.reseed(request.node.nodeid)


@pytest.fixture(autouse=True)
def private_config_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """`prguard scan` keeps a per-user fingerprint key under $XDG_CONFIG_HOME: never the real home's in
    tests. The key a test's scan installed is dropped after it, so each test starts keyless."""
    from checks.secrets.fingerprint import set_key

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "xdg-config"))
    monkeypatch.delenv("PRGUARD_FINGERPRINT_KEY", raising=False)
    yield
    set_key(None)


def pytest_report_header(config: pytest.Config) -> str:
    return f"generated test keys: PRGUARD_TEST_SEED={secrets_keys.SEED}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Print the seed next to every failure, so that its generated keys can be drawn again."""
    report = yield
    if report.failed:
        report.sections.append(
            (
                "generated test keys",
                f"PRGUARD_TEST_SEED={secrets_keys.SEED} .venv/bin/pytest '{item.nodeid}' draws the same keys",
            )
        )
    return report


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
