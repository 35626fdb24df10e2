"""Issue 11 part 2, "nothing lost, nothing stuck": `prguard reconcile` against the GitHub double.

A delivery that never reached prguard is redelivered (and then scanned); a delivery that keeps failing is
asked for a bounded number of times; an open PR whose head has no prguard runs is queued; a run left in
progress by a worker that died with its job is completed as a failure that says how to re-run it. The
receiver, the worker, Redis and the double are all real (tests/e2e_stack.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from bot.cli.main import main
from bot.features.reconcile import Reconciler
from tests.e2e_stack import CHECKS, Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.github_double.shapes import timestamp
from tests.secrets_keys import github_token


def _pr(double: GitHubDouble):  # type: ignore[no-untyped-def]
    return double.create_pull_request("octo/repo", changes={"leak.py": (None, b"T = '%s'\n" % github_token()
                                                                           .encode())})


def _reconciler(stack: Stack) -> Reconciler:
    return Reconciler(stack.settings, stack.redis, stack.github, stack.queue, recent_seconds=0)


async def test_a_delivery_that_never_arrived_is_redelivered_once_and_then_scanned(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix) as stack:
        inst = stack.repo()
        pr = _pr(github_double)
        # GitHub tried to deliver the PR's `opened` while the receiver was unreachable
        lost = github_double.hooks.record("pull_request", pr_payload(pr, inst), 0, str(uuid.uuid4()))
        github_double.hooks.record("ping", {"zen": "ok"}, 200, str(uuid.uuid4()))
        github_double.hooks.webhook_url = f"{stack.receiver.url}/webhook"

        first = await _reconciler(stack).run()
        runs = await stack.completed(pr.head_sha)
        assert (first.failed_deliveries, first.redelivered) == (1, 1)
        assert github_double.hooks.redelivery_requests == [lost.id]
        assert runs["prguard/secrets"].conclusion == "failure"  # the scan the lost delivery asked for
        await stack.until(lambda: len(github_double.hooks.deliveries) == 3)  # the redelivery's attempt
        assert github_double.hooks.deliveries[-1].status_code == 202

        second = await _reconciler(stack).run()
    assert (second.failed_deliveries, second.redelivered, second.queued) == (0, 0, 0)
    assert github_double.hooks.redelivery_requests == [lost.id]


async def test_a_delivery_that_keeps_failing_is_asked_for_three_times_then_left_in_githubs_log(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, start_worker=False) as stack:
        inst = stack.repo()
        pr = _pr(github_double)
        github_double.hooks.record("pull_request", pr_payload(pr, inst), 500, str(uuid.uuid4()))
        github_double.hooks.webhook_url = "http://127.0.0.1:9/webhook"  # still down: every attempt fails
        asked = []
        for _ in range(5):
            before = len(github_double.hooks.deliveries)
            result = await _reconciler(stack).run()
            asked.append(result.redelivered)
            if result.redelivered:
                await stack.until(lambda before=before: len(github_double.hooks.deliveries) == before + 1)
    assert asked == [1, 1, 1, 0, 0]
    assert [d.status_code for d in github_double.hooks.deliveries] == [500, 0, 0, 0]


async def test_an_open_pr_whose_head_has_no_runs_is_queued_once_and_scanned(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix) as stack:
        stack.repo()
        pr = _pr(github_double)  # no delivery at all: as if Redis lost the job
        first = await _reconciler(stack).run()
        runs = await stack.completed(pr.head_sha)
        second = await _reconciler(stack).run()
    assert (first.repositories, first.pulls, first.queued) == (1, 1, 1)
    assert second.queued == 0  # it has runs now
    assert set(runs) == set(CHECKS) and runs["prguard/secrets"].conclusion == "failure"


async def test_a_pr_updated_moments_ago_is_left_to_its_own_delivery(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, start_worker=False) as stack:
        stack.repo()
        _pr(github_double)
        result = await Reconciler(stack.settings, stack.redis, stack.github, stack.queue).run()
    assert (result.pulls, result.queued) == (1, 0)


async def test_runs_left_in_progress_by_a_killed_worker_whose_job_was_lost_are_failed_visibly(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, start_worker=False) as stack:
        inst = stack.repo()
        pr = _pr(github_double)
        github_double.faults.slow(30.0, method="GET", path_regex=r"/pulls/\d+/files")
        env = {**os.environ, "GITHUB_APP_ID": str(github_double.app_id),
               "GITHUB_PRIVATE_KEY": github_double.private_key_pem, "GITHUB_API_URL": github_double.base_url,
               "REDIS_URL": redis_url, "PRGUARD_REDIS_PREFIX": redis_prefix,
               "PRGUARD_RECONCILE_INTERVAL": "0",
               "PRGUARD_LOG_LEVEL": "WARNING"}
        with (tmp_path / "worker.log").open("wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "bot.cli.main", "worker", "--concurrency", "1"],
                                      cwd=Path(__file__).resolve().parents[1], env=env, stdout=log,
                                      stderr=subprocess.STDOUT)
            try:
                await stack.deliver("pull_request", pr_payload(pr, inst))
                await stack.until(lambda: len(github_double.check_runs("octo/repo", pr.head_sha)) == 4
                                  and any(f.hits for f in github_double.faults), timeout=30)
            finally:
                worker.kill()  # SIGKILL, mid-scan
                worker.wait(10)
        await stack.redis.delete(stack.queue.stream)  # and Redis restarted empty: the job is gone
        # half an hour later (the double's clock: the runs' start is moved back)
        with github_double.state.lock:
            for run in github_double.state.check_runs.values():
                run.started_at = timestamp(run_started_long_ago())
        result = await _reconciler(stack).run()
    runs = {r.name: r for r in github_double.check_runs("octo/repo", pr.head_sha)}
    assert result.stuck_failed == 4 and result.queued == 0
    assert {(r.status, r.conclusion, r.title) for r in runs.values()} == {
        ("completed", "failure", "Scan interrupted")
    }
    assert "Re-run" in runs["prguard/secrets"].summary


def run_started_long_ago() -> float:
    import time

    return time.time() - 3600


async def test_reconcile_and_status_commands_report_what_they_did(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str, capsys, monkeypatch
) -> None:
    async with Stack(github_double, redis_url, redis_prefix, start_worker=False) as stack:
        stack.repo()
        _pr(github_double)
        for name, value in {"GITHUB_APP_ID": str(github_double.app_id),
                            "GITHUB_PRIVATE_KEY": github_double.private_key_pem,
                            "GITHUB_API_URL": github_double.base_url, "REDIS_URL": redis_url,
                            "PRGUARD_REDIS_PREFIX": redis_prefix}.items():
            monkeypatch.setenv(name, value)
        assert await _in_thread(["reconcile", "--recent", "0"]) == 0
        said = capsys.readouterr().out
        assert "1 open PRs in 1 repositories, 1 heads queued" in said
        assert await _in_thread(["status", "--format", "json"]) == 0
        status = json.loads(capsys.readouterr().out)
    assert status["queue"]["stream"] == 1 and status["queue"]["dead_letters"] == 0
    assert status["queue"]["oldest_job_age_s"] >= 0
    assert status["last_reconcile"]["queued"] == 1
    assert status["workers_alive"] == 0  # no worker ever read


async def _in_thread(argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(main, argv)
