"""A file path for libraries that insist on one (numpy.memmap in `gguf`), without copying when possible."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO


@contextlib.contextmanager
def as_path(fh: BinaryIO) -> Iterator[str]:
    """`/proc/self/fd/N` for a real file (Linux), else a temporary copy removed afterwards."""
    try:
        fd = fh.fileno()
    except (OSError, AttributeError, ValueError):
        fd = -1
    if fd >= 0 and os.path.exists(f"/proc/self/fd/{fd}"):
        yield f"/proc/self/fd/{fd}"
        return
    with tempfile.NamedTemporaryFile(prefix="prguard-model-") as tmp:
        fh.seek(0)
        shutil.copyfileobj(fh, tmp, 1 << 20)
        tmp.flush()
        yield tmp.name
