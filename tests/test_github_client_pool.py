"""Concurrent jobs' GitHub clients must not close each other's connections (bot.github.client).

Why this exists: every `async with gh` of a job closes its httpx client at the end, and that closes the
client's transport. When all clients shared one transport (one connection pool per process), the end of any
job killed the requests other jobs had in flight on it (`httpx.ReadError('')`): GETs were retried a second
later; POSTs and PATCHes, never retried blindly, were lost: a check-run write was re-checked and repeated
after a delay, a token mint failed its job, which then waited out the queue's visibility timeout (120 s). In
bench/scale_out.py with 100 ms of GitHub latency: ~2.5 retried GETs and ~1 repeated check-run write per PR,
and the first jobs after each worker start failed. These tests hold one request open on the double while
another client closes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.github.client import GitHubApp, GitHubOptions
from tests.github_double.double import GitHubDouble
from tests.github_double.faults import Fault

SLOW = 0.5  # seconds the double holds the in-flight request


def make_app(double: GitHubDouble) -> GitHubApp:
    """No server-error retries: a killed request must fail the test instead of being hidden by a retry."""
    options = GitHubOptions(app_id=double.app_id, private_key=double.private_key_pem, api_url=double.base_url,
                            server_error_delays=())
    return GitHubApp(options)


def setup_pr(double: GitHubDouble) -> tuple[int, Any]:
    inst = double.add_installation("octo")
    double.add_repo("octo/repo", installation_id=inst, files={"README.md": b"hi\n"})
    pr = double.create_pull_request("octo/repo", changes={"a.txt": (None, b"one\n")})
    return inst, pr


async def _in_flight(fault: Fault) -> None:
    """Until the double holds the slow request (a fault counts its hit before it sleeps)."""
    while not fault.hits:
        await asyncio.sleep(0.005)


async def _short_job(app: GitHubApp, inst: int, fault: Fault) -> None:
    """Another job: one quick call, then its client closes while the slow request is still in flight."""
    await _in_flight(fault)
    gh = app.installation(inst)
    async with gh:
        await gh.rest.repos.async_get("octo", "repo")


async def test_a_job_ending_does_not_kill_another_jobs_get(github_double: GitHubDouble) -> None:
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    async with app.installation(inst) as warm:  # the token is minted once, before the race
        await warm.rest.repos.async_get("octo", "repo")
    slow = github_double.faults.slow(SLOW, method="GET", path_regex=r"/pulls/\d+$")

    async def slow_job() -> int:
        gh = app.installation(inst)
        async with gh:
            return (await gh.rest.pulls.async_get("octo", "repo", pr.number)).parsed_data.number

    number, _ = await asyncio.wait_for(asyncio.gather(slow_job(), _short_job(app, inst, slow)), 10)
    assert number == pr.number
    assert list(app.retry.retries_taken) == []


async def test_a_job_ending_does_not_kill_another_jobs_post(github_double: GitHubDouble) -> None:
    """A POST is never retried on a lost connection (it may have been applied): it must not be lost."""
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    async with app.installation(inst) as warm:
        await warm.rest.repos.async_get("octo", "repo")
    slow = github_double.faults.slow(SLOW, method="POST", path_regex=r"/check-runs$")

    async def slow_job() -> str:
        gh = app.installation(inst)
        async with gh:
            run = await gh.rest.checks.async_create("octo", "repo", name="prguard/secrets",
                                                    head_sha=pr.head_sha)
            return run.parsed_data.name

    name, _ = await asyncio.wait_for(asyncio.gather(slow_job(), _short_job(app, inst, slow)), 10)
    assert name == "prguard/secrets"
    assert len(github_double.check_runs("octo/repo", pr.head_sha, "prguard/secrets")) == 1


async def test_an_app_call_without_a_context_does_not_kill_installation_requests(
    github_double: GitHubDouble,
) -> None:
    """`github.app` without `async with` (the sign-off's bot login) opens and closes a client per call."""
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    async with app.installation(inst) as warm:
        await warm.rest.repos.async_get("octo", "repo")
    slow = github_double.faults.slow(SLOW, method="GET", path_regex=r"/pulls/\d+$")

    async def slow_job() -> int:
        gh = app.installation(inst)
        async with gh:
            return (await gh.rest.pulls.async_get("octo", "repo", pr.number)).parsed_data.number

    async def app_call() -> None:
        await _in_flight(slow)
        await app.app.rest.apps.async_get_authenticated()

    number, _ = await asyncio.wait_for(asyncio.gather(slow_job(), app_call()), 10)
    assert number == pr.number
    assert list(app.retry.retries_taken) == []


async def test_connections_are_reused_within_one_job_only(github_double: GitHubDouble) -> None:
    """A job's calls share its client's connection (what `async with gh` is for); two jobs share nothing."""
    inst, _pr = setup_pr(github_double)
    app = make_app(github_double)
    pools = []
    for _ in range(2):
        gh = app.installation(inst)
        async with gh:
            for _ in range(3):  # the token mint included
                await gh.rest.repos.async_get("octo", "repo")
            async with gh.get_async_client() as client:  # the job's own client, not a new one
                pool = client._transport.inner._pool  # MetricsTransport -> httpx -> httpcore's pool
            assert len(pool.connections) == 1
            pools.append(pool)
    assert pools[0] is not pools[1]


async def test_the_environments_proxy_settings_apply_to_every_jobs_transport(
    github_double: GitHubDouble, monkeypatch: Any
) -> None:
    """httpx reads HTTPS_PROXY/NO_PROXY only for clients without a transport of their own, and each job's
    client now has one: a deployment whose only way out is a proxy must still go through it."""
    import socket

    import httpx
    import pytest
    from githubkit.exception import RequestError

    inst, _pr = setup_pr(github_double)
    with socket.socket() as s:  # a port nothing listens on: the "proxy" refuses every connection
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead}")
    with pytest.raises(RequestError) as refused:  # through the proxy: nothing answers
        async with make_app(github_double).installation(inst) as gh:
            await gh.rest.repos.async_get("octo", "repo")
    assert isinstance(refused.value.exc, httpx.ConnectError), refused.value.exc
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the double's host exempted: straight to it
    async with make_app(github_double).installation(inst) as gh:
        assert (await gh.rest.repos.async_get("octo", "repo")).parsed_data.full_name == "octo/repo"
