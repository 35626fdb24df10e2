"""Fit a real webhook payload (from tests/fixtures/webhooks) to the double's state.

The payloads keep their real shape, every field they came with; only the identities that must agree with the
double are rewritten: installation id, repository, PR number and SHAs, and check suite/run head SHAs.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.github_double.shapes import Urls
from tests.github_double.state import PullRequest, Repo


def _fit_repo(target: dict[str, Any], repo: Repo) -> None:
    target.update(id=repo.id, name=repo.name, full_name=repo.full_name, private=repo.private)
    target["default_branch"] = repo.default_branch
    if isinstance(target.get("owner"), dict):
        target["owner"].update(login=repo.owner, id=repo.owner_id)


def _fit_pull(target: dict[str, Any], repo: Repo, pr: PullRequest) -> None:
    target.update(number=pr.number, id=pr.id, title=pr.title, state=pr.state, draft=pr.draft)
    for side, ref, sha in (("head", pr.head_ref, pr.head_sha), ("base", pr.base_ref, pr.base_sha)):
        part = target.setdefault(side, {})
        part.update(ref=ref, sha=sha, label=f"{repo.owner}:{ref}")
        if isinstance(part.get("repo"), dict):
            _fit_repo(part["repo"], repo)


def fit_event(
    payload: dict[str, Any],
    urls: Urls,
    repo: Repo,
    pr: PullRequest | None,
    head_sha: str | None,
    before: str | None,
) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    out.setdefault("installation", {})["id"] = repo.installation_id
    _fit_repo(out.setdefault("repository", {}), repo)
    sha = head_sha or (pr.head_sha if pr else None)
    minimal = [urls.pull_request_minimal(repo, pr)] if pr else []
    if "pull_request" in out and pr is not None:
        out["number"] = pr.number
        _fit_pull(out["pull_request"], repo, pr)
        if "after" in out:
            out["after"] = pr.head_sha
        if "before" in out and before is not None:
            out["before"] = before
    for key in ("check_suite", "check_run"):
        if key in out and sha is not None:
            out[key]["head_sha"] = sha
            out[key]["pull_requests"] = minimal
            suite = out[key].get("check_suite")
            if isinstance(suite, dict):
                suite["head_sha"] = sha
                suite["pull_requests"] = minimal
    return out
