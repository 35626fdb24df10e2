"""Reading a pull request's files through GitHub's contents API: bounded in flight, capped in size, never
following symlinks (`ContentFetcher`), and the `checks.change.Reader` checks use for any other path on either
side (`RemoteReader`).

The contents API answers a symlink to a file in the repository with the *target's* content, so a reply whose
blob SHA is not the path's own blob SHA (from the files API), or whose `path` is not the path asked for, is
treated as a symlink and its bytes are dropped. Files over 1 MB come from the git blobs API by SHA.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from githubkit import GitHub
from githubkit.exception import RequestFailed

from bot.github.retry import error_message
from checks.change import DEFAULT_MAX_FILE_BYTES, ChangedFile, FileStatus, FileTooLarge, ReadError, Side

RAW = "application/vnd.github.raw+json"
#: What one job may download as streams in all (`bot.github.blob_stream`: models, datasets over the cap).
DEFAULT_STREAM_BUDGET = 1024**3


@dataclass(frozen=True)
class FetchOptions:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    #: Requests in flight for contents (GitHub asks integrators to stay well under 100 concurrent).
    concurrency: int = 8
    #: bytes one job may download as streams (model/dataset files over `max_file_bytes`)
    stream_budget_bytes: int = DEFAULT_STREAM_BUDGET


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
    sha: str | None = None  # the blob's SHA when `too_large` (to stream it)
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
            cap = self.options.max_file_bytes
            return _Fetched(size=size, too_large=True, sha=item.sha,
                            skipped=f"larger than {cap} bytes ({size} bytes); not fetched")
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
        self._large: dict[tuple[Side, str], _Fetched] = {}  # over the size cap: blob SHA and size

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

    def remember_large(self, side: Side, path: str, fetched: _Fetched) -> None:
        self._large[(side, path)] = fetched

    def __call__(self, side: Side, path: str) -> bytes | None:
        fetched = self.lookup(side, path)
        if fetched.data is not None:
            return fetched.data
        if fetched.too_large:
            raise FileTooLarge(f"{path}: {fetched.skipped}", fetched.size)
        return None

    def lookup(self, side: Side, path: str) -> _Fetched:
        """What reading `path` on `side` finds: its bytes; or, over the size cap, `too_large` with the blob's
        SHA and size (for `RemoteOpener`); or neither (absent, a symlink, a directory, a submodule)."""
        key = (side, path)
        with self._lock:
            if key in self._known:
                return _Fetched(data=self._known[key])
            if key in self._large:
                return self._large[key]
        self.off_loop(path)
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
        with self._lock:
            if fetched.too_large:
                self._large[key] = fetched
            elif fetched.data is None:
                self._known[key] = None  # absent, a symlink, a directory or a submodule: cheap to remember
        return fetched

    def off_loop(self, path: str) -> None:
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
