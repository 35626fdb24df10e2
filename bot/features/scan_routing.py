"""The PR scan's routing: which deliveries ask for a scan of a PR head, and the envelope each becomes.

Payload only, no I/O (the receiver runs it): see `bot.features.scan` for the feature and its handler.
"""

from __future__ import annotations

from typing import Any

from bot.runtime.envelope import Envelope

#: the feature's name, carried by its envelopes
NAME = "scan"

#: (event, action) pairs that start a scan of a PR head (plus `pull_request.edited` with a new base)
EVENTS: dict[str, frozenset[str]] = {
    "pull_request": frozenset({"opened", "synchronize", "reopened", "ready_for_review", "edited"}),
    "check_suite": frozenset({"requested", "rerequested"}),
    "check_run": frozenset({"rerequested"}),
}


def scan_envelope(event: str, delivery_id: str, payload: dict[str, Any]) -> Envelope | None:
    """The scan a delivery asks for, or None. Reads only the fields it needs, so real payloads that predate
    newer GitHub fields are accepted."""
    action = str(payload.get("action", ""))
    if event == "pull_request" and action == "edited" and "base" not in (payload.get("changes") or {}):
        # `edited` matters only when the base branch changed: the gate (policy) comes from the new base,
        # so a PR retargeted from a lax branch to `main` must not keep runs judged by the lax policy
        return None
    if action not in EVENTS.get(event, frozenset()):
        return None
    repo = payload.get("repository") or {}
    owner = (repo.get("owner") or {}).get("login", "")
    name = repo.get("name", "")
    installation_id = int((payload.get("installation") or {}).get("id") or 0)
    if not (owner and name and installation_id):
        return None
    if event == "pull_request":
        pr = payload.get("pull_request") or {}
        if pr.get("state") == "closed":
            return None
        return make_envelope(event, action, delivery_id, installation_id, owner, name, pr["head"]["sha"],
                         pr=pr, updated_at=str(pr.get("updated_at") or ""),
                         before=str(payload.get("before") or ""))
    suite = payload.get("check_suite") if event == "check_suite" else (payload.get("check_run") or {}).get(
        "check_suite"
    )
    head_sha = (payload.get("check_run") or {}).get("head_sha") or (suite or {}).get("head_sha", "")
    prs = (suite or {}).get("pull_requests") or (payload.get("check_run") or {}).get("pull_requests") or []
    if not head_sha:
        return None
    pr = next((p for p in prs if _same_repo((p.get("base") or {}).get("repo"), repo)), None)
    return make_envelope(event, action, delivery_id, installation_id, owner, name, head_sha, pr=pr,
                     head_branch=(suite or {}).get("head_branch") or "")


def make_envelope(event: str, action: str, delivery_id: str, installation_id: int, owner: str, repo: str,
              head_sha: str, *, pr: dict[str, Any] | None, updated_at: str = "", before: str = "",
              head_branch: str = "") -> Envelope:
    number = int(pr["number"]) if pr else 0
    data = ({"base_ref": pr["base"]["ref"], "base_sha": pr["base"]["sha"], "head_ref": pr["head"]["ref"]}
            if pr else {"base_ref": "", "base_sha": "", "head_ref": head_branch})
    return Envelope(
        feature=NAME, event=event, action=action, delivery_id=delivery_id,
        installation_id=installation_id, owner=owner, repo=repo, pr_number=number, head_sha=head_sha,
        # the delivery id and "owner/repo#N" (lower case: GitHub's names are case-insensitive) keep the key
        # names of the release before features, so old and new processes agree during a rolling deploy
        dedupe_key=delivery_id,
        # the PR's scans: a newer head supersedes older ones. Only `pull_request` deliveries say which head
        # is newest (ordered by `updated_at`, ties broken by the push's `before`)
        supersede_key=f"{owner}/{repo}#{number}".lower() if number else "",
        version=head_sha, version_order=updated_at, version_before=before,
        records_version=event == "pull_request" and number > 0,
        data=data,
    )


def _same_repo(ref: Any, repository: dict[str, Any]) -> bool:
    """Whether a `pull_requests[].base.repo` stub ({id, url, name}) is the event's repository.

    A check suite in a fork lists the parent's PRs for that branch: their numbers mean nothing in the fork,
    and taking one would scan (or supersede) an unrelated PR of the fork. Such jobs keep PR 0 instead.
    """
    if not isinstance(ref, dict):
        return False
    if ref.get("id") is not None and repository.get("id") is not None:
        return bool(ref["id"] == repository["id"])
    return bool(ref.get("url")) and str(ref.get("url")).lower() == str(repository.get("url", "")).lower()
