"""What travels on the queue: a `Job` for one PR head, built from a webhook delivery.

The receiver calls `job_from_event` to decide whether a delivery is relevant (and never talks to GitHub);
workers hand each job to a `JobHandler`. Jobs are flat string maps because that is what a Redis Stream entry
holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

#: (event, action) pairs that start a scan of a PR head.
RELEVANT: dict[str, frozenset[str]] = {
    "pull_request": frozenset({"opened", "synchronize", "reopened", "ready_for_review"}),
    "check_suite": frozenset({"requested", "rerequested"}),
    "check_run": frozenset({"rerequested"}),
}


@dataclass(frozen=True)
class Job:
    event: str
    action: str
    delivery_id: str
    installation_id: int
    owner: str
    repo: str
    head_sha: str
    pr_number: int = 0          # 0 = unknown yet (e.g. check_suite from a fork): the handler maps it
    base_ref: str = ""
    base_sha: str = ""
    head_ref: str = ""
    attempt: int = 1            # set by the queue from the stream's delivery count

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def pr_key(self) -> str:
        """Identity of the PR whose newest head supersedes older jobs."""
        return f"{self.owner}/{self.repo}#{self.pr_number}"

    def log_context(self) -> dict[str, Any]:
        return {
            "event": f"{self.event}.{self.action}",
            "delivery": self.delivery_id,
            "repo": self.full_name,
            "pr": self.pr_number,
            "head_sha": self.head_sha,
        }

    def to_fields(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_fields(cls, data: dict[str, str] | dict[bytes, bytes]) -> Job:
        decoded = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in data.items()
        }
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in decoded:
                kwargs[f.name] = int(decoded[f.name]) if f.type in ("int", int) else decoded[f.name]
        return cls(**kwargs)


def job_from_event(event: str, delivery_id: str, payload: dict[str, Any]) -> Job | None:
    """The job a delivery asks for, or None when prguard has nothing to do with it.

    Reads only the fields it needs, so real payloads that predate newer GitHub fields are accepted.
    """
    action = str(payload.get("action", ""))
    retargeted = event == "pull_request" and action == "edited" and "base" in (payload.get("changes") or {})
    if action not in RELEVANT.get(event, frozenset()) and not retargeted:
        # `edited` matters only when the base branch changed: the gate (policy) comes from the new base,
        # so a PR retargeted from a lax branch to `main` must not keep runs judged by the lax policy
        return None
    repo = payload.get("repository") or {}
    owner = (repo.get("owner") or {}).get("login", "")
    name = repo.get("name", "")
    installation_id = int((payload.get("installation") or {}).get("id") or 0)
    if not (owner and name and installation_id):
        return None
    common = {"event": event, "action": action, "delivery_id": delivery_id,
              "installation_id": installation_id, "owner": owner, "repo": name}
    if event == "pull_request":
        pr = payload.get("pull_request") or {}
        if pr.get("state") == "closed":
            return None
        return Job(**common, head_sha=pr["head"]["sha"], pr_number=int(pr["number"]),
                   base_ref=pr["base"]["ref"], base_sha=pr["base"]["sha"], head_ref=pr["head"]["ref"])
    suite = payload.get("check_suite") if event == "check_suite" else (payload.get("check_run") or {}).get(
        "check_suite"
    )
    head_sha = (payload.get("check_run") or {}).get("head_sha") or (suite or {}).get("head_sha", "")
    prs = (suite or {}).get("pull_requests") or (payload.get("check_run") or {}).get("pull_requests") or []
    if not head_sha:
        return None
    pr = next((p for p in prs if _same_repo((p.get("base") or {}).get("repo"), repo)), None)
    if pr is not None:
        return Job(**common, head_sha=head_sha, pr_number=int(pr["number"]),
                   base_ref=pr["base"]["ref"], base_sha=pr["base"]["sha"], head_ref=pr["head"]["ref"])
    return Job(**common, head_sha=head_sha, head_ref=(suite or {}).get("head_branch") or "")


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


IsCurrent = Callable[[], Awaitable[bool]]


class JobHandler(Protocol):
    """What a worker does with a job. The queue runtime owns retries, reclaim and dead letters."""

    async def process(self, job: Job, is_current: IsCurrent) -> None:
        """Scan the PR head and post its check runs. Raise to have the job retried.

        `is_current()` says whether this head is still the PR's newest; call it before posting results and
        cancel (conclusion `cancelled`) instead of posting when it is not.
        """
        ...

    async def fail(self, job: Job, reason: str) -> None:
        """The job is dead-lettered: complete its check runs as `failure` saying how to retry."""
        ...

    async def cancel(self, job: Job) -> None:
        """A newer head superseded this job: complete any of its open check runs as `cancelled`."""
        ...
