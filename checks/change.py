"""The `Change` model: which files a PR (or a local diff) touched, and which head-side lines it added.

The model does not know where it came from. `checks.git_change` builds one from a local repository and
`bot.github.pull_change` from GitHub's PR files API; both hand in loaders so contents are read only when a
check asks for them, and a `Reader` so a check can read any other path of the repository on either side (a
lockfile next to a changed manifest, a config file a changed workflow includes).
"""

from __future__ import annotations

import bisect
import codecs
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, BinaryIO, Literal

from checks.finding import Skipped

if TYPE_CHECKING:
    from checks.history import History

DEFAULT_MAX_FILE_BYTES = 1024 * 1024

Loader = Callable[[], bytes | None]

#: Which side of a change: "head" (what the change makes) or "base" (what it started from).
Side = Literal["head", "base"]
SIDES: tuple[Side, ...] = ("head", "base")

#: `reader(side, path)`: the bytes of any repository path on that side; None when the path is absent there,
#: is a symlink (never followed), a submodule or a directory. A path that could not be read raises
#: `ReadError`: "could not read" must never look like "absent".
Reader = Callable[[Side, str], bytes | None]

#: `opener(side, path, max_bytes)`: a seekable binary file of any repository path on that side (the caller
#: closes it), None when absent or a symlink; `FileTooLarge` over `max_bytes` (see `checks.streaming`).
Opener = Callable[[Side, str, int | None], BinaryIO | None]


class ReadError(Exception):
    """A path could not be read (a request failed, a budget ran out): not the same as an absent path."""


