"""bot.github.client and bot.github.checkruns against the GitHub double over real HTTP: tokens, retries,
idempotency."""

from __future__ import annotations

import time
from typing import Any

import pytest
from githubkit.exception import RequestFailed

from bot.github.checkruns import CheckRuns, pr_from_external_id, run_name
from bot.github.client import GitHubApp, GitHubOptions
from bot.github.render import in_progress_body
from bot.github.retry import RateLimitWaitTooLong
from tests.github_double.double import GitHubDouble

FAST = (0.05, 0.1, 0.2)


def make_app(double: GitHubDouble, **overrides: Any) -> GitHubApp:
    options = GitHubOptions(app_id=double.app_id, private_key=double.private_key_pem, api_url=double.base_url,
                            server_error_delays=FAST, max_rate_limit_wait=5.0, **overrides)
    return GitHubApp(options)


def setup_pr(double: GitHubDouble) -> tuple[int, Any]:
    inst = double.add_installation("octo")
    double.add_repo("octo/repo", installation_id=inst, files={"README.md": b"hi\n"})
    pr = double.create_pull_request("octo/repo", changes={"a.txt": (None, b"one\n")})
    return inst, pr


async def test_installation_token_is_cached_and_refreshed_after_401(github_double: GitHubDouble) -> None:
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    gh = app.installation(inst)
    async with gh:
        for _ in range(3):
            await gh.rest.pulls.async_get("octo", "repo", pr.number)
        assert github_double.token_mints == 1
        github_double.revoke_all_tokens()
        got = (await gh.rest.pulls.async_get("octo", "repo", pr.number)).parsed_data
        assert got.number == pr.number
    assert github_double.token_mints == 2
    assert ("auth", 0.0) in app.retry.retries_taken


async def test_get_retried_on_5xx_with_bounded_delays(github_double: GitHubDouble) -> None:
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    github_double.faults.add(method="GET", path_regex=r"/pulls/\d+$", status=502, times=2)
    gh = app.installation(inst)
    async with gh:
        got = (await gh.rest.pulls.async_get("octo", "repo", pr.number)).parsed_data
    assert got.head.sha == pr.head_sha
    assert [k for k, _ in app.retry.retries_taken] == ["server_error", "server_error"]


async def test_get_gives_up_after_the_configured_retries(github_double: GitHubDouble) -> None:
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    github_double.faults.add(method="GET", path_regex=r"/pulls/\d+$", status=500, times=None)
    gh = app.installation(inst)
    started = time.monotonic()
    async with gh:
        with pytest.raises(RequestFailed) as info:
            await gh.rest.pulls.async_get("octo", "repo", pr.number)
    assert info.value.response.status_code == 500
    assert len(github_double.requests(method="GET", path_regex=r"/pulls/\d+$")) == 1 + len(FAST)
    assert time.monotonic() - started < 3


async def test_post_is_not_blindly_repeated_and_lost_reply_creates_no_duplicate(
    github_double: GitHubDouble,
) -> None:
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    # GitHub applies the POST, then the client sees 502
    github_double.faults.add(method="POST", path_regex=r"/check-runs$", status=502, after_success=True)
    gh = app.installation(inst)
    async with gh:
        runs = CheckRuns(gh, "octo", "repo", write_retry_delays=FAST)
        run = await runs.ensure(pr.head_sha, run_name("secrets"), pr.number, in_progress_body("secrets"))
    on_double = github_double.check_runs("octo/repo", pr.head_sha, name="prguard/secrets")
    assert len(on_double) == 1
    assert on_double[0].id == run.id and on_double[0].status == "in_progress"
    assert pr_from_external_id(on_double[0].external_id) == pr.number
    assert len(github_double.requests(method="POST", path_regex=r"/check-runs$")) == 1


async def test_post_rejected_by_502_is_sent_again(github_double: GitHubDouble) -> None:
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    github_double.faults.add(method="POST", path_regex=r"/check-runs$", status=502)
    gh = app.installation(inst)
    async with gh:
        runs = CheckRuns(gh, "octo", "repo", write_retry_delays=FAST)
        await runs.ensure(pr.head_sha, run_name("iac"), pr.number, in_progress_body("iac"))
        # a second job for the same head reuses the open run
        await runs.ensure(pr.head_sha, run_name("iac"), pr.number, in_progress_body("iac"))
    assert len(github_double.check_runs("octo/repo", pr.head_sha, name="prguard/iac")) == 1
    assert len(github_double.requests(method="POST", path_regex=r"/check-runs$")) == 2


