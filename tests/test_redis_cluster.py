"""Issue 11 part 3: prguard unchanged on a Redis Cluster and behind Sentinel, including a failover mid-run.

A real 3-master cluster (with a replica each) and a real Sentinel pair run on loopback. The whole App
(receiver, worker, the GitHub double) runs against them; a burst of PRs is delivered, the master holding
prguard's keys is failed over in the middle, and every PR must still get its four completed runs exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import load_settings
from tests.e2e_stack import CHECKS, Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.redis_cluster import Cluster, SentinelSet
from tests.secrets_keys import github_token


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = Cluster(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def sentinel_set(tmp_path: Path) -> Iterator[SentinelSet]:
    started = SentinelSet(tmp_path / "sentinel").start()
    try:
        yield started
    finally:
        started.stop()


def test_on_a_cluster_every_key_shares_the_prefix_hash_tag() -> None:
    settings = load_settings("any", redis_url="redis+cluster://127.0.0.1:7000,127.0.0.1:7001",
                             redis_prefix="acme")
    assert settings.redis_prefix == "{acme}"
    tagged = load_settings("any", redis_url="redis+cluster://127.0.0.1:7000", redis_prefix="{x}:prod")
    assert tagged.redis_prefix == "{x}:prod"
    single = load_settings("any", redis_url="redis://127.0.0.1:6379/0", redis_prefix="acme")
    assert single.redis_prefix == "acme"  # unchanged: a rolling deploy keeps its key names


async def _burst(stack: Stack, double: GitHubDouble, inst: int, count: int, during=None):  # type: ignore[no-untyped-def]
    """Deliver `count` PRs (redelivering on 503, as GitHub lets an operator), calling `during` halfway."""
    prs = []
    for i in range(count):
        if during is not None and i == count // 2:
            await asyncio.to_thread(during)
        pr = double.create_pull_request("octo/repo", changes={
            f"leak{i}.py": (None, b"T = '%s'\n" % github_token().encode())}, head=f"feature-{i}")
        delivery = str(uuid.uuid4())
        for _ in range(50):
            status = (await stack.deliver("pull_request", pr_payload(pr, inst), delivery)).status_code
            if status != 503:
                break
            await asyncio.sleep(0.2)
        assert status == 202, status
        prs.append(pr)
    return prs


async def _all_scanned_once(stack: Stack, double: GitHubDouble, prs) -> None:  # type: ignore[no-untyped-def]
    for pr in prs:
        runs = await stack.completed(pr.head_sha, timeout=60)
        assert runs["prguard/secrets"].conclusion == "failure"
        names = [r.name for r in double.check_runs("octo/repo", pr.head_sha) if r.name in CHECKS]
        assert sorted(names) == sorted(CHECKS), "scanned more than once"
    await stack.drained(timeout=30)
    assert await stack.redis.xlen(f"{stack.settings.redis_prefix}:dead") == 0


@pytest.mark.timeout(180)
async def test_the_app_runs_unchanged_on_a_cluster_through_a_master_failover(
    github_double: GitHubDouble, cluster: Cluster
) -> None:
    prefix = f"prguard-cluster-{uuid.uuid4().hex[:8]}"
    async with Stack(github_double, cluster.url, prefix, concurrency=4) as stack:
        assert stack.settings.redis_prefix == "{" + prefix + "}"
        inst = stack.repo()
        moved: list[int] = []

        def fail_over() -> None:
            old, new = cluster.failover(f"{stack.settings.redis_prefix}:jobs")
            moved.extend([old.port, new.port])

        prs = await _burst(stack, github_double, inst, 6, during=fail_over)
        await _all_scanned_once(stack, github_double, prs)
    assert len(moved) == 2 and moved[0] != moved[1]


@pytest.mark.timeout(180)
async def test_the_app_follows_a_sentinel_failover(github_double: GitHubDouble,
                                                   sentinel_set: SentinelSet) -> None:
    prefix = f"prguard-sentinel-{uuid.uuid4().hex[:8]}"
    async with Stack(github_double, sentinel_set.url, prefix, concurrency=4) as stack:
        inst = stack.repo()
        before = sentinel_set.master_port()
        prs = await _burst(stack, github_double, inst, 4, during=sentinel_set.failover)
        await _all_scanned_once(stack, github_double, prs)
    assert sentinel_set.master_port() != before
