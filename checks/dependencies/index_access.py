"""Finding the advisory index for a check run: an injected service, else the configured location.

`ctx.services["advisories"]` may be an `AdvisoryIndex` or a path (tests, the App's workers); otherwise the
index at `$PRGUARD_ADVISORY_DIR` or the user cache dir is used. An open index is cached per file identity
(inode and mtime), so the App opens it once per sync, not once per PR.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from checks.dependencies.advisories.location import ENV, index_path
from checks.dependencies.advisories.store import AdvisoryIndex, IndexUnavailable

NO_INDEX_HINT = f"or set {ENV} to a directory holding one"
_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int], AdvisoryIndex]] = {}


def open_index(service: object = None) -> tuple[AdvisoryIndex | None, str]:
    """(the index, "") or (None, why not)."""
    if isinstance(service, AdvisoryIndex):
        return service, ""
    path = Path(service) if isinstance(service, str | os.PathLike) else index_path()
    if path.is_dir():
        path = index_path(path)
    try:
        stat = path.stat()
    except OSError:
        return None, f"no advisory index at {path}"
    identity = (stat.st_ino, stat.st_mtime_ns)
    with _lock:
        cached = _cache.get(str(path))
        if cached is not None and cached[0] == identity:
            return cached[1], ""
        try:
            index = AdvisoryIndex(path)
        except IndexUnavailable as exc:
            return None, str(exc)
        _cache[str(path)] = (identity, index)
        return index, ""


def data_line(service: object = None) -> str:
    """`Advisory data: OSV from <source>, newest record <date>.` for a report, "" when there is no index."""
    index, _ = open_index(service)
    if index is None:
        return ""
    meta = index.meta
    return f"Advisory data: OSV from {meta.source}, newest record {meta.data_date or 'unknown'}."
