"""The two kinds of tree an AI-BOM is built from: a directory on disk, or one side of a `Change`.

Both are read-only views with the same three operations (list paths, read small files, hash any file), so
the inventory code does not care which it has. Neither follows a symlink: a symlinked file is listed in
`unread`, never read through.

A side of a change lists the change's files only. The AI-BOM difference of a pull request compares the
base and head sides of the files it touched: a component whose evidence lies only in untouched files is the
same on both sides and is not part of the difference.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from checks.change import Change, FileStatus, FileTooLarge, ReadError, Side, check_repo_path

#: the largest file read into memory for parsing (code, configs, cards); bigger ones are only hashed
MAX_PARSE_BYTES = 2 * 1024 * 1024
#: directories never walked on disk (tool caches and installed packages are not the repository's)
SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache",
                       ".ruff_cache", ".pytest_cache", "site-packages", ".hg", ".svn"})


class Unreadable(Exception):
    """A path exists but could not be read (too large, a symlink, an I/O error)."""


class Tree(Protocol):
    def paths(self) -> list[str]:
        """Repository-relative POSIX paths of regular files."""
        ...

    def read(self, path: str) -> bytes | None:
        """Contents up to `MAX_PARSE_BYTES`; None when absent; `Unreadable` when it cannot be read."""
        ...

    def digest(self, path: str) -> tuple[str, int] | None:
        """(sha256 hex, size) of any file, streamed; None when absent or not hashable here."""
        ...

    def peek(self, path: str, size: int = 64) -> bytes | None:
        """The first `size` bytes of any file (format sniffing); None when absent or not readable here."""
        ...


class DirectoryTree:
    """A directory on disk; `files` limits it to a list (e.g. `git ls-files`), else it is walked."""

    def __init__(self, root: str | os.PathLike[str], files: Sequence[str] | None = None) -> None:
        self.root = Path(root)
        self._files = None if files is None else sorted(dict.fromkeys(files))

    def paths(self) -> list[str]:
        if self._files is not None:
            return [p for p in self._files if self._regular(p)]
        return sorted(self._walk(self.root, ""))

    def _walk(self, directory: Path, prefix: str) -> Iterator[str]:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIP_DIRS:
                    yield from self._walk(Path(entry.path), rel + "/")
            elif entry.is_file(follow_symlinks=False):
                yield rel

    def _regular(self, path: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self.root / check_repo_path(path)).st_mode)
        except (OSError, ValueError):
            return False

    def _open(self, path: str) -> int:
        check_repo_path(path)
        try:
            return os.open(self.root / path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise Unreadable(f"{path}: {exc.strerror or exc}") from None

    def read(self, path: str) -> bytes | None:
        try:
            fd = self._open(path)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_PARSE_BYTES + 1)
        if len(data) > MAX_PARSE_BYTES:
            raise Unreadable(f"{path} is larger than {MAX_PARSE_BYTES} bytes (not parsed)")
        return data

    def digest(self, path: str) -> tuple[str, int] | None:
        try:
            fd = self._open(path)
        except (FileNotFoundError, Unreadable):
            return None
        with os.fdopen(fd, "rb") as fh:
            h = hashlib.file_digest(fh, "sha256")
            return h.hexdigest(), os.fstat(fh.fileno()).st_size

    def peek(self, path: str, size: int = 64) -> bytes | None:
        try:
            fd = self._open(path)
        except (FileNotFoundError, Unreadable):
            return None
        with os.fdopen(fd, "rb") as fh:
            return fh.read(size)


class ChangeSide:
    """The files of `change` as they are on `side` ("head" or "base"), under their head-side paths' names
    on head and their old names on base; other paths are read through the change's reader."""

    def __init__(self, change: Change, side: Side) -> None:
        self.change = change
        self.side = side
        #: the changed files, with those over the size cap that only streams read (`Change.streamable`)
        self._files = [*change.files, *change.streamable]
        #: head-side contents of changed files come from their own loaders (already fetched, cached)
        self._head = {f.path: f for f in self._files if f.status is not FileStatus.REMOVED} \
            if side == "head" else {}

    def _bytes(self, path: str) -> bytes | None:
        file = self._head.get(path)
        if file is not None:
            return file.head_bytes()
        return self.change.read(path, self.side)

    def paths(self) -> list[str]:
        out = []
        for f in self._files:
            if f.is_symlink:
                continue
            if self.side == "head" and f.status is not FileStatus.REMOVED:
                out.append(f.path)
            elif self.side == "base" and f.status is not FileStatus.ADDED:
                out.append(f.old_path or f.path)
        return sorted(dict.fromkeys(out))

    def _unknowable(self, path: str) -> bool:
        """A change without a reader (built by hand: the editor, a corpus) knows only its own files."""
        return self.change.reader is None and all(path not in (f.path, f.old_path) for f in self.change.files)

    def read(self, path: str) -> bytes | None:
        if self._unknowable(path):
            return None
        try:
            data = self._bytes(path)
        except FileTooLarge as exc:
            raise Unreadable(str(exc)) from None
        except (ReadError, ValueError) as exc:
            raise Unreadable(f"{path}: {exc}") from None
        if data is not None and len(data) > MAX_PARSE_BYTES:
            raise Unreadable(f"{path} is larger than {MAX_PARSE_BYTES} bytes (not parsed)")
        return data

    def digest(self, path: str) -> tuple[str, int] | None:
        if self._unknowable(path):
            return None
        try:
            data = self._bytes(path)
        except (ReadError, ValueError):
            return None  # over the change's size cap: the size may still be known (see `size`)
        return None if data is None else (hashlib.sha256(data).hexdigest(), len(data))

    def peek(self, path: str, size: int = 64) -> bytes | None:
        if self._unknowable(path):
            return None
        try:
            data = self._bytes(path)
        except (ReadError, ValueError):
            return None
        return None if data is None else data[:size]

    def size(self, path: str) -> int | None:
        """The head-side size the change knows for a file it could not read."""
        if self.side != "head":
            return None
        return next((f.size for f in self._files if f.path == path), None)
