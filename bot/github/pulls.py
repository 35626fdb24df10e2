"""A pull request as GitHub has it now, and the policy on its base branch (with its `_extends`).

The job's own fields come from a webhook and may be partial or stale (a fork's check suite names no PR; a PR
may have been retargeted since): GitHub is the record, so the worker reads both here before doing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.github.checkruns import CheckRuns, pr_from_external_id
from bot.github.policy_source import policy_bytes, with_extends
from bot.github.retry import error_message
from bot.log import Logger
from checks.policy import POLICY_PATH, Policy, parse_policy


@dataclass
class PullContext:
    """What a job needs to know about its PR, read from GitHub."""

    number: int
    head_sha: str
    base_sha: str
    base_ref: str
    html_url: str  # the base repository's web URL, for blob links
    changed_files: int


async def pr_for_head(gh: GitHub[Any], runs: CheckRuns, owner: str, repo: str, head_sha: str,
                      log: Logger) -> int:
    """The open PR whose head is `head_sha` (fork `check_suite`/`check_run` events carry no PR number), or 0.

    GitHub's commit → pulls API first; a fork's head commit may not be listed there, so prguard's own runs on
    the head, which carry the PR in their `external_id`, are asked next.
    """
    resp = await gh.rest.repos.async_list_pull_requests_associated_with_commit(owner, repo, head_sha)
    for pr in resp.parsed_data:
        if pr.state == "open" and pr.head.sha == head_sha:
            log.info("pull.mapped", pr=pr.number, via="commits/{sha}/pulls")
            return int(pr.number)
    for run in await runs.list_for_head(head_sha, all_runs=True):
        number = pr_from_external_id(run.external_id)
        if number:
            log.info("pull.mapped", pr=number, via="external_id")
            return number
    return 0


def context_of(pr: Any, number: int, head_sha: str, base_sha: str, base_ref: str) -> PullContext:
    """The PR's live values (its base may have changed since the delivery), the delivery's as fallback."""
    return PullContext(
        number=number,
        head_sha=head_sha,
        base_sha=pr.base.sha or base_sha,
        base_ref=pr.base.ref or base_ref,
        html_url=str(pr.base.repo.html_url),
        changed_files=int(pr.changed_files or 0),
    )


async def base_policy(gh: GitHub[Any], owner: str, repo: str, pull: PullContext) -> tuple[Policy, str]:
    """The policy at the base branch (never the head), and where it came from, for summaries.

    Only GitHub's plain "Not Found" for the file means "no policy". A 404 that says the *ref* is unknown (the
    base branch was deleted or renamed mid-job) is retried at the PR's base SHA, and raises if that is unknown
    too: falling back to the defaults there would silently drop a stricter policy. An invalid file raises
    `checks.policy.PolicyError`. `_extends` is not applied here (see `effective_policy`).
    """
    policy, source, _, _ = await _base_policy(gh, owner, repo, pull)
    return policy, source


async def effective_policy(gh: GitHub[Any], owner: str, repo: str, pull: PullContext) -> tuple[Policy, str]:
    """The base branch's policy with the organisation defaults it names in `_extends` applied
    (`bot.github.policy_source`): what the four checks run with, the same merge the sign-off uses. A missing
    or invalid organisation file raises `PolicyError` (a failed run), never falls back to the defaults."""
    policy, source, data, ref = await _base_policy(gh, owner, repo, pull)
    if data is None:
        return policy, source
    policy, extended = await with_extends(gh, owner, repo, ref, policy, repo_text=data)
    return policy, f"{source}, extending `{extended}`'s `{POLICY_PATH}`" if extended else source


async def _base_policy(gh: GitHub[Any], owner: str, repo: str, pull: PullContext
                       ) -> tuple[Policy, str, bytes | None, str]:
    """(policy, source, the file's bytes or None without a file, the ref it was read at)."""
    refs = [r for r in dict.fromkeys((pull.base_ref, pull.base_sha)) if r]
    for i, ref in enumerate(refs):
        try:
            # the JSON form first: its `size` refuses a huge file before a byte of it is downloaded
            resp = await gh.rest.repos.async_get_content(owner, repo, POLICY_PATH, ref=ref)
        except RequestFailed as exc:
            if exc.response.status_code != 404:
                raise
            if error_message(exc) == "Not Found":
                return (parse_policy(None), f"defaults (no .github/prguard.yml on `{short_ref(ref)}`)",
                        None, ref)
            if i + 1 < len(refs):
                continue
            raise
        data = await policy_bytes(gh, owner, repo, ref, resp.json())
        return parse_policy(data), f"`.github/prguard.yml` on `{short_ref(ref)}`", data, ref
    raise ValueError("a pull request without a base ref or SHA")


def short_ref(ref: str) -> str:
    return ref[:12] if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref) else ref
