"""The GitHub double's check runs (limits, appended annotations, filters) and its injected faults, seen
through githubkit as prguard sees them."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from githubkit.exception import RequestFailed, RequestTimeout, SecondaryRateLimitExceeded

from tests.github_double import GitHubDouble
from tests.github_double.fixtures import github_double  # noqa: F401  (the fixture under test)
from tests.github_double.testing import SAMPLE_REPO as REPO
from tests.github_double.testing import installation_client as installation
from tests.github_double.testing import sample_pr

SECRETS = "prguard/secrets"


@pytest.fixture
def double(github_double: GitHubDouble) -> GitHubDouble:  # noqa: F811
    return github_double


# -- check runs ----------------------------------------------------------------------------------------------
def annotations(count: int, start: int = 1) -> list[dict[str, object]]:
    return [
        {"path": "app.py", "start_line": n, "end_line": n, "annotation_level": "failure", "message": f"m{n}"}
        for n in range(start, start + count)
    ]


async def test_check_run_lifecycle_appends_annotations(double: GitHubDouble) -> None:
    d = double
    inst_id, pr = sample_pr(d)
    async with installation(d, inst_id) as inst:
        created = await inst.rest.checks.async_create(
            "octo", "repo", data={"name": SECRETS, "head_sha": pr.head_sha, "status": "in_progress",
                                  "external_id": f"octo/repo#{pr.number}"},
        )  # fmt: skip
        run = created.parsed_data
        assert (created.status_code, run.status, run.conclusion, run.completed_at) == (
            201,
            "in_progress",
            None,
            None,
        )
        assert run.started_at is not None and [p.number for p in run.pull_requests] == [pr.number]
        output = {"title": "2 findings", "summary": "s"}
        await inst.rest.checks.async_update(
            "octo", "repo", run.id, data={"output": {**output, "annotations": annotations(50)}}
        )
        done = await inst.rest.checks.async_update(
            "octo", "repo", run.id,
            data={"conclusion": "failure",
                  "output": {**output, "text": "t", "annotations": annotations(3, 51)}},
        )  # fmt: skip
        assert (done.parsed_data.status, done.parsed_data.conclusion) == ("completed", "failure")
        assert done.parsed_data.completed_at is not None and done.parsed_data.output.annotations_count == 53
        listed = [
            a async for a in inst.rest.paginate(
                inst.rest.checks.async_list_annotations, owner="octo", repo="repo", check_run_id=run.id
            )
        ]  # fmt: skip
        assert [a.start_line for a in listed] == list(range(1, 54))
        fetched = (await inst.rest.checks.async_get("octo", "repo", run.id)).parsed_data
        assert fetched.output.text == "t" and fetched.external_id == f"octo/repo#{pr.number}"
    stored = d.check_run(REPO, pr.head_sha, SECRETS)
    assert (stored.conclusion, stored.annotation_batches, len(stored.annotations)) == ("failure", [50, 3], 53)
    sent = [len(r.body["output"]["annotations"]) for r in d.requests("PATCH", r"/check-runs/\d+$")]
    assert sent == [50, 3]  # the request log keeps each request's JSON body


async def test_check_runs_for_ref_filters(double: GitHubDouble) -> None:
    d = double
    inst_id, pr = sample_pr(d)
    async with installation(d, inst_id) as inst:
        for name, status in [(SECRETS, "queued"), (SECRETS, "in_progress"), ("prguard/iac", "completed")]:
            body = {"name": name, "head_sha": pr.head_sha, "status": status}
            if status == "completed":
                body["conclusion"] = "success"
            await inst.rest.checks.async_create("octo", "repo", data=body)
        latest = (await inst.rest.checks.async_list_for_ref("octo", "repo", pr.head_sha)).parsed_data
        assert sorted((r.name, r.status) for r in latest.check_runs) == [
            ("prguard/iac", "completed"), (SECRETS, "in_progress"),
        ]  # fmt: skip
        every = await inst.rest.checks.async_list_for_ref("octo", "repo", pr.head_sha, filter_="all")
        assert every.parsed_data.total_count == 3
        named = await inst.rest.checks.async_list_for_ref("octo", "repo", "feature", check_name=SECRETS)
        assert [r.status for r in named.parsed_data.check_runs] == ["in_progress"]
        done = await inst.rest.checks.async_list_for_ref("octo", "repo", pr.head_sha, status="completed")
        assert [r.name for r in done.parsed_data.check_runs] == ["prguard/iac"]
    assert [r.status for r in d.check_runs(REPO, pr.head_sha, SECRETS)] == ["queued", "in_progress"]


INVALID_BODIES = {
    "51 annotations": {"output": {"title": "t", "summary": "s", "annotations": annotations(51)}},
    "summary too long": {"output": {"title": "t", "summary": "x" * 65_536}},
    "text too long": {"output": {"title": "t", "summary": "s", "text": "x" * 65_536}},
    "completed without conclusion": {"status": "completed"},
    "bad conclusion": {"conclusion": "great"},
    "bad status": {"status": "running"},
    "4 actions": {"actions": [{"label": "l", "description": "d", "identifier": f"i{n}"} for n in range(4)]},
    "long action label": {"actions": [{"label": "x" * 21, "description": "d", "identifier": "i"}]},
    "annotation without message": {
        "output": {"title": "t", "summary": "s", "annotations": [{"path": "a", "start_line": 1, "end_line": 1,
                                                                   "annotation_level": "failure"}]}},
    "bad annotation level": {"output": {"title": "t", "summary": "s",
                                        "annotations": [{**annotations(1)[0], "annotation_level": "error"}]}},
    "start after end": {"output": {"title": "t", "summary": "s",
                                   "annotations": [{**annotations(1)[0], "start_line": 5, "end_line": 4}]}},
    "unknown head sha": {"head_sha": "f" * 40},
    "annotation title too long": {
        "output": {"title": "t", "summary": "s", "annotations": [{**annotations(1)[0], "title": "x" * 256}]}
    },
    "annotation message over 64 KB": {
        "output": {"title": "t", "summary": "s",
                   "annotations": [{**annotations(1)[0], "message": "é" * 40_000}]}
    },
}  # fmt: skip


# What GitHub's message says for each (its schema errors start "Invalid request.").
REASONS = {
    "51 annotations": "No more than 50 items",
    "summary too long": "Only 65535 characters",
    "text too long": "Only 65535 characters",
    "completed without conclusion": '"conclusion" wasn\'t supplied',
    "bad conclusion": '"great" is not a member',
    "bad status": '"running" is not a member',
    "4 actions": "No more than 3 items",
    "long action label": "Only 20 characters",
    "annotation without message": '"message" wasn\'t supplied',
    "bad annotation level": '"error" is not a member',
    "start after end": "Validation Failed",
    "unknown head sha": "No commit found for SHA",
    "annotation title too long": "Only 255 characters",
    "annotation message over 64 KB": "Only 65536 characters",
}


@pytest.mark.parametrize("case", sorted(INVALID_BODIES))
async def test_check_run_limits_answer_422(double: GitHubDouble, case: str) -> None:
    d = double
    inst_id, pr = sample_pr(d)
    async with installation(d, inst_id, rest_api_validate_body=False) as inst:
        with pytest.raises(RequestFailed) as refused:
            await inst.rest.checks.async_create(
                "octo", "repo", data={"name": SECRETS, "head_sha": pr.head_sha, **INVALID_BODIES[case]}
            )
        assert refused.value.response.status_code == 422
        assert REASONS[case] in refused.value.response.json()["message"]
        run = await inst.rest.checks.async_create(
            "octo", "repo", data={"name": SECRETS, "head_sha": pr.head_sha}
        )
        if case != "unknown head sha":
            with pytest.raises(RequestFailed) as refused:
                await inst.rest.checks.async_update(
                    "octo", "repo", run.parsed_data.id, data=INVALID_BODIES[case]
                )
            assert refused.value.response.status_code == 422
    assert [r.status for r in d.check_runs(REPO, pr.head_sha)] == ["queued"]


# -- faults --------------------------------------------------------------------------------------------------
async def test_5xx_fault_then_success(double: GitHubDouble) -> None:
    d = double
    inst_id, pr = sample_pr(d)
    fault = d.faults.add(method="GET", path_regex=r"/pulls/\d+$", status=502, times=1)
    async with installation(d, inst_id) as inst:
        with pytest.raises(RequestFailed) as failed:
            await inst.rest.pulls.async_get("octo", "repo", pr.number)
        assert failed.value.response.status_code == 502
        assert (await inst.rest.pulls.async_get("octo", "repo", pr.number)).status_code == 200
    assert fault.hits == 1
    assert [(r.status, r.fault) for r in d.requests("GET", r"/pulls/\d+$")] == [(502, "502"), (200, None)]


async def test_fault_after_success_applies_the_post(double: GitHubDouble) -> None:
    d = double
    inst_id, pr = sample_pr(d)
    d.faults.add(method="POST", path_regex=r"/check-runs$", status=502, after_success=True)
    async with installation(d, inst_id) as inst:
        with pytest.raises(RequestFailed) as failed:
            await inst.rest.checks.async_create(
                "octo", "repo", data={"name": SECRETS, "head_sha": pr.head_sha}
            )
        assert failed.value.response.status_code == 502
    assert [r.name for r in d.check_runs(REPO, pr.head_sha)] == [
        SECRETS
    ]  # created although the client saw 502


async def test_secondary_rate_limits_and_429(double: GitHubDouble) -> None:
    d = double
    inst_id, pr = sample_pr(d)
    d.faults.secondary_rate_limit(method="POST", path_regex=r"/check-runs$", retry_after=7)
    d.faults.secondary_rate_limit(method="POST", path_regex=r"/check-runs$", retry_after=None, reset_in=30)
    d.faults.too_many_requests(path_regex=r"/files$", retry_after=3)
    body = {"name": SECRETS, "head_sha": pr.head_sha}
    async with installation(d, inst_id) as inst:
        with pytest.raises(SecondaryRateLimitExceeded) as limited:
            await inst.rest.checks.async_create("octo", "repo", data=body)
        assert limited.value.response.status_code == 403
        assert limited.value.retry_after == timedelta(seconds=7)
        assert "secondary rate limit" in limited.value.response.json()["message"]
        with pytest.raises(SecondaryRateLimitExceeded) as limited:
            await inst.rest.checks.async_create("octo", "repo", data=body)
        assert "retry-after" not in limited.value.response.headers
        assert timedelta(seconds=25) < limited.value.retry_after <= timedelta(seconds=30)
        with pytest.raises(SecondaryRateLimitExceeded) as limited:
            await inst.rest.pulls.async_list_files("octo", "repo", pr.number)
        assert limited.value.response.status_code == 429 and limited.value.retry_after == timedelta(seconds=3)
        assert (await inst.rest.checks.async_create("octo", "repo", data=body)).status_code == 201
    assert len(d.check_runs(REPO, pr.head_sha)) == 1


async def test_delayed_failure_and_lasting_faults(double: GitHubDouble) -> None:
    d = double
    inst_id, pr = sample_pr(d)
    delayed = d.faults.add(method="GET", path_regex=r"/pulls/\d+/files$", status=503, delay=0.2)
    lasting = d.faults.add(method="GET", path_regex=r"/commits/[0-9a-f]+/pulls$", status=500, times=None)
    async with installation(d, inst_id) as inst:
        started = time.monotonic()
        with pytest.raises(RequestFailed) as failed:
            await inst.rest.pulls.async_list_files("octo", "repo", pr.number)
        assert failed.value.response.status_code == 503 and time.monotonic() - started >= 0.2
        for _ in range(3):
            with pytest.raises(RequestFailed):
                await inst.rest.repos.async_list_pull_requests_associated_with_commit(
                    "octo", "repo", pr.head_sha
                )
    assert (delayed.hits, lasting.hits) == (1, 3)
    d.faults.clear()
    async with installation(d, inst_id) as inst:
        found = await inst.rest.repos.async_list_pull_requests_associated_with_commit(
            "octo", "repo", pr.head_sha
        )
        assert found.status_code == 200


async def test_slow_reply_times_the_client_out(double: GitHubDouble) -> None:
    d = double
    inst_id, pr = sample_pr(d)
    d.faults.slow(delay=1.0, method="GET", path_regex=r"/pulls/\d+$")
    # githubkit's default HTTP cache (hishel) drops httpx's timeout: a client needing timeouts turns it off.
    async with installation(d, inst_id, timeout=0.2, http_cache=False) as inst:
        with pytest.raises(RequestTimeout):
            await inst.rest.pulls.async_get("octo", "repo", pr.number)
        assert (await inst.rest.pulls.async_get("octo", "repo", pr.number)).status_code == 200
