"""A pull request's commits from GitHub → a `checks.history.History` (what each commit added).

Requests per PR with c commits (c ≤ the cap): ⌈c/100⌉ pages of `GET /repos/{o}/{r}/pulls/{n}/commits`,
then one `GET /repos/{o}/{r}/commits/{sha}` per commit except the head (plus one per extra page for a
commit of more than 300 files). A single-commit PR costs one request. The head commit is not fetched:
every line it added is in the head, which the head scan covers (a secret there is reported once, as a head
finding).

- The commit API's `files[].patch` holds the added lines (`+`), so no contents are fetched. GitHub omits the
  patch of a binary file and of a diff too large to show: those are listed as not scanned, once per path.
- GitHub lists at most 250 commits of a PR (oldest first); the cap (`checks.history.DEFAULT_MAX_COMMITS`,
  `PRGUARD_HISTORY_MAX_COMMITS`) reads the first ones, and the rest are listed as not scanned.
- A merge commit's files are GitHub's diff against its first parent, so they include what the merged
  branch brought; a secret the base branch already holds in that file is dropped by the secrets check's base
  comparison, as for every commit.
- Commits are fetched with bounded concurrency (the scan's `fetch_concurrency`, as for contents).
- A commit list that ends on another head than the one being scanned (a push landed mid-job) raises
  `HeadMoved`, as the PR files API does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from githubkit import GitHub

from bot.github.pull_change import FetchStats, HeadMoved
from bot.github.pulls import PullContext
from bot.log import Logger, get_logger
from checks.change import DEFAULT_MAX_FILE_BYTES, human_size
from checks.finding import Skipped
from checks.history import (
    DEFAULT_MAX_COMMITS,
    MAX_HISTORY_BYTES,
    CommitFile,
    History,
    HistoryCommit,
    added_from_patch,
    cap_note,
    short_sha,
)

log = get_logger(__name__)

#: GitHub's pulls/{n}/commits lists at most this many commits of a pull request.
MAX_PR_COMMITS = 250
#: GitHub's commits/{sha} lists at most this many files of one commit (300 per page).
MAX_COMMIT_FILES = 3000
_NO_PATCH = "GitHub sent no patch (a binary file, or a diff too large to show)"


async def pull_history(gh: GitHub[Any], owner: str, repo: str, pull: PullContext, checks: Sequence[object], *,
                       max_commits: int = DEFAULT_MAX_COMMITS,
                       max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, concurrency: int = 8,
                       logger: Logger | None = None, stats: FetchStats | None = None) -> History | None:
    """The PR's history when one of `checks` reads it (`uses_history`), else None (no request made).

    `max_commits` is the App's `PRGUARD_HISTORY_MAX_COMMITS` setting (validated at start-up).
    """
    if not any(getattr(c, "uses_history", False) for c in checks):
        return None
    return await build_history(gh, owner, repo, pr_number=pull.number, head_sha=pull.head_sha,
                               max_commits=max_commits, max_file_bytes=max_file_bytes,
                               concurrency=concurrency, logger=logger, stats=stats)


async def list_pr_commits(gh: GitHub[Any], owner: str, repo: str, number: int,
                          stats: FetchStats | None = None) -> list[str]:
    """The PR's commit SHAs, oldest first, all pages (GitHub stops at 250)."""
    shas: list[str] = []
    async for commit in gh.rest.paginate(gh.rest.pulls.async_list_commits, owner=owner, repo=repo,
                                         pull_number=number, per_page=100):
        shas.append(commit.sha)
        if len(shas) >= MAX_PR_COMMITS:
            break
    if stats is not None:
        stats.requests += max(1, (len(shas) + 99) // 100)
    return shas


async def build_history(gh: GitHub[Any], owner: str, repo: str, *, pr_number: int, head_sha: str,
                        max_commits: int, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, concurrency: int = 8,
                        max_bytes: int = MAX_HISTORY_BYTES, logger: Logger | None = None,
                        stats: FetchStats | None = None) -> History:
    """What each of the PR's first `max_commits` commits added (see the module docstring)."""
    logger = logger or log
    stats = stats if stats is not None else FetchStats()
    shas = await list_pr_commits(gh, owner, repo, pr_number, stats)
    unlisted = len(shas) >= MAX_PR_COMMITS and head_sha not in shas
    if shas and not unlisted and shas[-1] != head_sha:
        raise HeadMoved(head_sha, shas[-1])
    history = History(total_commits=None if unlisted else len(shas), source="github")
    chosen, rest = shas[:max_commits], shas[max_commits:]
    reader = _CommitReader(gh, owner, repo, max_file_bytes, max_bytes, concurrency, stats)
    fetched = await reader.fetch_all([s for s in chosen if s != head_sha])
    for sha in chosen:
        if sha in fetched or sha == head_sha:
            history.commits.append(fetched.get(sha) or HistoryCommit(sha))
    history.skipped += reader.skipped
    missed = [s for s in chosen if s not in fetched and s != head_sha]
    if missed:
        history.skipped.append(cap_note(missed, max_commits, limit=f"the history scan reads at most "
                                        f"{human_size(max_bytes)} of added lines"))
    if rest:
        history.skipped.append(cap_note(rest, max_commits))
    if unlisted:
        history.skipped.append(Skipped("(more commits)", f"GitHub lists at most {MAX_PR_COMMITS} commits of "
                                       "a pull request; what the later commits added was not scanned"))
    logger.info("history.built", commits=len(history.commits), listed=len(shas), fetched=len(fetched),
                requests=reader.requests, added_bytes=history.added_bytes, skipped=len(history.skipped))
    return history


def next_page(link: str | None) -> int | None:
    """The page number of a `Link` header's rel="next", if any."""
    for part in (link or "").split(","):
        url, _, rel = part.partition(";")
        if 'rel="next"' in rel:
            pages = parse_qs(urlsplit(url.strip().strip("<>")).query).get("page")
            if pages and pages[0].isdigit():
                return int(pages[0])
    return None


class _CommitReader:
    """Fetches commits with at most `concurrency` requests in flight and keeps their added lines."""

    def __init__(self, gh: GitHub[Any], owner: str, repo: str, max_file_bytes: int, max_bytes: int,
                 concurrency: int, stats: FetchStats) -> None:
        self.gh, self.owner, self.repo = gh, owner, repo
        self.max, self.budget, self.stats = max_file_bytes, max_bytes, stats
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self.held = 0
        self.requests = 0
        self.skipped: list[Skipped] = []
        self._noted: set[tuple[str, str]] = set()

    async def fetch_all(self, shas: list[str]) -> dict[str, HistoryCommit]:
        tasks = [asyncio.ensure_future(self.fetch(sha)) for sha in shas]
        try:
            done = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        return {c.sha: c for c in done if c is not None}

    async def fetch(self, sha: str) -> HistoryCommit | None:
        """One commit's added lines, or None when the byte budget was spent before it was read."""
        if self.held > self.budget:
            return None
        entries: list[Any] = []
        parents: tuple[str, ...] = ()
        page = 1
        while True:
            async with self._sem:
                resp = await self.gh.rest.repos.async_get_commit(self.owner, self.repo, sha,
                                                                 **({"page": page} if page > 1 else {}))
            self.requests += 1
            self.stats.requests += 1
            commit = resp.parsed_data
            parents = tuple(p.sha for p in commit.parents)
            entries += list(commit.files or [])
            page_after = next_page(resp.headers.get("link"))
            if page_after is None or page_after <= page or len(entries) >= MAX_COMMIT_FILES:
                break
            page = page_after
        if len(entries) >= MAX_COMMIT_FILES:
            self.skipped.append(Skipped(f"(commit {short_sha(sha)})", f"GitHub lists at most "
                                        f"{MAX_COMMIT_FILES} files of a commit; the rest were not scanned"))
        files = [f for f in (self._file(sha, e) for e in entries) if f is not None]
        self.held += sum(len(f.added) for f in files)
        if self.held > self.budget:
            return None
        return HistoryCommit(sha, tuple(files), parents)

    def _file(self, sha: str, entry: Any) -> CommitFile | None:
        status = str(entry.status)
        if status == "removed":
            return None
        patch = entry.patch if isinstance(getattr(entry, "patch", None), str) else None
        previous = getattr(entry, "previous_filename", None)
        previous = previous if isinstance(previous, str) else None
        if patch is None:
            if status in ("added", "modified") or int(entry.changes or 0) > 0:
                self._note(sha, entry.filename, "no-patch", _NO_PATCH)
            return None  # a pure rename, copy or mode change adds no line
        text, lines = added_from_patch(patch)
        if not text:
            return None
        if len(text) > self.max:
            self._note(sha, entry.filename, "large", f"added lines larger than the {human_size(self.max)} "
                       f"size cap ({human_size(len(text))})")
            return None
        blob = entry.sha if isinstance(getattr(entry, "sha", None), str) else None
        return CommitFile(entry.filename, text, lines, previous, blob)

    def _note(self, sha: str, path: str, kind: str, reason: str) -> None:
        if (path, kind) not in self._noted:
            self._noted.add((path, kind))
            self.skipped.append(Skipped(path, f"{reason}; added in commit {short_sha(sha)}"))
