"""Build a `checks.change.Change` for a pull request from GitHub's REST API.

Checks are synchronous and pure, so every byte they may read is fetched first, asynchronously and with a
bound on requests in flight (GitHub's secondary limits), and handed to each `ChangedFile` as a loader that
returns the prefetched bytes. Only files some check wants are fetched.

Where the lines come from: the PR files API's `patch` (head-side numbers of `+` lines). GitHub omits the
patch for large diffs; then an added file counts as added whole and a modified one is diffed locally against
its base version (difflib).

Symlinks are never followed: the contents API answers a symlink to a file in the repository with the
*target's* content, so a reply whose blob SHA is not the path's own blob SHA (from the files API), or whose
`path` is not the path asked for, is treated as a symlink and its bytes are dropped (`bot.github.contents`).

Checks may also read paths the PR did not change, on either side (`Change.read`, through `RemoteReader`):
those reads go to the contents API from the check's worker thread, at most `MAX_EXTRA_READS` per job.

Model and dataset files over the size cap are streamed to the checks that stream (`bot.github.blob_stream`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from githubkit import GitHub

from bot.github.blob_stream import RemoteOpener, StreamBudget, mark_stream_only
from bot.github.contents import (
    MAX_EXTRA_READS,
    RAW,
    READ_TIMEOUT,
    ContentFetcher,
    FetchOptions,
    FetchStats,
    RemoteReader,
)
from bot.log import Logger, add_sensitive, get_logger, scrub
from checks.change import Change, ChangedFile, FileStatus, LineSet, ReadError, looks_binary
from checks.diff import added_lines_by_diff, added_lines_from_patch, line_count
from checks.finding import Skipped
from checks.secrets.scanner import secrets_in_path

#: re-exported: what callers imported from here before `bot.github.contents` held it
__all__ = ["MAX_EXTRA_READS", "RAW", "READ_TIMEOUT", "ContentFetcher", "FetchOptions", "FetchStats",
           "HeadMoved", "RemoteReader", "build_change", "list_pr_files", "listed_head"]

log = get_logger(__name__)

MAX_PR_FILES = 3000  # GitHub's PR files API lists at most this many

STATUS = {
    "added": FileStatus.ADDED,
    "copied": FileStatus.ADDED,  # new path; its whole content is new at that path
    "modified": FileStatus.MODIFIED,
    "changed": FileStatus.MODIFIED,  # mode change
    "unchanged": FileStatus.MODIFIED,
    "removed": FileStatus.REMOVED,
    "renamed": FileStatus.RENAMED,
}


class HeadMoved(Exception):
    """The PR files API listed another head than the one being scanned (a push landed mid-job)."""

    def __init__(self, scanning: str, listed: str) -> None:
        super().__init__(f"the pull request's files are listed for {listed[:12]}, not {scanning[:12]}")
        self.scanning = scanning
        self.listed = listed


def listed_head(entries: list[Any]) -> str | None:
    """The head SHA GitHub listed the files at: each entry's `contents_url` ends in `?ref=<head sha>`."""
    for entry in entries:
        url = getattr(entry, "contents_url", None)
        if isinstance(url, str):
            refs = parse_qs(urlsplit(url).query).get("ref")
            if refs and len(refs[0]) == 40:
                return refs[0]
    return None


async def list_pr_files(gh: GitHub[Any], owner: str, repo: str, number: int,
                        stats: FetchStats | None = None) -> list[Any]:
    """Every file of the PR, all pages (GitHub stops at 3,000)."""
    files: list[Any] = []
    async for entry in gh.rest.paginate(
        gh.rest.pulls.async_list_files, owner=owner, repo=repo, pull_number=number, per_page=100
    ):
        files.append(entry)
        if len(files) >= MAX_PR_FILES:
            break
    if stats is not None:
        stats.pages = (len(files) + 99) // 100
        stats.requests += stats.pages
    return files


