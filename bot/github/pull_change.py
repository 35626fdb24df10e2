"""Build a `checks.change.Change` for a pull request from GitHub's REST API.

Checks are synchronous and pure, so every byte they may read is fetched first, asynchronously and with a
bound on requests in flight (GitHub's secondary limits), and handed to each `ChangedFile` as a loader that
returns the prefetched bytes. Only files some check wants are fetched.

Where the lines come from: the PR files API's `patch` (head-side numbers of `+` lines). GitHub omits the
patch for large diffs; then an added file counts as added whole and a modified one is diffed locally against
its base version (difflib).

Symlinks are never followed: the contents API answers a symlink to a file in the repository with the
*target's* content, so a reply whose blob SHA is not the path's own blob SHA (from the files API), or whose
`path` is not the path asked for, is treated as a symlink and its bytes are dropped.

Checks may also read paths the PR did not change, on either side (`Change.read`, through `RemoteReader`):
those reads go to the contents API from the check's worker thread, at most `MAX_EXTRA_READS` per job.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.github.client import error_message
from bot.log import Logger, get_logger, scrub
from checks.change import (
    DEFAULT_MAX_FILE_BYTES,
    Change,
    ChangedFile,
    FileStatus,
    FileTooLarge,
    LineSet,
    ReadError,
    Side,
    looks_binary,
)
from checks.diff import added_lines_by_diff, added_lines_from_patch, line_count
from checks.finding import Skipped

log = get_logger(__name__)

MAX_PR_FILES = 3000  # GitHub's PR files API lists at most this many
RAW = "application/vnd.github.raw+json"

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


@dataclass(frozen=True)
class FetchOptions:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    #: Requests in flight for contents (GitHub asks integrators to stay well under 100 concurrent).
    concurrency: int = 8


@dataclass
class FetchStats:
    requests: int = 0
    bytes: int = 0
    files_fetched: int = 0
    pages: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Fetched:
    data: bytes | None = None
    is_symlink: bool = False
    size: int | None = None
    skipped: str | None = None  # reason, when not fetched
    too_large: bool = False  # over the size cap: the path exists but was not read
    error: str | None = None  # a 404 that is not about the path (an unknown ref): nothing is known


class ContentFetcher:
    """Contents at a ref, bounded in flight, never following symlinks, capped in size."""

    def __init__(self, gh: GitHub[Any], owner: str, repo: str, options: FetchOptions,
                 stats: FetchStats) -> None:
        self.gh = gh
        self.owner = owner
        self.repo = repo
        self.options = options
        self.stats = stats
        self._sem = asyncio.Semaphore(max(1, options.concurrency))

    async def fetch(self, path: str, ref: str, expected_sha: str | None) -> _Fetched:
        async with self._sem:
            return await self._fetch(path, ref, expected_sha)

    async def _fetch(self, path: str, ref: str, expected_sha: str | None) -> _Fetched:
        self.stats.requests += 1
        try:
            resp = await self.gh.rest.repos.async_get_content(
                self.owner, self.repo, quote(path, safe="/"), ref=ref
            )
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                message = error_message(exc)  # GitHub's plain "Not Found" means no such path at `ref`
                return _Fetched(skipped=f"not found at {ref[:12]}",
                                error=None if message == "Not Found" else message)
            raise
        item = resp.parsed_data
        kind = getattr(item, "type", None) if not isinstance(item, list) else "dir"
        if kind == "symlink":
            target = getattr(item, "target", "") or "?"
            return _Fetched(is_symlink=True, skipped=f"symlink to `{target}`; never followed")
        if kind != "file":
            return _Fetched(skipped=f"not a regular file ({kind})")
        served = getattr(item, "path", "") or path
        if (expected_sha and item.sha and item.sha != expected_sha) or served != path:
            # GitHub served a symlink's target: the path's own blob (or its path) is something else
            to = f" to `{served}`" if served != path else ""
            return _Fetched(is_symlink=True, skipped=f"symlink{to}; never followed")
        size = int(item.size or 0)
        if size > self.options.max_file_bytes:
            return _Fetched(size=size, too_large=True, skipped=f"larger than {self.options.max_file_bytes} "
                            f"bytes ({size} bytes); not fetched")
        content = getattr(item, "content", "") or ""
        encoding = getattr(item, "encoding", "") or ""
        if encoding == "base64" and (content or size == 0):
            data = base64.b64decode(content)
        else:
            data = await self._blob(item.sha)
        self.stats.bytes += len(data)
        self.stats.files_fetched += 1
        return _Fetched(data=data, size=len(data))

    async def _blob(self, sha: str) -> bytes:
        """Files over 1 MB: the contents API sends no content; the git blobs API by SHA does (≤ 100 MB)."""
        self.stats.requests += 1
        resp = await self.gh.rest.git.async_get_blob(self.owner, self.repo, sha, headers={"Accept": RAW})
        if resp.headers.get("content-type", "").startswith("application/json"):
            payload = resp.raw_response.json()
            if payload.get("encoding") == "base64":
                return base64.b64decode(payload.get("content", ""))
            return str(payload.get("content", "")).encode()
        return resp.content


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
                    max_file_bytes=options.max_file_bytes)
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
    logger.info("change.built", files=len(change.files), fetched=stats.files_fetched,
                requests=stats.requests, bytes=stats.bytes, skipped=len(change.skipped))
    return change


async def _prefetch(file: ChangedFile, fetcher: ContentFetcher, change: Change, reader: RemoteReader, *,
                    head_sha: str, base_sha: str, blob_sha: str | None, no_patch: bool, changes: int) -> None:
    head = await fetcher.fetch(file.path, head_sha, blob_sha)
    file.is_symlink = head.is_symlink
    file.size = head.size
    if head.is_symlink:
        reader.remember("head", file.path, None)
    if head.data is None:
        if head.skipped:
            # symlinks included: a link the PR adds is listed, not silently passed over
            change.skipped.append(Skipped(path=file.path, reason=head.skipped))
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


#: Reads of paths outside the pull request's own files that one job may make through `Change.read` (a
#: lockfile next to a changed manifest, a config a changed workflow includes). Each costs a contents API
#: request of the installation's rate limit; beyond this many `read` raises, so a check asking for
#: thousands reports an error instead of draining the limit (or, worse, seeing "absent").
MAX_EXTRA_READS = 300
#: seconds a check waits for one read
READ_TIMEOUT = 60.0


class RemoteReader:
    """`checks.change.Reader` for a pull request: the contents API at the base or head SHA.

    Checks run in worker threads; each read is handed to the event loop (`run_coroutine_threadsafe`) and
    awaited there through the job's `ContentFetcher`, which refuses symlinks and caps sizes. What the job
    already fetched is answered from memory. A failed request, an unknown ref or a spent budget raises
    `checks.change.ReadError`, never None: a path that could not be read is not an absent one.
    """

    def __init__(self, fetcher: ContentFetcher, *, base_sha: str, head_sha: str,
                 budget: int = MAX_EXTRA_READS) -> None:
        self.fetcher = fetcher
        self.refs: dict[Side, str] = {"head": head_sha, "base": base_sha}
        self.budget = budget
        self.extra_reads = 0
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._known: dict[tuple[Side, str], bytes | None] = {}
        self._changed: set[tuple[Side, str]] = set()  # the PR's own paths: not counted in the budget
        self._counted: set[tuple[Side, str]] = set()
        self._blobs: dict[tuple[Side, str], str] = {}

    def add_changed(self, file: ChangedFile, blob_sha: str | None = None) -> None:
        """Note one of the PR's files: its reads are free, a side it does not exist on is known, and its
        head blob SHA (from the files API) lets a read of it tell the file from a symlink's target."""
        if blob_sha:
            self._blobs[("head", file.path)] = blob_sha
        base_path = file.old_path or file.path
        self._changed.update({("head", file.path), ("base", base_path)})
        if file.status is FileStatus.REMOVED:
            self._known[("head", file.path)] = None
        if file.status is FileStatus.ADDED:
            self._known[("base", file.path)] = None
        if file.status is FileStatus.RENAMED and file.old_path:
            self._changed.update({("head", file.old_path), ("base", file.path)})
            self._known[("head", file.old_path)] = None
            self._known[("base", file.path)] = None

    def remember(self, side: Side, path: str, data: bytes | None) -> None:
        self._known[(side, path)] = data

    def __call__(self, side: Side, path: str) -> bytes | None:
        key = (side, path)
        with self._lock:
            if key in self._known:
                return self._known[key]
        self._off_loop(path)
        with self._lock:
            if key not in self._changed and key not in self._counted:
                if self.extra_reads >= self.budget:
                    raise ReadError(f"{path}: more than {self.budget} reads of files outside the pull "
                                    "request in one job; not read")
                self.extra_reads += 1
                self._counted.add(key)
        fetched = self._fetch(path, self.refs[side], self._blobs.get(key))
        if fetched.error is not None:
            raise ReadError(f"{path} at {self.refs[side][:12]}: {fetched.error}")
        if fetched.data is not None:
            return fetched.data
        if fetched.too_large:
            raise FileTooLarge(f"{path}: {fetched.skipped}")
        with self._lock:
            self._known[key] = None  # absent, a symlink, a directory or a submodule: cheap to remember
        return None

    def _off_loop(self, path: str) -> None:
        """Refuse to block the event loop's own thread: the read it waits for could never run."""
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            raise ReadError(f"{path}: read on the event loop's thread (checks run in worker threads)")

    def _fetch(self, path: str, ref: str, blob_sha: str | None) -> _Fetched:
        future = asyncio.run_coroutine_threadsafe(self.fetcher.fetch(path, ref, blob_sha), self._loop)
        try:
            return future.result(timeout=READ_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise ReadError(f"{path} at {ref[:12]}: no answer within {READ_TIMEOUT:g} s") from None
        except RequestFailed as exc:
            raise ReadError(f"{path} at {ref[:12]}: {error_message(exc)}") from None
        except Exception as exc:
            raise ReadError(f"{path} at {ref[:12]}: {type(exc).__name__}") from None