class FileTooLarge(ReadError):
    """The path exists but is larger than the change's size cap, so it was not read (`size`, when known)."""

    def __init__(self, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.size = size


def human_size(n: int) -> str:
    """`3.2 MiB`, `1 MiB`, `512 KiB`, `900 bytes`: short enough for a one-line skip reason."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def check_repo_path(path: str) -> str:
    """`path` if it is a plain repository-relative path, else ValueError.

    Paths come from checks, which may take them from the change's own files (a lockfile naming
    `../../etc/passwd`): no absolute path, no `.`/`..`/empty component, no NUL, never inside `.git`.
    """
    if not path or "\0" in path or path.startswith("/"):
        raise ValueError(f"not a repository-relative path: {path!r}")
    for part in path.split("/"):
        if part in ("", ".", "..") or part.lower() == ".git":
            raise ValueError(f"not a repository-relative path: {path!r}")
    return path


class FileStatus(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    RENAMED = "renamed"


class LineSet:
    """Head-side line numbers held as sorted, merged, inclusive ranges.

    A 50 MB diff adds about a million lines; ranges keep that to a handful of tuples per file and make
    membership a binary search.
    """

    __slots__ = ("_ends", "_starts")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        merged: list[list[int]] = []
        for start, end in sorted((s, e) for s, e in ranges if e >= s):
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]

    @classmethod
    def whole(cls, line_count: int) -> LineSet:
        return cls([(1, line_count)] if line_count > 0 else [])

    def __contains__(self, line: object) -> bool:
        if not isinstance(line, int):
            return False
        i = bisect.bisect_right(self._starts, line) - 1
        return i >= 0 and line <= self._ends[i]

    def overlaps(self, start: int, end: int) -> bool:
        """Whether any line of `start..end` (inclusive) is in the set."""
        if end < start:
            return False
        i = bisect.bisect_right(self._starts, end) - 1
        return i >= 0 and self._ends[i] >= start

    def __len__(self) -> int:
        return sum(e - s + 1 for s, e in zip(self._starts, self._ends, strict=True))

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __iter__(self) -> Iterator[int]:
        for s, e in zip(self._starts, self._ends, strict=True):
            yield from range(s, e + 1)

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))

    def __repr__(self) -> str:
        return f"LineSet({self.ranges()!r})"


#: How much of a file decides whether it is text (git's own sample size).
SAMPLE_BYTES = 8000
#: With NUL bytes in the sample, at least this share of printable characters (NULs counted as not) still
#: makes a file text: one stray NUL must not hide a plaintext key as "binary".
TEXT_SHARE = 0.95
#: Below `TEXT_SHARE`, a sample whose non-NUL characters are at least this share printable (UTF-16 without
#: a BOM, text padded with NULs) may hold text that cannot be scanned: "not scanned", never plain "binary".
MAYBE_TEXT_SHARE = 0.9
#: The skip reason for such a file; `fail_on_unscanned` in the policy makes it blocking.
MAYBE_TEXT_REASON = "binary file that may hold text (not scanned)"
_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL_OK = frozenset("\t\n\r\f\v\x1b")

TextKind = Literal["text", "binary", "maybe-text"]


def bom_encoding(data: bytes) -> str | None:
    """The UTF-16/32 encoding a byte-order mark announces (PowerShell writes UTF-16 LE with one), or None."""
    return next((name for bom, name in _BOMS if data.startswith(bom)), None)


def _printable_share(sample: bytes) -> float:
    text = sample.decode("utf-8", "replace")  # invalid bytes become U+FFFD, which is not text here
    if not text:
        return 1.0
    return sum(1 for c in text if (c.isprintable() and c != "\ufffd") or c in _CONTROL_OK) / len(text)


def text_kind(data: bytes) -> TextKind:
    """"text" (scanned), "binary" (skipped) or "maybe-text" (skipped, reported as not scanned).

    Git's rule (a NUL in the first 8000 bytes means binary) is where this starts, not where it ends: a file
    with a byte-order mark is UTF-16/32 text, and a NUL-bearing sample that is otherwise printable text is
    text (NULs are scanned as spaces). Compressed or machine data is mostly unprintable and stays binary.
    """
    sample = data[:SAMPLE_BYTES]
    if b"\0" not in sample or bom_encoding(sample):
        return "text"
    if _printable_share(sample) >= TEXT_SHARE:
        return "text"
    return "maybe-text" if _printable_share(sample.replace(b"\0", b"")) >= MAYBE_TEXT_SHARE else "binary"


def could_hold_text(reason: str) -> bool:
    """Whether a skip reason means a file that could hold text went unscanned: over the size cap (every
    source says "larger than ..."), binary but maybe text, or unreadable. The policy's `fail_on_unscanned`
    makes these blocking; symlinks, submodules and plain binaries are only listed."""
    return reason == MAYBE_TEXT_REASON or reason.startswith(("larger than", "could not be read"))


def looks_binary(data: bytes) -> bool:
    """Not text by `text_kind`: skipped by text scanners ("binary" or "maybe-text")."""
    return text_kind(data) != "text"


def text_for_scan(data: bytes) -> bytes:
    """UTF-8 bytes a text scanner reads: UTF-16/32 with a BOM decoded (line numbers are the decoded text's)
    and NUL bytes turned into spaces, which end a token without moving a line. Call on text only."""
    encoding = bom_encoding(data)
    if encoding is not None:
        text = data[len(codecs.lookup(encoding).encode("\ufeff")[0]) :].decode(encoding, "replace")
        data = text.encode("utf-8", "replace")
    return data.replace(b"\0", b" ") if b"\0" in data else data


@dataclass(eq=False)
class ChangedFile:
    """One changed path. Contents are loaded lazily and cached; symlinks are never followed."""

    path: str
    status: FileStatus
    added_lines: LineSet
    old_path: str | None = None
    is_binary: bool = False
    is_symlink: bool = False
    size: int | None = None
    head_loader: Loader | None = field(default=None, repr=False)
    base_loader: Loader | None = field(default=None, repr=False)
    #: over the change's size cap but streamable (`checks.streaming`): read it with `CheckContext.open`,
    #: its `head_bytes` raises `FileTooLarge`; only checks with `streams = True` are given it
    stream_only: bool = False
    _head: bytes | None = field(default=None, init=False, repr=False)
    _head_loaded: bool = field(default=False, init=False, repr=False)

    def head_bytes(self) -> bytes | None:
        """Head-side bytes, or None for a removed file, a symlink or a file that could not be read."""
        if self.status is FileStatus.REMOVED or self.is_symlink:
            return None
        if not self._head_loaded:
            self._head = self.head_loader() if self.head_loader else None
            self._head_loaded = True
        return self._head

    def head_text(self) -> str | None:
        """Head-side text (UTF-8, or UTF-16/32 with a BOM; invalid bytes replaced, NULs as spaces), or None
        for binary or absent content."""
        data = self.head_bytes()
        if data is None or self.is_binary or looks_binary(data):
            return None
        return text_for_scan(data).decode("utf-8", errors="replace")

    def base_bytes(self) -> bytes | None:
        """Base-side bytes (the old path for a rename), or None for an added file. Not cached: rarely used."""
        if self.status is FileStatus.ADDED or self.base_loader is None:
            return None
        return self.base_loader()

    def release(self) -> None:
        """Drop cached contents so a long scan does not hold every file in memory."""
        self._head = None
        self._head_loaded = False


@dataclass
class Change:
    """The files changed between `base` and `head`, plus what was not scanned and why.

    `head` is a commit SHA, or "worktree"/"index" for local uncommitted changes. `reader` reads any path on
    either side (see `Reader`); without one (a change built by hand in a test) only the changed files can
    be read. `max_file_bytes` bounds every read. `history`, when set, lists what each commit added.
    """

    base: str
    head: str
    files: list[ChangedFile]
    skipped: list[Skipped] = field(default_factory=list)
    reader: Reader | None = field(default=None, repr=False)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    #: what each commit of the change added (`checks.history`), when its source read the commits
    #: (`prguard scan --history`, the App); findings made from it name their commit (see `checks.engine`)
    history: History | None = field(default=None, repr=False)
    #: files over `max_file_bytes` that can still be streamed (`ChangedFile.stream_only`); their paths stay
    #: in `skipped` for checks that do not stream (`checks.engine` drops them for checks that do)
    streamable: list[ChangedFile] = field(default_factory=list)
    #: opens any path as a stream (`Opener`); without one `open` falls back to a bounded `read`
    opener: Opener | None = field(default=None, repr=False)

    def scannable(self) -> list[ChangedFile]:
        """Files that exist on the head side and are not symlinks."""
        return [f for f in self.files if f.status is not FileStatus.REMOVED and not f.is_symlink]

    def read(self, path: str, side: Side = "head") -> bytes | None:
        """The bytes of repository path `path` on `side`; None when absent there or a symlink.

        Raises `FileTooLarge` over `max_file_bytes`, `ReadError` when the path could not be read, and
        ValueError for a path that is not plain and repository-relative (`check_repo_path`).
        """
        check_repo_path(path)
        if side not in SIDES:
            raise ValueError(f"side must be 'head' or 'base', not {side!r}")
        data = self.reader(side, path) if self.reader is not None else self._read_changed(path, side)
        if data is not None and len(data) > self.max_file_bytes:
            raise FileTooLarge(f"{path} is larger than the {self.max_file_bytes}-byte size cap")
        return data

    def open(self, path: str, side: Side = "head", max_bytes: int | None = None) -> BinaryIO | None:
        """A seekable binary file of `path` on `side` (use it as a context manager); None when absent.

        Streams through `opener` when the source has one (no size cap but `max_bytes`); otherwise reads
        the bytes (`read`, so the change's size cap applies) and wraps them. Raises as `read` does.
        """
        check_repo_path(path)
        if side not in SIDES:
            raise ValueError(f"side must be 'head' or 'base', not {side!r}")
        if self.opener is not None:
            return self.opener(side, path, max_bytes)
        data = self.read(path, side)
        if data is None:
            return None
        if max_bytes is not None and len(data) > max_bytes:
            raise FileTooLarge(f"{path} is larger than the {max_bytes}-byte stream cap", len(data))
        import io

        return io.BytesIO(data)

    def _read_changed(self, path: str, side: Side) -> bytes | None:
        """Without a reader: what the changed files know (a renamed file's old path is absent on head)."""
        for f in self.files:
            renamed = f.status is FileStatus.RENAMED
            if side == "head":
                if f.path == path:
                    return f.head_bytes()
                if renamed and f.old_path == path:
                    return None
            elif f.path == path and (renamed or f.status is FileStatus.ADDED):
                return None
            elif (f.old_path or f.path) == path:
                return f.base_bytes()
        raise ReadError(f"{path}: this change has no reader for paths it did not change")
