"""`sync`: fetch OSV data (a mirror URL, one zip URL, or a local directory/zip) and rebuild the advisory
index atomically. Used by `prguard advisories sync` and by the App's scheduled re-audit.

Downloads go to temporary files beside the index and are all complete before the index is rebuilt; the
rebuild itself writes a new file and renames it over the old one (`checks.dependencies.advisories.store`).
Any failure — a dropped connection, a truncated zip, a full disk, Ctrl-C — leaves the old index in place and
usable. This is the only part of the dependencies feature that uses the network.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from checks.dependencies.advisories.location import index_path
from checks.dependencies.advisories.osv import LoadStats, records_from_path, records_from_zip
from checks.dependencies.advisories.store import AdvisoryIndex, IndexMeta, IndexUnavailable, build_index
from checks.dependencies.model import ECOSYSTEMS

#: OSV's public export bucket: `<base>/<ecosystem>/all.zip` (https://google.github.io/osv.dev/data/)
OSV_EXPORTS = "https://osv-vulnerabilities.storage.googleapis.com"
#: one download larger than this fails the sync (npm's all.zip is a few hundred MB)
MAX_DOWNLOAD_BYTES = 4 * 1024**3


class SyncError(Exception):
    """The sync failed; the previous index (if any) is untouched."""


@dataclass
class SyncResult:
    path: Path
    meta: IndexMeta
    stats: LoadStats
    #: advisory ids that are new, or whose `modified` changed, compared with the previous index
    changed: set[str] = field(default_factory=set)


def _public(url: str) -> str:
    """`url` without credentials (an operator's mirror URL may carry a token): safe for logs and meta."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _download(client: httpx.Client, url: str, directory: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=".download-", suffix=".zip", dir=directory)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out, client.stream("GET", url) as reply:
            if reply.status_code != 200:
                raise SyncError(f"{_public(url)}: HTTP {reply.status_code}")
            for chunk in reply.iter_bytes(1 << 20):
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise SyncError(f"{_public(url)}: larger than {MAX_DOWNLOAD_BYTES} bytes")
                out.write(chunk)
    except httpx.HTTPError as exc:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise SyncError(f"{_public(url)}: download failed ({type(exc).__name__}: {exc})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def _filtered(records: Iterator[dict[str, Any]], wanted: set[str]) -> Iterator[dict[str, Any]]:
    for record in records:
        ecos = {str((a.get("package") or {}).get("ecosystem", "")).split(":", 1)[0]
                for a in record.get("affected") or [] if isinstance(a, dict)}
        if ecos & wanted:
            yield record


def _old_versions(target: Path) -> tuple[dict[str, str], dict[str, int]]:
    try:
        old = AdvisoryIndex(target)
    except IndexUnavailable:
        return {}, {}
    try:
        return old.modified_by_id(), dict(old.meta.ecosystems)
    finally:
        old.close()


def sync(source: str | None = None, ecosystems: Sequence[str] | None = None,
         directory: str | os.PathLike[str] | None = None, *, timeout: float = 300.0) -> SyncResult:
    """Rebuild the index at `directory` (default: the configured location) from `source`.

    `source`: a local directory or zip/JSON/YAML file, a URL ending in `.zip`, or a mirror base URL serving
    `<ecosystem>/all.zip` (default: OSV's export bucket). `ecosystems`: only these are refreshed (the index
    keeps its other ecosystems); default all eight.
    """
    target = index_path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    wanted = list(ecosystems or ECOSYSTEMS)
    unknown = [e for e in wanted if e not in ECOSYSTEMS]
    if unknown:
        raise SyncError(f"unknown ecosystem {unknown[0]!r} (one of: {', '.join(ECOSYSTEMS)})")
    previous, old_ecosystems = _old_versions(target)
    keep = [e for e in old_ecosystems if e not in wanted] if ecosystems else []
    stats = LoadStats()
    downloads: list[Path] = []
    base = source or OSV_EXPORTS
    try:
        if "://" not in base:
            if not Path(base).exists():
                raise SyncError(f"{base}: no such file or directory")
            records: Iterator[dict[str, Any]] = records_from_path(base, stats)
            if ecosystems:
                records = _filtered(records, set(wanted))
            label = str(Path(base).resolve())
        else:
            urls = ([base] if urlsplit(base).path.endswith(".zip")
                    else [f"{base.rstrip('/')}/{quote(e)}/all.zip" for e in wanted])
            with httpx.Client(timeout=timeout, follow_redirects=True) as client:
                downloads = [_download(client, url, target.parent) for url in urls]
            records = (r for d in downloads for r in records_from_zip(d, stats))
            if ecosystems and len(urls) == 1:
                records = _filtered(records, set(wanted))
            label = _public(base)
        try:
            meta = build_index(records, target, source=label, keep_from=target if keep else None,
                               keep_ecosystems=keep)
        except SyncError:
            raise
        except Exception as exc:  # a bad zip, a full disk: the old index stays, the sync fails loudly
            raise SyncError(f"could not build the index: {type(exc).__name__}: {exc}") from None
    finally:
        for d in downloads:
            with contextlib.suppress(OSError):
                d.unlink()
    index = AdvisoryIndex(target)
    try:
        now = index.modified_by_id()
    finally:
        index.close()
    changed = {i for i, m in now.items() if previous.get(i) != m}
    return SyncResult(path=target, meta=meta, stats=stats, changed=changed)
