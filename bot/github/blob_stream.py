"""Model and dataset files over the size cap, streamed from GitHub for the checks that read streams.

`prguard scan` hands files over its size cap to checks with `streams = True` (`checks.streaming`) when they
are model or dataset artifacts; this module gives the App the same: such a file of a pull request becomes
`ChangedFile.stream_only` (`mark_stream_only`), and `Change.open` reaches `RemoteOpener`, which downloads the
blob with the raw media type (the git blobs API by SHA) into an anonymous temporary file, chunk by chunk as
httpx receives it, so a 100 MB model is never held in memory. The SHA-1 of what arrived is checked against
the blob's own SHA, so a truncated or altered download is an error, never scanned as if it were the file.

Bounds, each reported on the file, never silent:
- the kind's stream cap (`checks.streaming.stream_cap`, lowered by a check's `max_bytes`);
- GitHub's API serves raw blobs up to 100 MB: a larger file is "larger than GitHub's 100 MB API limit";
- a per-job byte budget (`StreamBudget`, `FetchOptions.stream_budget_bytes`) over every download, so a PR
  of fifty models cannot fill the worker's disk or hold it for an hour.

Each `open` downloads again (as `prguard scan` copies a blob again): the budget counts every download.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import tempfile
import threading
from typing import Any, BinaryIO

import httpx
from githubkit import GitHub

from bot.github.contents import RAW, RemoteReader
from checks import streaming
from checks.change import ChangedFile, FileStatus, FileTooLarge, LineSet, ReadError, Side, human_size

#: What GitHub's contents and blobs APIs serve as raw bytes at most (larger: 403 "too_large").
GITHUB_BLOB_MAX_BYTES = 100 * 1024 * 1024
#: seconds one download may take before it is abandoned (an error on the file)
STREAM_TIMEOUT = 300.0
_CHUNK = 1 << 20


def over_api_limit(size: int) -> str:
    """The skip reason for a streamable file GitHub's API will not serve (starts with "larger than", so
    `fail_on_unscanned` counts it as a file that was not scanned)."""
    return f"larger than GitHub's 100 MB API limit ({size:,} bytes); not scanned"


def mark_stream_only(file: ChangedFile, size: int) -> str | None:
    """Make `file` (over the size cap) stream-only when its kind streams and GitHub can serve it, as
    `checks.git_change` does locally: every line counts as added and its bytes are never loaded whole.

    Returns a skip reason to use instead of the size cap's when only GitHub's API limit stands in the way.
    """
    cap = streaming.stream_cap(file.path)
    if not cap or size > cap:
        return None
    if size > GITHUB_BLOB_MAX_BYTES:
        return over_api_limit(size)

    def refuse() -> bytes:
        raise FileTooLarge(f"{file.path}: over the size cap ({human_size(size)}); read it with "
                           "CheckContext.open", size)

    file.stream_only = True
    file.size = size
    file.is_binary = file.path.lower().endswith(streaming.MODEL_SUFFIXES)
    file.added_lines = LineSet([(1, 1 << 62)])
    file.head_loader = refuse
    file.base_loader = None if file.status is FileStatus.ADDED else refuse
    return None


class StreamBudget:
    """Bytes one job may still download as streams (thread-safe: checks open files from their threads)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._lock = threading.Lock()

    def take(self, path: str, size: int) -> None:
        with self._lock:
            if self.used + size > self.total:
                raise ReadError(f"{path}: not downloaded ({human_size(size)}): this job's budget of "
                                f"{human_size(self.total)} for large files is spent "
                                f"({human_size(self.used)} already downloaded)")
            self.used += size


