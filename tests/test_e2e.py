"""End to end over real HTTP: signed delivery → running receiver → Redis Stream → worker → GitHub double.

Each test builds a `Stack` (tests/e2e_stack.py): the receiver under uvicorn on loopback, one
`bot.runtime.worker.Worker` running the scan feature's handler, a real Redis (private key prefix) and a fresh
GitHub double, and asserts what a user sees on GitHub: the four check runs, their conclusions, summaries and
annotations.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import redis

from bot.github.checkruns import pr_from_external_id
from tests.e2e_stack import CHECKS, Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.secrets_keys import github_token
from tests.webhooks import fixture_payload

LEAKY_HEAD = b"import os\n\nTOKEN = '%s'\nprint(TOKEN)\n"


#: these tests are about the scan's runtime behaviour: the sign-off feature is left out of the stack
SCAN = ("scan",)


def scan_runs(double: GitHubDouble, head_sha: str) -> list[Any]:
    """The four checks' runs on a head (the sign-off's own run is the sign-off tests' business)."""
    return [r for r in double.check_runs("octo/repo", head_sha) if r.name in CHECKS]


def leaky_pr(double: GitHubDouble) -> Any:
    """A PR on octo/repo that adds `leak.py` holding a fresh GitHub token on line 1."""
    return double.create_pull_request("octo/repo", changes={
        "leak.py": (None, b"T = '%s'\n" % github_token().encode()),
    })