async def test_lost_patch_reply_does_not_duplicate_annotations(github_double: GitHubDouble) -> None:
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    gh = app.installation(inst)
    annotations = [{"path": "a.txt", "start_line": 1, "end_line": 1, "annotation_level": "warning",
                    "title": f"t{i}", "message": "m"} for i in range(10)]
    async with gh:
        runs = CheckRuns(gh, "octo", "repo", write_retry_delays=FAST)
        run = await runs.ensure(pr.head_sha, run_name("secrets"), pr.number, in_progress_body("secrets"))
        github_double.faults.add(method="PATCH", path_regex=r"/check-runs/\d+$", status=502,
                                 after_success=True)
        run = await runs.update(run, {"output": {"title": "x", "summary": "y", "annotations": annotations}},
                                new_annotations=len(annotations))
        run = await runs.update(run, {"status": "completed", "conclusion": "neutral",
                                      "output": {"title": "x", "summary": "y"}})
    on_double = github_double.check_run("octo/repo", pr.head_sha, "prguard/secrets")
    assert len(on_double.annotations) == 10
    assert on_double.conclusion == "neutral"


async def test_secondary_rate_limit_waits_for_retry_after(github_double: GitHubDouble) -> None:
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    github_double.faults.secondary_rate_limit(method="POST", path_regex=r"/check-runs$", retry_after=1)
    gh = app.installation(inst)
    started = time.monotonic()
    async with gh:
        runs = CheckRuns(gh, "octo", "repo", write_retry_delays=FAST)
        await runs.ensure(pr.head_sha, run_name("secrets"), pr.number, in_progress_body("secrets"))
    assert time.monotonic() - started >= 1.0
    assert ("rate_limit", 1.0) in app.retry.retries_taken
    assert len(github_double.check_runs("octo/repo", pr.head_sha, name="prguard/secrets")) == 1


async def test_rate_limit_without_retry_after_uses_the_reset_header(github_double: GitHubDouble) -> None:
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    github_double.faults.secondary_rate_limit(path_regex=r"/pulls/\d+$", retry_after=None, reset_in=1)
    github_double.faults.too_many_requests(path_regex=r"/files", retry_after=1)
    gh = app.installation(inst)
    async with gh:
        await gh.rest.pulls.async_get("octo", "repo", pr.number)
        await gh.rest.pulls.async_list_files("octo", "repo", pr.number)
    kinds = [k for k, _ in app.retry.retries_taken]
    assert kinds == ["rate_limit", "rate_limit"]
    assert all(0 < delay <= 2.5 for _, delay in app.retry.retries_taken)


async def test_rate_limit_longer_than_the_bound_fails_at_once(github_double: GitHubDouble) -> None:
    inst, pr = setup_pr(github_double)
    app = make_app(github_double)
    github_double.faults.secondary_rate_limit(path_regex=r"/pulls/\d+$", retry_after=3600)
    gh = app.installation(inst)
    started = time.monotonic()
    async with gh:
        with pytest.raises(RateLimitWaitTooLong, match="3600 s"):
            await gh.rest.pulls.async_get("octo", "repo", pr.number)
    assert time.monotonic() - started < 2


async def test_enterprise_style_base_url_and_client_reuse(github_double: GitHubDouble) -> None:
    """The double lives under /api/v3 like GHES: every call, the token mint included, keeps the prefix."""
    inst, pr = setup_pr(github_double)
    assert github_double.base_url.endswith("/api/v3")
    app = make_app(github_double)
    gh = app.installation(inst)
    async with gh:
        files = [f async for f in gh.rest.paginate(gh.rest.pulls.async_list_files, owner="octo", repo="repo",
                                                   pull_number=pr.number)]
    assert [f.filename for f in files] == ["a.txt"]
    assert all(r.status < 400 for r in github_double.requests())


async def test_a_timed_out_get_is_retried(github_double: GitHubDouble) -> None:
    inst, pr = setup_pr(github_double)
    app = make_app(github_double, timeout=0.3)
    github_double.faults.slow(1.0, method="GET", path_regex=r"/pulls/\d+$")
    gh = app.installation(inst)
    async with gh:
        got = (await gh.rest.pulls.async_get("octo", "repo", pr.number)).parsed_data
    assert got.number == pr.number
    assert [k for k, _ in app.retry.retries_taken] == ["server_error"]


def test_a_rate_limit_wait_that_is_not_a_finite_number_is_the_default() -> None:
    import httpx

    from bot.github.retry import rate_limit_wait

    for headers in ({"retry-after": "nan"}, {"retry-after": "inf"},
                    {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "nan"}):
        assert rate_limit_wait(httpx.Response(429, headers=headers), 60.0) == 60.0, headers
    assert rate_limit_wait(httpx.Response(429, headers={"retry-after": "3"}), 60.0) == 3.0
