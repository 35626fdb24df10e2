"""Reading working-tree files for a local scan without ever following a symlink.

A scan reports on what git tracks at a path. A symlink (on the file or on any directory above it) could
point anywhere on the machine — `~/.ssh`, `/dev/zero`, a FIFO that blocks forever — so every component is
opened with `O_NOFOLLOW` relative to its parent's descriptor, and only a regular file is read.
"""

from __future__ import annotations

import os
import stat


def read_worktree_file(root: str, rel: str) -> bytes:
    """Read a file under `root` without following a symlink anywhere on its path (`open_nofollow`)."""
    fd = open_nofollow(root, rel)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PermissionError(f"{rel}: not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def open_nofollow(root: str, rel: str) -> int:
    """A read-only descriptor for `root/rel`, opening each directory and the file with O_NOFOLLOW.

    A symlink anywhere on the path fails with ELOOP (or ENOTDIR), so nothing outside what git tracks at
    that path is ever read. The caller closes the descriptor.
    """
    parts = rel.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0), dir_fd=fd)
    finally:
        os.close(fd)