async def test_opened_pr_adding_a_secret_gets_four_completed_runs(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        token = github_token()
        pr = github_double.create_pull_request("octo/repo", changes={
            "app/settings.py": (b"import os\n", LEAKY_HEAD % token.encode()),
            "docs/notes.md": (None, b"nothing to see\n"),
        })
        reply = await stack.deliver("pull_request", pr_payload(pr, inst))
        assert reply.status_code == 202
        runs = await stack.completed(pr.head_sha)

    secrets_run = runs["prguard/secrets"]
    assert secrets_run.conclusion == "failure"
    assert [(a["path"], a["start_line"], a["annotation_level"]) for a in secrets_run.annotations] == [
        ("app/settings.py", 3, "failure")
    ]
    assert "GitHub token" in secrets_run.summary
    assert f"/blob/{pr.head_sha}/app/settings.py#L3" in secrets_run.summary
    for name in ("prguard/dependencies", "prguard/iac", "prguard/prompt-safety"):
        assert runs[name].conclusion == "success", (name, runs[name].title)  # nothing of theirs changed
    # one run per check, each started in_progress, and never a secret in anything posted
    assert sorted(r.name for r in scan_runs(github_double, pr.head_sha)) == sorted(CHECKS)
    posted = [r.body for r in github_double.requests(path_regex=r"/check-runs") if r.body]
    assert all(body.get("status") == "in_progress"
               for body in posted[:4]), "runs are created in_progress when the job starts"
    assert token not in repr(posted)


async def test_more_than_50_findings_are_posted_in_batches_of_50(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        leaked = b"".join(b"TOKEN_%d = '%s'\n" % (i, github_token().encode()) for i in range(120))
        pr = github_double.create_pull_request("octo/repo", changes={"config/tokens.py": (None, leaked)})
        assert (await stack.deliver("pull_request", pr_payload(pr, inst))).status_code == 202
        runs = await stack.completed(pr.head_sha)
    run = runs["prguard/secrets"]
    assert run.conclusion == "failure"
    assert run.annotation_batches == [50, 50, 20]
    assert sorted(a["start_line"] for a in run.annotations) == list(range(1, 121))
    assert run.title.startswith("120 blocking findings")


async def test_github_502_on_create_and_secondary_rate_limit_are_survived(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={
            "app.py": (None, b"T = '%s'\n" % github_token().encode()),
        })
        # the create is applied but its reply is lost; then GitHub asks us to slow down on an update
        github_double.faults.add(method="POST", path_regex=r"/check-runs$", status=502, after_success=True)
        github_double.faults.secondary_rate_limit(method="PATCH", path_regex=r"/check-runs/\d+$",
                                                  retry_after=1)
        assert (await stack.deliver("pull_request", pr_payload(pr, inst))).status_code == 202
        runs = await stack.completed(pr.head_sha)
    assert len(scan_runs(github_double, pr.head_sha)) == 4, "no duplicate run after the 502"
    assert runs["prguard/secrets"].conclusion == "failure"
    limited = github_double.requests(method="PATCH", path_regex=r"/check-runs/\d+$")
    refused = [r for r in limited if r.status == 403]
    assert len(refused) == 1
    after = [r for r in limited if r.at > refused[0].at and r.path == refused[0].path]
    assert after and after[0].at - refused[0].at >= 1.0, "the retry waited for Retry-After"


async def test_synchronize_supersedes_the_older_head(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x = 1\n")})
        old_head = pr.head_sha
        # the first scan is slow to list files, so the new push arrives while it runs
        github_double.faults.slow(1.5, method="GET", path_regex=r"/pulls/\d+/files")
        await stack.deliver("pull_request", pr_payload(pr, inst, updated_at="2026-01-01T00:00:00Z"))
        await stack.until(lambda: len(scan_runs(github_double, old_head)) == 4)
        new_head = github_double.push("octo/repo", pr.number, {"a.py": b"x = 2\n"})
        await stack.deliver("pull_request", pr_payload(pr, inst, action="synchronize", head_sha=new_head,
                                                       updated_at="2026-01-01T00:05:00Z"))
        new_runs = await stack.completed(new_head)
        old_runs = await stack.completed(old_head)
    assert {r.conclusion for r in old_runs.values()} == {"cancelled"}
    assert all(new_head[:12] in r.summary for r in old_runs.values())
    assert new_runs["prguard/secrets"].conclusion == "success"


async def test_a_newer_push_cancels_only_the_scans_runs_not_another_features_run_on_the_commit(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """`cancel` belongs to the feature: the scan closes its own four runs, never (say) the sign-off's."""
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN, start_worker=False) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x = 1\n")})
        old_head = pr.head_sha
        gh = stack.github.installation(inst)
        async with gh:
            await gh.rest.checks.async_create("octo", "repo", data={
                "name": "prguard/ai-safety-sign-off", "head_sha": old_head, "status": "in_progress"})
        await stack.deliver("pull_request", pr_payload(pr, inst, updated_at="2026-01-01T00:00:00Z"))
        new_head = github_double.push("octo/repo", pr.number, {"a.py": b"x = 2\n"})
        await stack.deliver("pull_request", pr_payload(pr, inst, action="synchronize", head_sha=new_head,
                                                       updated_at="2026-01-01T00:05:00Z"))
        # the old scan opens its runs first, then the queue sees the newer head: run the worker on all
        # (each delivery also queued the sign-off's job)
        while await stack.worker.run_once():
            pass
        new_runs = await stack.completed(new_head)
    assert new_runs["prguard/secrets"].conclusion == "success"
    [signoff] = github_double.check_runs("octo/repo", old_head, "prguard/ai-safety-sign-off")
    assert signoff.status == "in_progress"


@pytest.mark.parametrize("endpoint", [
    pytest.param(r"/pulls/\d+/files", id="after-the-runs-were-opened"),
    pytest.param(r"/pulls/\d+$", id="before-any-run-existed"),
])
async def test_a_job_that_always_fails_is_dead_lettered_and_its_runs_fail(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str, endpoint: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN, max_attempts=2,
                     visibility_timeout=1.0) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x = 1\n")})
        github_double.faults.add(method="GET", path_regex=endpoint, status=500, times=None)
        await stack.deliver("pull_request", pr_payload(pr, inst))
        runs = await stack.completed(pr.head_sha, timeout=30)
    for run in runs.values():
        assert run.conclusion == "failure"
        assert "could not finish" in run.summary and "Re-run" in run.summary
        assert "500" in run.summary, "the summary gives the (redacted) last error"
    assert len(scan_runs(github_double, pr.head_sha)) == 4
    failing_calls = github_double.requests(method="GET", path_regex=endpoint)
    assert len(failing_calls) == 2 * 4, "two attempts, each retrying its GET three times"
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.xlen(f"{redis_prefix}:dead") == 1
    finally:
        client.close()


async def test_invalid_policy_on_the_base_fails_every_run_with_the_line(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        github_double.set_content("octo/repo", ".github/prguard.yml",
                                  b"fail_on: high\nchecks:\n  secrets: maybe\n", ref="main")
        pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x = 1\n")})
        await stack.deliver("pull_request", pr_payload(pr, inst))
        runs = await stack.completed(pr.head_sha)
    for run in runs.values():
        assert run.conclusion == "failure"
        assert "line 3" in run.title and "line 3" in run.summary


async def test_a_policy_in_the_pr_head_cannot_switch_checks_off(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={
            ".github/prguard.yml": (None, b"checks:\n  secrets: false\n"),
            "leak.py": (None, b"T = '%s'\n" % github_token().encode()),
        })
        await stack.deliver("pull_request", pr_payload(pr, inst))
        runs = await stack.completed(pr.head_sha)
    assert runs["prguard/secrets"].conclusion == "failure"
    reads = github_double.requests(method="GET", path_regex=r"/contents/\.github/prguard\.yml")
    refs = [parse_qs(r.query).get("ref", [""])[0] for r in reads]
    # the policy came from the base branch; the head's copy was only fetched to be scanned like any file
    assert "main" in refs and set(refs) <= {"main", pr.head_sha}


async def test_a_policy_on_the_base_can_switch_a_check_off(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        github_double.set_content("octo/repo", ".github/prguard.yml", b"checks:\n  secrets: false\n",
                                  ref="main")
        pr = leaky_pr(github_double)
        await stack.deliver("pull_request", pr_payload(pr, inst))
        runs = await stack.completed(pr.head_sha)
    assert runs["prguard/secrets"].conclusion == "neutral"
    assert runs["prguard/secrets"].title == "Disabled by .github/prguard.yml on main"


def _point_at(payload: dict[str, Any], inst: int) -> dict[str, Any]:
    payload["installation"]["id"] = inst
    payload["repository"]["owner"]["login"] = "octo"
    payload["repository"]["name"] = "repo"
    payload["repository"]["full_name"] = "octo/repo"
    return payload


def _suite_requested(inst: int, head_sha: str) -> dict[str, Any]:
    """GitHub's real `check_suite.requested` payload (as sent for fork PRs: no `pull_requests`)."""
    payload = _point_at(fixture_payload("check_suite", "requested"), inst)
    payload["check_suite"]["head_sha"] = head_sha
    return payload


async def test_fork_check_suite_without_pull_requests_is_mapped_to_its_pr(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """`check_suite` events from forks carry `pull_requests: []`: the head SHA is mapped back to its PR."""
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        pr = leaky_pr(github_double)
        payload = _suite_requested(inst, pr.head_sha)
        assert payload["check_suite"]["pull_requests"] == []
        assert (await stack.deliver("check_suite", payload)).status_code == 202
        runs = await stack.completed(pr.head_sha)
        assert runs["prguard/secrets"].conclusion == "failure"
        assert all(pr_from_external_id(r.external_id) == pr.number for r in runs.values())

        # "Re-run" on a completed run of that fork PR (check_run.rerequested, again without pull_requests)
        rerun = _point_at(fixture_payload("check_run", "rerequested"), inst)
        rerun["check_run"]["head_sha"] = pr.head_sha
        rerun["check_run"]["check_suite"]["head_sha"] = pr.head_sha
        assert (await stack.deliver("check_run", rerun)).status_code == 202
        await stack.until(lambda: len(scan_runs(github_double, pr.head_sha)) == 8)
        again = await stack.completed(pr.head_sha)
    assert {r.id for r in again.values()}.isdisjoint({r.id for r in runs.values()})
    assert again["prguard/secrets"].conclusion == "failure"


async def test_a_worker_killed_mid_job_is_replaced_by_another_that_finishes_it(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN, start_worker=False,
                     max_attempts=3) as stack:
        inst = stack.repo()
        pr = leaky_pr(github_double)
        # worker A (a real `prguard worker` process) stalls listing the files, and is killed there
        github_double.faults.slow(30.0, method="GET", path_regex=r"/pulls/\d+/files")
        env = {**os.environ, "GITHUB_APP_ID": str(github_double.app_id),
               "GITHUB_PRIVATE_KEY": github_double.private_key_pem, "GITHUB_API_URL": github_double.base_url,
               "REDIS_URL": redis_url, "PRGUARD_REDIS_PREFIX": redis_prefix,
               "PRGUARD_VISIBILITY_TIMEOUT": "1", "PRGUARD_MAX_ATTEMPTS": "3", "PRGUARD_LOG_LEVEL": "WARNING",
               "PRGUARD_RECONCILE_INTERVAL": "0"}
        log = (tmp_path / "worker-a.log").open("wb")
        worker_a = subprocess.Popen([sys.executable, "-m", "bot.cli.main", "worker", "--concurrency", "1"],
                                    cwd=Path(__file__).resolve().parents[1], env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            await stack.deliver("pull_request", pr_payload(pr, inst))
            # A created the four runs in_progress and is now stuck in the slow files request
            await stack.until(lambda: len(scan_runs(github_double, pr.head_sha)) == 4
                              and any(f.hits for f in github_double.faults), timeout=30)
            assert worker_a.poll() is None
            worker_a.kill()
            worker_a.wait(10)
        finally:
            if worker_a.poll() is None:
                worker_a.kill()
                worker_a.wait(10)
            log.close()
        assert {r.status for r in scan_runs(github_double, pr.head_sha)} == {"in_progress"}
        # worker B reclaims the job after the visibility timeout and finishes it
        stack.task = asyncio.create_task(stack.worker.run(stack.stop))
        runs = await stack.completed(pr.head_sha, timeout=30)
    assert len(scan_runs(github_double, pr.head_sha)) == 4, "B reused A's in-progress runs"
    assert runs["prguard/secrets"].conclusion == "failure"


async def test_runs_of_a_pr_closed_between_attempts_are_not_left_in_progress(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN, max_attempts=3) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x = 1\n")})
        # the first attempt opens the runs, then cannot list the files (1 try + 3 retries all fail)
        fault = github_double.faults.add(method="GET", path_regex=r"/pulls/\d+/files", status=500, times=4)
        await stack.deliver("pull_request", pr_payload(pr, inst))
        await stack.until(lambda: fault.hits == 4)
        with github_double.state.lock:
            github_double.state.repo("octo/repo").pulls[pr.number].state = "closed"
        runs = await stack.completed(pr.head_sha)
    assert {(r.conclusion, r.title) for r in runs.values()} == {("cancelled", "Pull request closed")}
    assert len(scan_runs(github_double, pr.head_sha)) == 4


async def test_one_push_delivered_as_pull_request_and_check_suite_is_scanned_once(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """GitHub announces one push as `pull_request.synchronize` and `check_suite.requested`: one scan."""
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        pr = leaky_pr(github_double)
        suite = _suite_requested(inst, pr.head_sha)
        assert (await stack.deliver("pull_request", pr_payload(pr, inst, action="synchronize"))
                ).status_code == 202
        assert (await stack.deliver("check_suite", suite)).status_code == 202
        runs = await stack.completed(pr.head_sha)
        await stack.drained()  # both jobs were taken and acknowledged
    assert runs["prguard/secrets"].conclusion == "failure"
    assert len(scan_runs(github_double, pr.head_sha)) == 4, "the second delivery did not rescan"


async def test_annotations_github_refuses_do_not_leave_the_run_in_progress(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """GitHub answers 422 for a whole update when it dislikes one annotation: the run still completes."""
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN, max_attempts=3) as stack:
        inst = stack.repo()
        pr = leaky_pr(github_double)
        listing = github_double.faults.slow(1.0, method="GET", path_regex=r"/pulls/\d+/files")
        await stack.deliver("pull_request", pr_payload(pr, inst))
        await stack.until(lambda: len(scan_runs(github_double, pr.head_sha)) == 4
                          and listing.hits == 1)
        secrets_id = github_double.check_run("octo/repo", pr.head_sha, "prguard/secrets").id
        # the completing PATCH (it carries the annotation) is refused; one without annotations would pass
        github_double.faults.add(
            method="PATCH", path_regex=rf"/check-runs/{secrets_id}$", status=422, times=1,
            body={"message": "Validation Failed",
                  "errors": [{"resource": "CheckRun", "code": "invalid", "field": "annotations"}]},
        )
        runs = await stack.completed(pr.head_sha)
    run = runs["prguard/secrets"]
    assert (run.conclusion, run.title) == ("failure", "1 blocking finding")
    assert run.annotations == []
    assert "GitHub refused this run's inline annotations" in run.summary
    assert "leak.py:1" in run.summary, "the table still shows the finding"
    assert {r.conclusion for n, r in runs.items() if n != "prguard/secrets"} == {"success"}
    assert len(scan_runs(github_double, pr.head_sha)) == 4, "completed in the first attempt"


async def test_a_force_push_mid_scan_cancels_the_old_heads_runs_instead_of_posting_them(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """The push's own delivery has not arrived yet: the files list (new head) gives the push away."""
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x = 1\n")})
        old_head = pr.head_sha
        github_double.faults.slow(1.0, method="GET", path_regex=r"/pulls/\d+/files")
        await stack.deliver("pull_request", pr_payload(pr, inst))
        await stack.until(lambda: len(scan_runs(github_double, old_head)) == 4)
        new_head = github_double.push("octo/repo", pr.number, {
            "b.py": b"T = '%s'\n" % github_token().encode(),
        })
        old_runs = await stack.completed(old_head)
    assert {(r.conclusion, r.title) for r in old_runs.values()} == {
        ("cancelled", "Superseded by a newer push")
    }
    assert all(new_head[:12] in r.summary for r in old_runs.values())
    assert not github_double.requests(path_regex=r"/contents/b\.py"), "nothing read at a mixed-up head"


async def test_a_deleted_base_branch_reads_the_policy_at_the_base_sha_not_the_defaults(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """A 404 for an unknown *ref* is not "no policy": the stricter base policy must still apply."""
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        github_double.set_content("octo/repo", ".github/prguard.yml", b"checks:\n  secrets: false\n",
                                  ref="main")
        pr = leaky_pr(github_double)
        with github_double.state.lock:
            del github_double.state.repo("octo/repo").branches["main"]
        await stack.deliver("pull_request", pr_payload(pr, inst))
        runs = await stack.completed(pr.head_sha)
    assert runs["prguard/secrets"].conclusion == "neutral"
    reads = github_double.requests(method="GET", path_regex=r"/contents/\.github/prguard\.yml")
    assert [(parse_qs(r.query)["ref"][0], r.status) for r in reads] == [("main", 404), (pr.base_sha, 200)]


async def test_one_run_failing_to_post_does_not_strand_the_others_in_progress(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """The job keeps its HTTP client open until every run's update has settled, failed or not."""
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN, max_attempts=1) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x = 1\n")})
        listing = github_double.faults.slow(1.0, method="GET", path_regex=r"/pulls/\d+/files")
        await stack.deliver("pull_request", pr_payload(pr, inst))
        await stack.until(lambda: len(scan_runs(github_double, pr.head_sha)) == 4
                          and listing.hits == 1)
        secrets_id = github_double.check_run("octo/repo", pr.head_sha, "prguard/secrets").id
        # GitHub fails that run's update (first try and 3 retries) while the others' are slow to answer
        github_double.faults.add(method="PATCH", path_regex=rf"/check-runs/{secrets_id}$", status=500,
                                 times=4)
        github_double.faults.slow(1.5, method="PATCH", path_regex=r"/check-runs/\d+$")
        runs = await stack.completed(pr.head_sha, timeout=30)
    assert runs["prguard/secrets"].conclusion == "failure"
    assert "could not finish" in runs["prguard/secrets"].summary
    for name in ("prguard/dependencies", "prguard/iac", "prguard/prompt-safety"):
        assert runs[name].conclusion == "success", (name, runs[name].title)
    assert len(scan_runs(github_double, pr.head_sha)) == 4


async def test_a_policy_over_1_mb_on_the_base_fails_the_runs_instead_of_passing_as_no_policy(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """The contents API's JSON carries no content over 1 MB: the raw media type must be used."""
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        huge = b"checks:\n  secrets: false\n" + b"# padding\n" * 120_000
        github_double.set_content("octo/repo", ".github/prguard.yml", huge, ref="main")
        pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x = 1\n")})
        await stack.deliver("pull_request", pr_payload(pr, inst))
        runs = await stack.completed(pr.head_sha)
    for run in runs.values():
        assert run.conclusion == "failure"
        assert "policy too large" in run.summary


async def test_files_beyond_githubs_listing_limit_fail_the_run_instead_of_passing(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub lists at most 3,000 files of a PR (scaled down here to 2): the rest were never scanned."""
    from tests.github_double import routes

    monkeypatch.setattr(routes, "MAX_FILES", 2)
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={
            "a.py": (None, b"x = 1\n"), "b.py": (None, b"y = 2\n"),
            "z.py": (None, b"T = '%s'\n" % github_token().encode()),  # sorted last: not listed
        })
        await stack.deliver("pull_request", pr_payload(pr, inst))
        runs = await stack.completed(pr.head_sha)
    run = runs["prguard/secrets"]
    assert (run.conclusion, run.title) == ("failure", "Not fully scanned: 1 file not listed by GitHub")
    assert "1 file was not scanned" in run.summary and "(1 more files)" in run.summary


async def test_a_late_rerun_of_an_older_head_does_not_scan_the_prs_newer_files_under_the_old_sha(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """GitHub is the record: a head no longer the PR's is not scanned (its files are another commit's)."""
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        pr = github_double.create_pull_request("octo/repo", changes={"a.py": (None, b"x = 1\n")})
        old_head = pr.head_sha
        await stack.deliver("pull_request", pr_payload(pr, inst))
        old_runs = await stack.completed(old_head)
        new_head = github_double.push("octo/repo", pr.number, {
            "a.py": b"x = 2\n", "leak.py": b"T = '%s'\n" % github_token().encode(),
        })
        await stack.deliver("pull_request", pr_payload(pr, inst, action="synchronize", head_sha=new_head,
                                                       updated_at="2026-01-01T00:05:00Z"))
        assert (await stack.completed(new_head))["prguard/secrets"].conclusion == "failure"
        # "Re-run" clicked on the old commit's run, with the PR listed (a same-repository PR)
        rerun = _point_at(fixture_payload("check_run", "rerequested"), inst)
        rerun["check_run"]["head_sha"] = old_head
        rerun["check_run"]["check_suite"]["head_sha"] = old_head
        rerun["check_run"]["pull_requests"] = [{
            "number": pr.number, "head": {"ref": pr.head_ref, "sha": old_head, "repo": rerun["repository"]},
            "base": {"ref": pr.base_ref, "sha": pr.base_sha, "repo": rerun["repository"]},
        }]
        assert (await stack.deliver("check_run", rerun)).status_code == 202
        await stack.drained()
    runs_on_old = scan_runs(github_double, old_head)
    assert len(runs_on_old) == 4, "no new runs were created on the old head"
    assert {r.id for r in runs_on_old} == {r.id for r in old_runs.values()}
    assert {r.conclusion for r in runs_on_old} <= {"success", "neutral"}


async def test_a_secret_the_base_already_had_is_not_reported_when_its_line_is_only_reindented(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    """Quiet: the App reads the base of a file with hits, so an old secret on an edited line is not new."""
    old, new = github_token(), github_token()
    async with Stack(github_double, redis_url, redis_prefix, only=SCAN) as stack:
        inst = stack.repo()
        base = b"def f():\n    T = '%s'\n" % old.encode()
        head = b"def f():\n        T = '%s'\n\nN = '%s'\n" % (old.encode(), new.encode())
        pr = github_double.create_pull_request("octo/repo", changes={"app.py": (base, head)})
        await stack.deliver("pull_request", pr_payload(pr, inst))
        runs = await stack.completed(pr.head_sha)
    run = runs["prguard/secrets"]
    assert [(a["path"], a["start_line"]) for a in run.annotations] == [("app.py", 4)], \
        "only the secret the PR added is reported, not the re-indented one the base had"
