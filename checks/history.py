"""`History`: what each commit of a change added, so a check can find what the head no longer shows.

A key committed and deleted on the same branch is gone from the head but not from git: anyone who can fetch
the branch (on GitHub, anyone who can read the repository, from the moment it is pushed) can read it. The
head scan cannot see it, so a `Change` may carry a `History` (`Change.history`): for each commit of the
change, oldest first, the lines it added to each path, and what could not be read, with the reason.

Two builders fill it, both bounded by the same commit cap (`DEFAULT_MAX_COMMITS`, or
`PRGUARD_HISTORY_MAX_COMMITS`): `checks.git_history` from one `git log -p -U0` over the local range, and
`bot.github.pull_commits` from GitHub's PR commits and commit APIs. Only added lines are held (never the
commit's full tree), so the cost of a history follows what its commits added, not how many commits there
are times the size of the repository; `added_bytes` and `scanned_bytes` make that checkable.

Findings a check makes from a history name their commit in `Finding.metadata["commit"]`; the engine keeps
them when that commit is one of the history's (see `checks.engine`): they come from what a commit of the
change added, so they are introduced by construction, even on a path the final change does not touch.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from checks.change import LineSet
from checks.diff import added_lines_from_patch
from checks.finding import Skipped

#: Commits of one change whose additions are read; beyond it the rest are listed as not scanned. A rebase of
#: a long-lived branch can bring hundreds of commits: each costs a request in the App (one per commit).
DEFAULT_MAX_COMMITS = 200
#: The environment variable that overrides `DEFAULT_MAX_COMMITS` (for `prguard scan` and the App).
MAX_COMMITS_ENV = "PRGUARD_HISTORY_MAX_COMMITS"
#: Added bytes one history may hold (what is read stays in memory until the checks ran); commits past it
#: are listed as not scanned.
MAX_HISTORY_BYTES = 128 * 1024 * 1024


def max_commits_from_env(environ: Mapping[str, str] | None = None) -> int:
    """The commit cap: `PRGUARD_HISTORY_MAX_COMMITS` when set, else `DEFAULT_MAX_COMMITS`.

    ValueError (naming the variable) for anything but a whole number of at least 1: a typo must not turn the
    history scan off.
    """
    raw = (os.environ if environ is None else environ).get(MAX_COMMITS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_COMMITS
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{MAX_COMMITS_ENV} must be a whole number of commits, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"{MAX_COMMITS_ENV} must be at least 1, not {value}")
    return value


def short_sha(sha: str) -> str:
    return sha[:12]


@dataclass(frozen=True, slots=True)
class CommitFile:
    """The lines one commit added to one path.

    `added` holds those lines in order, each ending with a newline (a last line without one gets one), so
    it can be scanned as a small text of its own; `lines` are their numbers in the commit's version of the
    file (the k-th added line is the k-th number of `lines`). `old_path` is the path before a rename;
    `blob` the git blob id of the file as the commit left it (None when unknown): when the head has the
    very same blob, every line the commit added is in the head, where the head scan sees it.
    """

    path: str
    added: bytes = field(repr=False)
    lines: LineSet
    old_path: str | None = None
    blob: str | None = None

    def line_of(self, index: int) -> int:
        """The commit-side line number of the `index`-th (1-based) added line; 0 when unknown."""
        for start, end in self.lines.ranges():
            if index <= end - start + 1:
                return start + index - 1
            index -= end - start + 1
        return 0


@dataclass(frozen=True, slots=True)
class HistoryCommit:
    """One commit of the change and the files it added lines to."""

    sha: str
    files: tuple[CommitFile, ...] = ()
    parents: tuple[str, ...] = ()


@dataclass
class History:
    """The change's commits (oldest first) as far as they were read, and what was not read and why.

    `commits` are the commits whose additions are listed (a commit that added nothing scannable is listed
    with no files: it was read). `skipped` says what was not: commits past the cap or a platform's limit,
    binary and oversize blobs, patches a platform did not send. `total_commits` is how many commits the
    change has, when known (None: more than a platform lists).
    """

    commits: list[HistoryCommit] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    total_commits: int | None = None
    #: where it came from, for logs: "git" or "github"
    source: str = ""
    _scanned: int = field(default=0, init=False, repr=False)
    _covered: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __contains__(self, sha: object) -> bool:
        return isinstance(sha, str) and any(c.sha == sha for c in self.commits)

    @property
    def added_bytes(self) -> int:
        """Bytes the listed commits added (what a full scan of this history reads)."""
        return sum(len(f.added) for c in self.commits for f in c.files)

    @property
    def scanned_bytes(self) -> int:
        """Bytes handed out by `read` so far: a scan's cost, comparable with `added_bytes`."""
        return self._scanned

    @property
    def covered_bytes(self) -> int:
        """Bytes a scan did not read because the head holds the same file (`cover`): after a full scan,
        `scanned_bytes + covered_bytes == added_bytes`."""
        return self._covered

    def files(self) -> Iterator[tuple[HistoryCommit, CommitFile]]:
        """Every (commit, file), oldest commit first."""
        for commit in self.commits:
            for file in commit.files:
                yield commit, file

    def read(self, file: CommitFile) -> bytes:
        """The file's added text, counted in `scanned_bytes`."""
        with self._lock:
            self._scanned += len(file.added)
        return file.added

    def cover(self, file: CommitFile) -> None:
        """Note a file not read because the head scan covers it (counted in `covered_bytes`)."""
        with self._lock:
            self._covered += len(file.added)

    def blob_algorithm(self) -> str:
        """The hash of the blob ids (`sha1`, or `sha256` in a SHA-256 repository)."""
        blob = next((f.blob for _c, f in self.files() if f.blob), "")
        return "sha256" if len(blob) == 64 else "sha1"


def blob_id(data: bytes, algorithm: str = "sha1") -> str:
    """The id git (and GitHub) gives a blob with these bytes."""
    return hashlib.new(algorithm, b"blob %d\0" % len(data) + data).hexdigest()


def added_from_patch(patch: str) -> tuple[bytes, LineSet]:
    """The `+` lines of a unified-diff patch (as GitHub's commit and PR files APIs send it) and their numbers.

    The numbers come from `checks.diff.added_lines_from_patch`, the parser the PR files use; the text is
    the same lines in the same order, so the k-th line of the text is the k-th number.
    """
    out: list[str] = []
    in_hunk = False
    for raw in patch.split("\n"):  # not splitlines(): a form feed inside an added line is not a line break
        if raw.startswith("@@ "):
            in_hunk = True
        elif in_hunk and raw.startswith("+"):
            out.append(raw[1:] + "\n")
    return "".join(out).encode("utf-8", "surrogateescape"), added_lines_from_patch(patch)


def cap_note(not_scanned: list[str], cap: int, *, limit: str = "") -> Skipped:
    """The skip entry for commits past the cap (or a platform's limit), naming the first and last."""
    count = len(not_scanned)
    span = short_sha(not_scanned[0]) + (f"…{short_sha(not_scanned[-1])}" if count > 1 else "")
    why = limit or (f"the history scan reads at most {cap} commits ({MAX_COMMITS_ENV} or "
                    "--max-commits)")
    return Skipped(f"({count} more commit{'s' * (count != 1)})",
                   f"{why}; what commits {span} added was not scanned for secrets")