async def download_blob(gh: GitHub[Any], owner: str, repo: str, sha: str, size: int, out: BinaryIO) -> None:
    """Blob `sha` (`size` bytes) written to `out` as it arrives; its git SHA-1 checked at the end.

    Through the client's own httpx client (its auth, API version and metrics): the job's, or, from a context
    that cannot see it (checks run in an executor's threads), one opened for this download and closed after.
    The client must have no HTTP cache (prguard's has `http_cache=False`): githubkit's default cache (hishel)
    buffers a whole response body in memory, streamed or not (measured: +100 MB RSS for a 90 MB blob).
    """
    async with gh.get_async_client() as client, client.stream(
        "GET", f"/repos/{owner}/{repo}/git/blobs/{sha}", headers={"Accept": RAW}
    ) as resp:
        if resp.status_code != 200:
            await resp.aread()
            raise ReadError(f"GitHub answered HTTP {resp.status_code}: {_message(resp)}")
        if resp.headers.get("content-type", "").startswith("application/json"):
            raise ReadError("GitHub answered with JSON, not the raw blob")
        digest = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
        written = 0
        async for chunk in resp.aiter_bytes(_CHUNK):
            written += len(chunk)
            if written > size:
                raise ReadError(f"GitHub sent more than the blob's {size} bytes")
            digest.update(chunk)
            out.write(chunk)
        if written != size:
            raise ReadError(f"GitHub sent {written} of the blob's {size} bytes")
        if digest.hexdigest() != sha:
            raise ReadError("the downloaded bytes do not match the blob's SHA")


def _message(resp: httpx.Response) -> str:
    """GitHub's `message` from an error reply, on one bounded line."""
    try:
        payload = resp.json()
    except ValueError:
        return "(no message)"
    text = str(payload.get("message", "")) if isinstance(payload, dict) else ""
    return " ".join(text.split())[:200] or "(no message)"


class RemoteOpener:
    """`checks.change.Opener` for a pull request: what the job's `RemoteReader` already holds (or reads,
    within the size cap) as an in-memory file; a stream-capable file over the cap as a downloaded spool."""

    def __init__(self, reader: RemoteReader, gh: GitHub[Any], owner: str, repo: str,
                 budget: StreamBudget) -> None:
        self.reader = reader
        self.gh = gh
        self.owner = owner
        self.repo = repo
        self.budget = budget
        self._loop = asyncio.get_running_loop()

    def __call__(self, side: Side, path: str, max_bytes: int | None = None) -> BinaryIO | None:
        self.reader.off_loop(path)
        fetched = self.reader.lookup(side, path)
        if fetched.data is not None:
            if max_bytes is not None and len(fetched.data) > max_bytes:
                raise streaming.too_large(path, len(fetched.data), max_bytes)
            return io.BytesIO(fetched.data)
        if not fetched.too_large:
            return None  # absent on that side, a symlink, a directory or a submodule
        size = fetched.size or 0
        cap = streaming.stream_cap(path)
        if not cap or not fetched.sha:
            raise FileTooLarge(f"{path}: {fetched.skipped}", size)
        limit = cap if max_bytes is None else min(cap, max_bytes)
        if size > limit:
            raise streaming.too_large(path, size, limit)
        if size > GITHUB_BLOB_MAX_BYTES:
            raise ReadError(f"{path}: {over_api_limit(size)}")
        self.budget.take(path, size)
        return self._spool(path, fetched.sha, size)

    def _spool(self, path: str, sha: str, size: int) -> BinaryIO:
        out = tempfile.TemporaryFile(prefix="prguard-stream-")  # noqa: SIM115 - returned open to the caller
        future = asyncio.run_coroutine_threadsafe(
            download_blob(self.gh, self.owner, self.repo, sha, size, out), self._loop)  # type: ignore[arg-type]
        try:
            future.result(timeout=STREAM_TIMEOUT)
        except BaseException as exc:
            future.cancel()
            out.close()
            if isinstance(exc, TimeoutError):
                raise ReadError(f"{path}: not downloaded within {STREAM_TIMEOUT:g} s") from None
            if isinstance(exc, ReadError):
                raise ReadError(f"{path}: {exc}") from None
            if isinstance(exc, Exception):
                raise ReadError(f"{path}: download failed ({type(exc).__name__})") from None
            raise
        out.seek(0)
        return out  # type: ignore[return-value]
