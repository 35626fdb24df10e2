"""One editor buffer → the findings `prguard scan` would report for that file, without the LSP.

The language server (`bot.cli.lsp`) calls `Diagnoser.diagnose(path, text)` on every settled edit. To give
the same answers as `prguard scan`, the buffer becomes a one-file `checks.change.Change` and goes through the
same engine, checks and policy:

- the base is the merge-base of HEAD with the default branch (accounting for a merge in progress), found
  with `checks.git_refs`' helpers exactly as `prguard scan` finds it;
- the policy is `.github/prguard.yml` at that base, never the working tree's copy (a branch cannot switch
  its own checks off);
- added lines are the buffer's lines that are new relative to the file at the base (`added_lines_by_diff`,
  the one line diff), so a key the default branch already had is not reported and a newly typed one is; a
  file renamed on the branch is compared with its old path, as git's rename detection does for the scan;
- a buffer outside any git repository has no base: every line counts as added, under the default policy.

Nothing here follows a symlink: the head is the editor's text, the base comes from git objects through
`checks.git_reader.GitReader` (a symlink reads as absent), and a buffer whose repository path is itself a
symlink is reported as skipped, as the scan lists it. A buffer git ignores (an untracked `.env`) is not part
of any change, so it gets no findings, as in the scan.

Repository state (base, policy) is cached per repository and re-validated with a single `git rev-parse` per
run, so a keystroke costs the scan of one file plus one or two short git processes.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from dataclasses import dataclass, field

from checks import registry
from checks.change import (
    DEFAULT_MAX_FILE_BYTES,
    Change,
    ChangedFile,
    FileStatus,
    FileTooLarge,
    LineSet,
    ReadError,
    Side,
    check_repo_path,
    human_size,
    looks_binary,
)
from checks.diff import added_lines_by_diff, decode_path
from checks.engine import CheckResult, create_checks, run_checks
from checks.finding import Severity, Skipped
from checks.git_reader import GitReader
from checks.git_refs import default_base_ref, merge_base, resolve_commit
from checks.git_run import EMPTY_TREE, BlobReader, GitError, git, read_at
from checks.policy import POLICY_PATH, Policy, PolicyError, parse_policy

#: Seconds the one git process run outside `checks.git_run.git` may take.
GIT_TIMEOUT = 30.0
#: Seconds one check may take on one buffer: an editor wants an answer or an error, not a 5-minute wait.
DEFAULT_TIMEOUT = 60.0

#: Characters `str.splitlines` breaks on besides "\n" (and "\r\n"). `added_lines_by_diff` splits with it
#: while checks number lines by "\n" alone, so a form feed in a Python file would shift every later line
#: number by one; they are replaced (on both sides, by the same character) before the line diff.
_OTHER_BREAKS = str.maketrans({c: "\ufffd" for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


@dataclass
class Diagnosis:
    """What prguard found for one buffer, ready to become diagnostics.

    `error` set means nothing could be checked (a repository or policy problem): never the same as clean.
    `quiet` set means the file is not part of any change (git-ignored, inside `.git`, ignored by the
    policy), so there is nothing to report and nothing went wrong.
    """

    path: str
    results: list[CheckResult] = field(default_factory=list)
    fail_on: dict[str, Severity] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    error: str | None = None
    quiet: str | None = None
    base: str | None = None


@dataclass(frozen=True)
class _Location:
    """Where a buffer sits: its repository (None outside one) and its repository-relative path."""

    root: str | None
    rel: str
    git_dir: str | None = None
    inside_git_dir: bool = False


@dataclass(frozen=True)
class _RepoState:
    """The base and its policy for one repository, valid while `key` (HEAD, base ref, merge) holds."""

    key: tuple[str, ...] | None
    base: str | None  # None: the repository has no commit yet, so nothing is on the base
    policy: Policy


class Diagnoser:
    """Runs prguard's checks on editor buffers; thread-safe, so the server can run it in worker threads."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT,
                 max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self.timeout = timeout
        self.max_file_bytes = max_file_bytes
        self._lock = threading.Lock()
        self._locations: dict[str, _Location | None] = {}
        self._refs: dict[str, str] = {}
        self._states: dict[str, _RepoState] = {}
        self._renames: dict[tuple[str, str], dict[str, str]] = {}
        self._blobs: dict[str, BlobReader] = {}

    def invalidate(self) -> None:
        """Forget cached repository facts (on open and save: a `git mv`, a new default branch, a `git init`).

        HEAD and base-ref moves are noticed on every run anyway; the `cat-file` processes are kept.
        """
        with self._lock:
            self._locations.clear()
            self._refs.clear()
            self._states.clear()
            self._renames.clear()

    # --- the one entry point -----------------------------------------------------------------------------
    def diagnose(self, fs_path: str | None, text: str, *, name: str = "untitled") -> Diagnosis:
        """The findings for `text`, the editor's content of `fs_path` (None: an unnamed, unsaved buffer)."""
        where = self._locate(fs_path) if fs_path else _Location(None, name)
        diagnosis = Diagnosis(path=where.rel)
        if where.inside_git_dir:
            diagnosis.quiet = "inside the .git directory: not part of any change"
            return diagnosis
        head = text.encode("utf-8", "surrogatepass")
        try:
            state = self._state(where.root, where.git_dir) if where.root else _RepoState(None, None, Policy())
            diagnosis.base = state.base
            if where.root and _ignored_by_git(where.root, where.rel):
                diagnosis.quiet = "ignored by git: not part of any change"
                return diagnosis
            if where.root and _symlink_on_path(where.root, where.rel):
                diagnosis.skipped.append(Skipped(where.rel, "symbolic link (its target is not followed)"))
                return diagnosis
            if state.policy.ignores(where.rel):
                diagnosis.quiet = f"ignored by the policy's ignore_paths ({POLICY_PATH} on the base)"
                return diagnosis
            if len(head) > self.max_file_bytes:
                cap, size = human_size(self.max_file_bytes), human_size(len(head))
                diagnosis.skipped.append(Skipped(where.rel, f"larger than the {cap} size cap ({size})"))
                return diagnosis
            change = self._change(where, state, head)
        except (GitError, PolicyError, ReadError, OSError, ValueError) as exc:
            diagnosis.error = _one_line(exc)
            return diagnosis
        available = [n for n in registry.check_names() if registry.is_available(n)]
        enabled = [n for n in available if state.policy.enabled(n)]
        checks, broken = create_checks(enabled)
        diagnosis.results = broken + run_checks(checks, change, policy=state.policy, timeout=self.timeout)
        diagnosis.fail_on = {r.check: state.policy.fail_on_for(r.check) for r in diagnosis.results}
        diagnosis.skipped += change.skipped
        return diagnosis

    # --- where the buffer is -----------------------------------------------------------------------------
    def _locate(self, fs_path: str) -> _Location:
        directory, name = os.path.split(os.path.abspath(fs_path))
        with self._lock:
            cached = self._locations.get(directory, False)
        if cached is False:
            cached = _find_repo(directory)
            with self._lock:
                self._locations[directory] = cached
        if cached is None:
            return _Location(None, name)
        return _Location(cached.root, cached.rel + name, cached.git_dir, cached.inside_git_dir)

    # --- the base and its policy -------------------------------------------------------------------------
    def _state(self, root: str, git_dir: str | None) -> _RepoState:
        with self._lock:
            ref = self._refs.get(root)
            cached = self._states.get(root)
        key = _state_key(root, ref, git_dir) if ref else None
        if cached is not None and key is not None and cached.key == key:
            return cached
        head_sha = _maybe(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        if head_sha is None:  # no commit yet: nothing is on the base, every line is new
            state = _RepoState(None, None, Policy())
        else:
            ref = default_base_ref(root)
            base_commit = resolve_commit(root, ref)
            base = merge_base(root, head_sha, base_commit, names=("HEAD", ref))
            merging = _maybe(root, "rev-parse", "--verify", "--quiet", "MERGE_HEAD^{commit}")
            if merging:  # a merge in progress: what the other side brings is not this branch's change
                base = _maybe(root, "merge-base", base_commit, head_sha, merging) or base
            policy = parse_policy(read_at(root, base, POLICY_PATH))
            state = _RepoState(_state_key(root, ref, git_dir), base, policy)
        with self._lock:
            if ref:
                self._refs[root] = ref
            self._states[root] = state
        return state

    # --- the one-file change -----------------------------------------------------------------------------
    def _change(self, where: _Location, state: _RepoState, head: bytes) -> Change:
        reader = self._reader(where, state, head)
        status, old_path, base = FileStatus.ADDED, None, None
        if where.root and state.base:
            base = _read_base(reader, where.rel)
            if base is not None:
                status = FileStatus.MODIFIED
            else:
                old_path = self._renamed_from(where.root, state.base, where.rel)
                base = _read_base(reader, old_path) if old_path else None
                status = FileStatus.RENAMED if base is not None else FileStatus.ADDED
                old_path = old_path if base is not None else None
        lines = _added_lines(_one_break(base) if base is not None else None, _one_break(head))
        binary = looks_binary(head)
        file = ChangedFile(
            path=where.rel,
            status=status,
            old_path=old_path,
            added_lines=LineSet.whole(1) if binary else lines,
            is_binary=binary,
            size=len(head),
            head_loader=lambda: head,
            base_loader=(lambda: base) if base is not None else None,
        )
        return Change(base=state.base or EMPTY_TREE, head="buffer", files=[file], reader=reader,
                      max_file_bytes=self.max_file_bytes)

    def _reader(self, where: _Location, state: _RepoState, head: bytes) -> _BufferReader:
        if where.root is None:
            return _BufferReader(where.rel, head, None)
        with self._lock:
            blobs = self._blobs.setdefault(where.root, BlobReader(where.root))
        git_reader = GitReader(where.root, state.base or EMPTY_TREE, "worktree", blobs, self.max_file_bytes)
        return _BufferReader(where.rel, head, git_reader)

    def _renamed_from(self, root: str, base: str, rel: str) -> str | None:
        """The base path `rel` was renamed from on this branch (committed, staged or in the worktree)."""
        with self._lock:
            renames = self._renames.get((root, base))
        if renames is None:
            out = git(root, "-c", "diff.renames=true", "diff", "--raw", "-z", "--no-abbrev", "--find-renames",
                      "--diff-filter=R", "--no-ext-diff", "--no-textconv", "--no-relative", base)
            tokens = out.split(b"\0")
            renames = {}
            for i in range(0, len(tokens) - 2, 3):
                if tokens[i].startswith(b":"):
                    renames[decode_path(tokens[i + 2])] = decode_path(tokens[i + 1])
            with self._lock:
                self._renames[(root, base)] = renames
        return renames.get(rel)


class _BufferReader:
    """The change's `Reader`: the buffer itself on the head side, everything else as `prguard scan` reads it.

    Outside a repository only the buffer exists; a check asking for another path is told it cannot be read
    (`ReadError`), never that it is absent.
    """

    def __init__(self, rel: str, head: bytes, repo: GitReader | None) -> None:
        self.rel, self.head, self.repo = rel, head, repo

    def __call__(self, side: Side, path: str) -> bytes | None:
        if side == "head" and path == self.rel:
            return self.head
        if self.repo is None:
            if side == "base":
                return None
            raise ReadError(f"{path}: the buffer is outside a git repository; other files are not read")
        return self.repo(side, path)


def _read_base(reader: _BufferReader, path: str) -> bytes | None:
    """The base version, or None when absent, a symlink, or too large to compare (then every line is new)."""
    try:
        return reader("base", path)
    except FileTooLarge:
        return None


def _added_lines(base: bytes | None, head: bytes) -> LineSet:
    """`added_lines_by_diff` on the part of the buffer that differs from the base, renumbered.

    Its `SequenceMatcher` (no autojunk) costs about the square of the lines it compares when lines repeat:
    ~50 ms on 2,000 lines, ~350 ms on a repetitive one. Lines the base and buffer share at the start and
    at the end cannot be new, so only the span between them is compared: the usual branch changes a few
    places, and a keystroke then costs the diff of that span, not of the file. Both inputs have "\n" as
    their only line break (`_one_break`), so `bytes.splitlines` numbers lines as the diff does.
    """
    if base is None:
        return added_lines_by_diff(None, head)
    old, new = base.splitlines(), head.splitlines()
    shortest = min(len(old), len(new))
    start = 0
    while start < shortest and old[start] == new[start]:
        start += 1
    end = 0
    while end < shortest - start and old[-1 - end] == new[-1 - end]:
        end += 1
    middle = new[start : len(new) - end]
    if not middle:
        return LineSet()
    inner = added_lines_by_diff(_joined(old[start : len(old) - end]), _joined(middle))
    return LineSet((first + start, last + start) for first, last in inner.ranges())


def _joined(lines: list[bytes]) -> bytes:
    """Lines back into text, each ending in "\n" (so a last empty line still counts as a line)."""
    return b"".join(line + b"\n" for line in lines)


def _one_break(data: bytes) -> bytes:
    """`data` with "\\n" as its only line break, so `added_lines_by_diff` numbers lines as the checks do.

    CRLF becomes LF on both sides, so a checkout with `core.autocrlf` does not make every line "added".
    """
    text = data.decode("utf-8", "surrogateescape").replace("\r\n", "\n").translate(_OTHER_BREAKS)
    return text.encode("utf-8", "surrogateescape")


def _find_repo(directory: str) -> _Location | None:
    """The repository holding `directory` (its rel is the directory's prefix), or None outside any."""
    if not os.path.isdir(directory):
        return None
    try:
        out = git(directory, "rev-parse", "--absolute-git-dir", "--show-toplevel", "--show-prefix")
    except GitError:
        inside = _maybe(directory, "rev-parse", "--is-inside-git-dir") == "true"
        return _Location(directory, "", None, inside_git_dir=True) if inside else None
    git_dir, top, prefix = [*out.decode("utf-8", "surrogateescape").split("\n"), "", "", ""][:3]
    return _Location(os.path.realpath(top), prefix, git_dir)


def _state_key(root: str, ref: str | None, git_dir: str | None) -> tuple[str, ...] | None:
    """HEAD, the base ref and whether a merge is in progress, in one `git rev-parse`: the cache's key."""
    try:
        out = git(root, "rev-parse", "--end-of-options", "HEAD^{commit}", f"{ref}^{{commit}}").decode()
    except GitError:
        return None
    merging = bool(git_dir) and os.path.lexists(os.path.join(git_dir or "", "MERGE_HEAD"))
    return (*out.split(), str(merging))


def _ignored_by_git(root: str, rel: str) -> bool:
    """True for an untracked path git ignores (tracked files are never ignored).

    `git check-ignore` refuses the literal-pathspec mode `checks.git_run.git` runs everything in, so it
    runs here without it; the path goes on stdin as `./<path>`, so no name is ever read as pathspec magic.
    """
    env = {k: v for k, v in os.environ.items() if k != "GIT_LITERAL_PATHSPECS"}
    env.update(GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        proc = subprocess.run(
            ["git", "-C", root, "check-ignore", "--stdin", "-z", "--quiet"],
            input=b"./" + rel.encode("utf-8", "surrogateescape") + b"\0",
            capture_output=True, env=env, timeout=GIT_TIMEOUT, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False  # not known to be ignored: scan it (the loud direction)
    return proc.returncode == 0  # 1: not ignored; 128: an error, scanned all the same


def _symlink_on_path(root: str, rel: str) -> bool:
    """Whether `rel` or a directory on the way to it is a symlink (an unsaved new path is not)."""
    check_repo_path(rel)
    current = root
    for part in rel.split("/"):
        current = os.path.join(current, part)
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return True
        except FileNotFoundError:
            return False
    return False


def _maybe(root: str, *args: str) -> str | None:
    try:
        return git(root, *args).decode().strip() or None
    except GitError:
        return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
