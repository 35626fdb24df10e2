"""Check runs on GitHub: find-or-create (idempotent), and updates that survive a lost reply.

A POST that GitHub processed but whose reply was lost (a 502 from a proxy) must not create a second run with
the same name, and a PATCH that appended annotations must not append them twice. So writes are never repeated
blindly: after a failed write we read GitHub's state and repeat only what did not happen.

Known limit: a POST that *times out* may still be applied by GitHub after our look-up (the look-up waits the
first write-retry delay, `PRGUARD_GITHUB_RETRY_DELAYS`, 1 s by default, which covers GitHub's usual
processing); a run created that late would be a second in-progress run of the same name until the next job
for the head completes it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from githubkit import GitHub
from githubkit.exception import GitHubException, RequestError, RequestFailed

from bot.log import Logger, get_logger, scrub

log = get_logger(__name__)

PREFIX = "prguard/"


def run_name(check: str) -> str:
    """`secrets` → `prguard/secrets`: the name a repository makes a required check."""
    return f"{PREFIX}{check}"


def external_id_for(pr_number: int) -> str:
    """`pr:<number>:<nonce>` on every run.

    The number maps a `check_run`/`check_suite` event from a fork (which has no `pull_requests`) back to its
    PR; the nonce identifies this very POST, so after a lost reply we can tell whether it created the run.
    """
    return f"pr:{pr_number}:{secrets.token_hex(6)}"


def pr_from_external_id(value: str | None) -> int:
    parts = (value or "").split(":")
    if len(parts) >= 2 and parts[0] == "pr" and parts[1].isdigit():
        return int(parts[1])
    return 0


@dataclass
class Run:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    external_id: str | None
    annotations_count: int = 0
    #: when GitHub says the run started (None when it does not say); the reaper's clock
    started_at: datetime | None = None

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @classmethod
    def from_model(cls, model: Any) -> Run:
        output = getattr(model, "output", None)
        return cls(
            id=int(model.id),
            name=str(model.name),
            head_sha=str(model.head_sha),
            status=str(model.status),
            conclusion=(str(model.conclusion) if model.conclusion else None),
            external_id=(model.external_id or None),
            annotations_count=int(getattr(output, "annotations_count", 0) or 0),
            started_at=getattr(model, "started_at", None) or None,
        )


def _retryable_write_error(exc: BaseException) -> bool:
    """A 5xx or a network error: the write may or may not have happened."""
    if isinstance(exc, RequestFailed):
        return exc.response.status_code >= 500
    return isinstance(exc, RequestError)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class CheckRuns:
    """Check-run operations for one repository, through an installation client."""

    def __init__(
        self,
        gh: GitHub[Any],
        owner: str,
        repo: str,
        *,
        app_id: int | None = None,
        write_retry_delays: Sequence[float] = (1.0, 3.0, 9.0),
        logger: Logger | None = None,
    ) -> None:
        self.gh = gh
        self.owner = owner
        self.repo = repo
        self.app_id = app_id
        self.write_retry_delays = tuple(write_retry_delays)
        self.log = logger or log

    async def list_for_head(self, head_sha: str, name: str | None = None, *, all_runs: bool = False
                            ) -> list[Run]:
        """prguard's runs on `head_sha` (newest first), optionally only those called `name`.

        GitHub returns only the newest run per name unless `all_runs` (`filter=all`).
        """
        kwargs: dict[str, Any] = {"per_page": 100, "filter_": "all" if all_runs else "latest"}
        if name:
            kwargs["check_name"] = name
        if self.app_id:
            kwargs["app_id"] = self.app_id
        runs: list[Run] = []
        page = 1
        while True:
            resp = await self.gh.rest.checks.async_list_for_ref(
                self.owner, self.repo, head_sha, page=page, **kwargs
            )
            data = resp.parsed_data
            runs.extend(Run.from_model(r) for r in data.check_runs)
            if len(data.check_runs) < 100 or len(runs) >= data.total_count:
                break
            page += 1
        runs = [r for r in runs if r.name.startswith(PREFIX) and (name is None or r.name == name)]
        runs.sort(key=lambda r: r.id, reverse=True)
        return runs

    async def open_runs(self, head_sha: str) -> list[Run]:
        """Every prguard run on `head_sha` not completed yet (all of them, not only the newest per name)."""
        return [r for r in await self.list_for_head(head_sha, all_runs=True) if not r.completed]

    async def ensure(
        self, head_sha: str, name: str, pr_number: int, body: dict[str, Any], *, reuse_open: bool = True,
        known: list[Run] | None = None,
    ) -> Run:
        """The open run `name` on `head_sha` (when `reuse_open`), else a new one created with `body`.

        `known` is this head's runs when the caller already listed them (saves one request per name). After
        a POST whose reply was lost, GitHub is asked whether that POST created the run (by its `external_id`
        nonce) before anything is sent again.
        """
        external_id = external_id_for(pr_number)
        delays = (0.0, *self.write_retry_delays)
        last: BaseException | None = None
        for attempt, delay in enumerate(delays):
            if delay:
                await asyncio.sleep(delay)
            if reuse_open or attempt:
                listed = ([r for r in known if r.name == name] if known is not None and not attempt
                          else await self.list_for_head(head_sha, name))
                for existing in listed:
                    if existing.external_id == external_id or (reuse_open and not existing.completed):
                        if attempt:
                            self.log.info("checkrun.found_after_lost_reply", check_run=name,
                                          run_id=existing.id)
                        return existing
            try:
                resp = await self.gh.rest.checks.async_create(
                    self.owner, self.repo,
                    data={"name": name, "head_sha": head_sha, "external_id": external_id, **body},
                )
            except GitHubException as exc:
                if not _retryable_write_error(exc):
                    raise
                last = exc
                self.log.warning("checkrun.create_failed", check_run=name, attempt=attempt + 1,
                                 error=scrub(repr(exc)))
                continue
            run = Run.from_model(resp.parsed_data)
            self.log.info("checkrun.created", check_run=name, run_id=run.id, status=run.status)
            return run
        assert last is not None
        raise last

    async def update(self, run: Run, body: dict[str, Any], *, new_annotations: int = 0) -> Run:
        """PATCH `run`; after a lost reply, repeat only if GitHub does not show the change yet.

        `new_annotations` is how many annotations this request appends: GitHub's `annotations_count` tells
        whether a lost PATCH was applied, so annotations are never posted twice.
        """
        delays = (0.0, *self.write_retry_delays)
        expected = run.annotations_count + new_annotations
        last: BaseException | None = None
        for attempt, delay in enumerate(delays):
            if delay:
                await asyncio.sleep(delay)
            if attempt:
                current = await self.get(run.id)
                if self._applied(current, body, expected, new_annotations):
                    self.log.info("checkrun.update_applied_after_lost_reply", check_run=run.name,
                                  run_id=run.id)
                    return current
            try:
                resp = await self.gh.rest.checks.async_update(self.owner, self.repo, run.id, data=body)
            except GitHubException as exc:
                if not _retryable_write_error(exc):
                    raise
                last = exc
                self.log.warning("checkrun.update_failed", check_run=run.name, attempt=attempt + 1,
                                 error=scrub(repr(exc)))
                continue
            updated = Run.from_model(resp.parsed_data)
            if updated.annotations_count < expected:
                # some servers do not count; keep our own tally so later batches stay consistent
                updated.annotations_count = expected
            return updated
        assert last is not None
        raise last

    @staticmethod
    def _applied(current: Run, body: dict[str, Any], expected: int, new_annotations: int) -> bool:
        if new_annotations:
            return current.annotations_count >= expected
        wanted = body.get("conclusion")
        if wanted:
            return current.completed and current.conclusion == wanted
        return current.status == body.get("status", current.status)

    async def get(self, run_id: int) -> Run:
        resp = await self.gh.rest.checks.async_get(self.owner, self.repo, run_id)
        return Run.from_model(resp.parsed_data)
