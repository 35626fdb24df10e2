"""The scan feature's routing (`scan_envelope`) on GitHub's real payloads (tests/fixtures) and shapes derived
from them."""

from __future__ import annotations

from typing import Any

from bot.features.scan_routing import scan_envelope as job_from_event
from bot.runtime.envelope import Envelope
from tests.webhooks import fixture_payload, pull_request_payload


def pr_stub(number: int, repo: dict[str, Any], head_sha: str) -> dict[str, Any]:
    """A `check_suite.pull_requests[]` item as GitHub sends it (minimal repo stubs: id, url, name)."""
    stub = {"id": repo["id"], "url": repo["url"], "name": repo["name"]}
    return {
        "url": f"{repo['url']}/pulls/{number}",
        "id": 1000 + number,
        "number": number,
        "head": {"ref": "feature", "sha": head_sha, "repo": stub},
        "base": {"ref": "main", "sha": "b" * 40, "repo": stub},
    }


def test_every_real_fixture_gives_the_expected_job_or_none() -> None:
    opened = job_from_event("pull_request", "d1", fixture_payload("pull_request", "opened"))
    assert opened == Envelope(
        feature="scan", event="pull_request", action="opened", delivery_id="d1", installation_id=1,
        owner="Codertocat", repo="Hello-World", pr_number=2,
        head_sha="ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        supersede_key="codertocat/hello-world#2", dedupe_key="d1",
        version="ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        version_order="2019-05-15T15:20:33Z", records_version=True,
        data={"base_ref": "master", "base_sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
              "head_ref": "changes"},
    )
    sync = job_from_event("pull_request", "d2", fixture_payload("pull_request", "synchronize"))
    assert sync is not None and (sync.action, sync.pr_number) == ("synchronize", 2)
    suite = job_from_event("check_suite", "d3", fixture_payload("check_suite", "requested"))
    assert suite is not None
    assert (suite.installation_id, suite.pr_number, suite.head_sha, suite.get("head_ref")) == (
        957387, 0, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", "master")
    rerun = job_from_event("check_run", "d4", fixture_payload("check_run", "rerequested"))
    assert rerun is not None and (rerun.full_name, rerun.pr_number, rerun.head_sha) == (
        "github/hello-world", 0, "d6fde92930d4715a2b49857d24b940956b26d2d3")
    # no installation in these payloads, and prguard does not act on them anyway
    assert job_from_event("issue_comment", "d5", fixture_payload("issue_comment", "created")) is None
    assert job_from_event("ping", "d6", fixture_payload("ping")) is None


def test_a_same_repository_pr_in_a_check_suite_is_taken() -> None:
    payload = fixture_payload("check_suite", "requested")
    head = payload["check_suite"]["head_sha"]
    payload["check_suite"]["pull_requests"] = [pr_stub(7, payload["repository"], head)]
    job = job_from_event("check_suite", "d", payload)
    assert job is not None
    assert (job.pr_number, job.get("base_ref"), job.get("head_ref")) == (7, "main", "feature")


def test_a_parent_repositorys_pr_listed_in_a_forks_check_suite_is_not_taken_as_the_forks() -> None:
    """A check suite in a fork lists the parent's PR for that branch: its number means nothing in the fork
    (it would scan, or supersede, the fork's own unrelated PR with that number)."""
    payload = fixture_payload("check_suite", "requested")
    head = payload["check_suite"]["head_sha"]
    parent = {"id": 99999, "url": "https://api.github.com/repos/upstream/Hello-World", "name": "Hello-World"}
    payload["check_suite"]["pull_requests"] = [pr_stub(7, parent, head)]
    job = job_from_event("check_suite", "d", payload)
    assert job is not None and job.pr_number == 0 and job.full_name == "Codertocat/Hello-World"
    rerun = fixture_payload("check_run", "rerequested")
    rerun["check_run"]["pull_requests"] = [pr_stub(3, parent, rerun["check_run"]["head_sha"])]
    job = job_from_event("check_run", "d", rerun)
    assert job is not None and job.pr_number == 0


def test_drafts_are_scanned_closed_prs_and_payloads_without_an_installation_are_not() -> None:
    draft = pull_request_payload("opened")
    draft["pull_request"]["draft"] = True
    assert job_from_event("pull_request", "d", draft) is not None  # a security gate covers drafts too
    closed = pull_request_payload("reopened")
    closed["pull_request"]["state"] = "closed"
    assert job_from_event("pull_request", "d", closed) is None
    no_installation = pull_request_payload("opened")
    del no_installation["installation"]  # a repository webhook, not the App: no token to act with
    assert job_from_event("pull_request", "d", no_installation) is None
    for action in ("closed", "edited", "labeled", "converted_to_draft"):
        assert job_from_event("pull_request", "d", pull_request_payload(action)) is None


def test_a_pr_retargeted_to_another_base_is_scanned_again_other_edits_are_not() -> None:
    retargeted = pull_request_payload("edited")
    retargeted["changes"] = {"base": {"ref": {"from": "lax-branch"}, "sha": {"from": "c" * 40}}}
    job = job_from_event("pull_request", "d", retargeted)
    assert job is not None
    assert (job.action, job.get("base_ref")) == ("edited", retargeted["pull_request"]["base"]["ref"])
    retitled = pull_request_payload("edited")
    retitled["changes"] = {"title": {"from": "old title"}}
    assert job_from_event("pull_request", "d", retitled) is None


def test_a_job_survives_the_round_trip_through_stream_fields() -> None:
    job = job_from_event("pull_request", "d1", fixture_payload("pull_request", "opened"))
    assert job is not None and Envelope.from_fields(job.to_fields()) == job
    assert job.supersede_key and job.records_version and job.dedupe == "d1"


def test_a_check_suite_is_superseded_by_its_pr_but_records_no_head() -> None:
    """Only `pull_request` deliveries say which head is the PR's newest; a check suite for a PR head can be
    superseded (same key) but never moves the record; one with no PR (a fork) is never superseded."""
    payload = fixture_payload("check_suite", "requested")
    head = payload["check_suite"]["head_sha"]
    payload["check_suite"]["pull_requests"] = [pr_stub(7, payload["repository"], head)]
    suite = job_from_event("check_suite", "d", payload)
    assert suite is not None and suite.supersede_key == "codertocat/hello-world#7"
    assert not suite.records_version and suite.version == head
    fork = job_from_event("check_suite", "d", fixture_payload("check_suite", "requested"))
    assert fork is not None and fork.supersede_key == "" and fork.pr_number == 0


def test_an_entry_queued_before_envelopes_existed_still_parses_as_a_scan() -> None:
    """Entries written by the previous release (flat PR-scan jobs) may still sit in the stream at upgrade."""
    legacy = {"event": "pull_request", "action": "opened", "delivery_id": "d1", "installation_id": "9",
              "owner": "acme", "repo": "shop", "head_sha": "a" * 40, "pr_number": "3", "base_ref": "main",
              "base_sha": "b" * 40, "head_ref": "feature", "attempt": "1"}
    env = Envelope.from_fields({k.encode(): v.encode() for k, v in legacy.items()})
    assert (env.feature, env.pr_number, env.head_sha, env.get("base_ref"), env.get("head_ref")) == (
        "scan", 3, "a" * 40, "main", "feature")
