"""Where the advisory index lives: `$PRGUARD_ADVISORY_DIR`, else a directory in the user's cache dir.

`prguard scan`, `prguard advisories` and the App's workers all resolve it the same way, so a sync made by
one is what the others read.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "PRGUARD_ADVISORY_DIR"
INDEX_NAME = "advisories.sqlite"


def default_dir() -> Path:
    """`$PRGUARD_ADVISORY_DIR`, else `<user cache dir>/prguard/advisories` (platformdirs)."""
    configured = os.environ.get(ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("prguard")) / "advisories"


def index_path(directory: str | os.PathLike[str] | None = None) -> Path:
    return Path(directory if directory is not None else default_dir()) / INDEX_NAME