async def build_change(
    gh: GitHub[Any],
    owner: str,
    repo: str,
    *,
    pr_number: int,
    base_sha: str,
    head_sha: str,
    wants: Callable[[ChangedFile], bool],
    changed_files_total: int | None = None,
    options: FetchOptions | None = None,
    logger: Logger | None = None,
    stats: FetchStats | None = None,
) -> Change:
    """The PR's `Change`, with head contents prefetched for every file `wants` accepts.

    Raises `HeadMoved` when the files API lists another head than `head_sha`: after a (force-)push mid-job
    the list belongs to the new head, and contents read at the old one would build a change that is
    neither, reported on the old SHA as if it had been scanned.
    """
    options = options or FetchOptions()
    stats = stats if stats is not None else FetchStats()
    logger = logger or log
    entries = await list_pr_files(gh, owner, repo, pr_number, stats)
    listed = listed_head(entries)
    if listed is not None and listed != head_sha:
        raise HeadMoved(head_sha, listed)
    fetcher = ContentFetcher(gh, owner, repo, options, stats)
    reader = RemoteReader(fetcher, base_sha=base_sha, head_sha=head_sha)
    change = Change(base=base_sha, head=head_sha, files=[], reader=reader,
                    max_file_bytes=options.max_file_bytes,
                    opener=RemoteOpener(reader, gh, owner, repo, StreamBudget(options.stream_budget_bytes)))
    total = max(changed_files_total or 0, len(entries))
    stats.extra["unlisted"] = total - len(entries)
    if total > len(entries):
        change.skipped.append(Skipped(
            path=f"({total - len(entries)} more files)",
            reason=f"GitHub lists at most {MAX_PR_FILES} files of a pull request; the other "
                   f"{total - len(entries)} files were not scanned",
        ))

    jobs: list[asyncio.Task[None]] = []
    for entry in entries:
        _hide_path_secrets(entry.filename, entry.previous_filename)
        status = STATUS.get(str(entry.status), FileStatus.MODIFIED)
        patch = entry.patch if isinstance(getattr(entry, "patch", None), str) else None
        file = ChangedFile(
            path=entry.filename,
            status=status,
            added_lines=added_lines_from_patch(patch) if patch else LineSet(),
            old_path=entry.previous_filename if isinstance(entry.previous_filename, str) else None,
        )
        change.files.append(file)
        reader.add_changed(file, blob_sha=entry.sha if isinstance(entry.sha, str) else None)
        if status is FileStatus.REMOVED or not wants(file):
            continue
        jobs.append(asyncio.ensure_future(
            _prefetch(file, fetcher, change, reader, head_sha=head_sha, base_sha=base_sha,
                      blob_sha=entry.sha, no_patch=patch is None, changes=int(entry.changes or 0))
        ))
    if jobs:
        try:
            await asyncio.gather(*jobs)
        except BaseException:
            for job in jobs:
                job.cancel()
            raise
    # over the size cap but streamable: out of `files` (no bytes to give), to the checks that stream
    change.streamable = [f for f in change.files if f.stream_only]
    change.files = [f for f in change.files if not f.stream_only]
    logger.info("change.built", files=len(change.files), fetched=stats.files_fetched,
                requests=stats.requests, bytes=stats.bytes, skipped=len(change.skipped),
                streamable=len(change.streamable))
    return change


def _hide_path_secrets(*paths: object) -> None:
    """Register a key used as a file name (`bot.log.add_sensitive`) before the file is requested: its
    contents URL holds the path, and httpx logs every request's URL at DEBUG."""
    for path in paths:
        if isinstance(path, str):
            add_sensitive(*(hit.value for hit in secrets_in_path(path)))


async def _prefetch(file: ChangedFile, fetcher: ContentFetcher, change: Change, reader: RemoteReader, *,
                    head_sha: str, base_sha: str, blob_sha: str | None, no_patch: bool, changes: int) -> None:
    head = await fetcher.fetch(file.path, head_sha, blob_sha)
    file.is_symlink = head.is_symlink
    file.size = head.size
    if head.is_symlink:
        reader.remember("head", file.path, None)
    if head.data is None:
        reason = head.skipped
        if head.too_large:
            reader.remember_large("head", file.path, head)
            reason = mark_stream_only(file, head.size or 0) or reason
        if reason and reason.startswith("not found"):
            # the files API lists it at this head: a 404 means it could not be read, not that it is absent
            # (so `fail_on_unscanned` counts it, `checks.change.could_hold_text`)
            reason = f"could not be read: {reason}"
        if reason:
            # symlinks included: a link the PR adds is listed, not silently passed over
            change.skipped.append(Skipped(path=file.path, reason=reason))
        return
    data = head.data
    file.is_binary = looks_binary(data)
    file.head_loader = lambda: data
    reader.remember("head", file.path, data)
    if no_patch:
        # GitHub sends no patch for binaries and for diffs too large to show
        if file.status is FileStatus.ADDED or file.is_binary:
            file.added_lines = LineSet.whole(line_count(data))
        elif changes > 0:
            base = await fetcher.fetch(file.old_path or file.path, base_sha, None)
            base_data = base.data
            file.added_lines = added_lines_by_diff(base_data, data)
            if base_data is not None:
                file.base_loader = lambda: base_data
                reader.remember("base", file.old_path or file.path, base_data)
    if file.base_loader is None and file.status in (FileStatus.MODIFIED, FileStatus.RENAMED):
        file.base_loader = _lazy_base(reader, file.old_path or file.path)


def _lazy_base(reader: RemoteReader, path: str) -> Callable[[], bytes | None]:
    """A base-side loader that fetches only when a check asks, through the job's reader (one cache, one
    symlink rule, one budget of time).

    The secrets check reads the base of the few files where it found something, to drop secrets the file
    already had (a re-indented line is not a new leak); fetching every base up front would double the API
    calls of every job. When the read fails it answers None ("base unknown"), which makes a check keep its
    findings: the safe direction for a loader (`ctx.read` raises instead, for checks that must know).
    """

    def load() -> bytes | None:
        try:
            return reader("base", path)
        except ReadError as exc:
            log.warning("change.base_unavailable", path=path, error=scrub(str(exc))[:300])
            return None

    return load
