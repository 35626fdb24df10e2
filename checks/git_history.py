"""A `History` from a local repository: what each commit of `base..head` added, read with one `git log`.

`git rev-list` lists the range (oldest first), the first `max_commits` of it go to ONE
`git log -m -p -U0 --raw` process, and its output is parsed as it streams. Git compares each commit's tree
with its parent's, descending only into subtrees that differ, and `-U0` prints only the changed lines, so
the work follows what the commits changed: a rebase of 200 commits does not rescan 200 full trees, and only
the `+` lines are kept.

- Merges (`-m`: one diff per parent): a line counts as added by a merge only when it is new against every
  parent (what `git diff --cc` shows), so what a merged branch brings is not the merge's.
- Symlinks (their target is never read) and submodules are listed as not scanned, once per path.
- Git prints no patch for a binary file or one over the size cap (`core.bigFileThreshold`); those are
  listed with the reason, after one `cat-file --batch-check` for their sizes. A text file marked binary in
  `.gitattributes` is read anyway (a `-diff` attribute must not hide a key), up to `MAX_FORCED_TEXT` files.
- Every diff option that the user's git config could change is pinned (prefixes, colour, external diff
  drivers, textconv filters, rename detection, inter-hunk context, signatures), as in `checks.git_run`.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

from checks.change import DEFAULT_MAX_FILE_BYTES, LineSet, human_size, looks_binary
from checks.diff import decode_path, unquote
from checks.finding import Skipped
from checks.git_refs import default_base_ref, merge_base, resolve_commit
from checks.git_run import (
    DIFF_OPTS,
    GITLINK_MODE,
    SYMLINK_MODE,
    ZERO_SHA,
    BlobReader,
    GitError,
    blob_sizes,
    git,
    git_env,
)
from checks.history import (
    DEFAULT_MAX_COMMITS,
    MAX_HISTORY_BYTES,
    CommitFile,
    History,
    HistoryCommit,
    cap_note,
    short_sha,
)

#: Text files marked binary by `.gitattributes` that are re-read as text per history (one git call each).
MAX_FORCED_TEXT = 50
_REGULAR = ("100644", "100755")
_HEADER = b"\0commit "
_HUNK = re.compile(rb"^@@ -\S+ \+(\d+)(?:,(\d+))? @@")


def history_range(root: str, base_ref: str | None, head: str | None) -> tuple[str, str]:
    """(base, head) commits of the history `prguard scan --history` reads.

    The head is `head` (default HEAD); the base is its merge-base with `base_ref` (default: the default
    branch), as the other modes choose it, even for `--staged` (whose own diff starts at HEAD).
    """
    head_sha = resolve_commit(root, head or "HEAD")
    ref = base_ref or default_base_ref(root)
    return merge_base(root, head_sha, resolve_commit(root, ref), names=(head or "HEAD", ref)), head_sha


def history_from_git(
    root: str,
    base: str,
    head: str,
    *,
    max_commits: int = DEFAULT_MAX_COMMITS,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_bytes: int = MAX_HISTORY_BYTES,
) -> History:
    """What each commit of `base..head` added, the first `max_commits` commits (oldest first)."""
    shas = git(root, "rev-list", "--reverse", "--topo-order", f"{base}..{head}").decode().split()
    history = History(total_commits=len(shas), source="git")
    chosen, rest = shas[:max_commits], shas[max_commits:]
    if chosen:
        _LogReader(root, max_file_bytes, max_bytes, history).read(chosen)
    if rest:
        history.skipped.append(cap_note(rest, max_commits))
    return history


@dataclass
class _Raw:
    """One `--raw` line: a file pair of one (commit, parent) diff."""

    old_mode: str
    new_mode: str
    old_sha: str
    new_sha: str
    old_path: str | None


@dataclass
class _Diff:
    """One (commit, parent) diff: raw entries and, per path, runs of `+` lines: [start, count, text]."""

    raw: dict[str, _Raw] = field(default_factory=dict)
    added: dict[str, list[list]] = field(default_factory=dict)


@dataclass
class _Pending:
    """A blob git printed no patch for (binary, oversize, or marked binary): decided after the log."""

    sha: str
    path: str
    raw: _Raw


class _OverBudget(Exception):
    pass


def _lines(block: bytes | bytearray) -> list[bytes]:
    """The lines of a run of `+` lines, each ending with its newline (a CR inside a line stays inside)."""
    return [part + b"\n" for part in bytes(block).split(b"\n")[:-1]]


class _LogReader:
    def __init__(self, root: str, max_file_bytes: int, max_bytes: int, history: History) -> None:
        self.root, self.max, self.budget, self.history = root, max_file_bytes, max_bytes, history
        self.files: dict[str, list[CommitFile]] = {}
        self.pending: list[_Pending] = []
        self.noted: set[tuple[str, str]] = set()
        self.held = 0

    # --- the one git log --------------------------------------------------------------------------------
    def read(self, shas: Sequence[str]) -> None:
        cfg = ["-c", f"core.bigFileThreshold={max(self.max + 1, 1024)}", "-c", "diff.renames=true",
               "-c", "diff.interHunkContext=0", "-c", "log.showSignature=false", "-c", "log.showRoot=true"]
        cmd = ["git", "-C", self.root, "-c", "core.quotepath=off", *cfg, "log", "--stdin",
               "--no-walk=unsorted", "-m", "-p", "-U0", "--raw", "--no-abbrev", "--submodule=short",
               *DIFF_OPTS, "--format=%x00commit %H %P"]
        parents: dict[str, tuple[str, ...]] = {}
        diffs: dict[str, list[_Diff]] = {}
        done: list[str] = []
        with tempfile.TemporaryFile() as errors:
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                        env=git_env())
            except FileNotFoundError as exc:
                raise GitError("git is not installed or not on PATH") from exc
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("".join(f"{s}\n" for s in shas).encode())
            proc.stdin.close()
            over = False
            try:
                self._parse(proc.stdout, parents, diffs, done)
            except _OverBudget:
                over = True
                proc.kill()
            finally:
                proc.stdout.close()
                code = proc.wait()
            if code != 0 and not over:
                errors.seek(0)
                lines = [ln for ln in errors.read().decode("utf-8", "replace").splitlines() if ln.strip()]
                raise GitError(f"git log failed: {lines[0].strip() if lines else f'exit status {code}'}")
        self._resolve_pending()
        finished = set(done)
        for sha in shas:
            if sha in finished or not over:  # a commit git printed nothing for added nothing
                self.history.commits.append(HistoryCommit(sha, tuple(self.files.get(sha, ())),
                                                          parents.get(sha, ())))
        if over:
            rest = [s for s in shas if s not in finished]
            self.history.skipped.append(cap_note(
                rest, 0, limit=f"the history scan reads at most {human_size(self.budget)} of added lines"))

    def _parse(self, out: IO[bytes], parents: dict[str, tuple[str, ...]], diffs: dict[str, list[_Diff]],
               done: list[str]) -> None:
        sha = ""
        diff: _Diff | None = None
        path: str | None = None  # the section's new path, once its `+++` line is read
        run: list | None = None  # the current run of `+` lines: [start, count, bytearray]
        number = 0
        in_hunk = False
        for line in out:
            first = line[:1]
            if in_hunk and first in (b"+", b"-", b" ", b"\\"):
                if first == b"+":
                    if run is None:
                        run = [number, 0, bytearray()]
                        diff.added.setdefault(path, []).append(run)  # type: ignore[union-attr, arg-type]
                    run[1] += 1
                    run[2] += line[1:] if line.endswith(b"\n") else line[1:] + b"\n"
                    number += 1
                    self.held += len(line) - 1
                    if self.held > self.budget:
                        raise _OverBudget()
                    continue
                if first == b" ":
                    number += 1
                if first != b"\\":
                    run = None
                continue
            if line.startswith(_HEADER):
                fields = line[len(_HEADER):].decode().split()
                if fields[0] != sha:
                    if sha:
                        self._commit(sha, parents[sha], diffs.pop(sha, []))
                        done.append(sha)
                    sha = fields[0]
                    parents[sha] = tuple(fields[1:])
                diff = _Diff()
                diffs.setdefault(sha, []).append(diff)
                in_hunk, path, run = False, None, None
            elif line.startswith(b"diff --git "):
                in_hunk, path, run = False, None, None
            elif line.startswith(b"@@ ") and path is not None:
                match = _HUNK.match(line)
                number, in_hunk, run = (int(match.group(1)) if match else 0), match is not None, None
            elif line.startswith(b"+++ ") and not in_hunk and diff is not None:
                name = unquote(line[4:].rstrip(b"\n").removesuffix(b"\t"))
                path = None if name == b"/dev/null" else decode_path(name.removeprefix(b"b/"))
                if path is not None:
                    diff.added.setdefault(path, [])
            elif line.startswith(b":") and diff is not None:
                self._raw(line, diff)
        if sha:
            self._commit(sha, parents[sha], diffs.pop(sha, []))
            done.append(sha)

    @staticmethod
    def _raw(line: bytes, diff: _Diff) -> None:
        meta, _, names = line.rstrip(b"\n").partition(b"\t")
        old_mode, new_mode, old_sha, new_sha, status = meta[1:].decode().split(" ")
        parts = [decode_path(unquote(n)) for n in names.split(b"\t")]
        old = parts[0] if status[:1] in ("R", "C") and len(parts) == 2 else None
        diff.raw[parts[-1]] = _Raw(old_mode, new_mode, old_sha, new_sha, old)

    # --- one commit -------------------------------------------------------------------------------------
    def _commit(self, sha: str, parents: tuple[str, ...], diffs: list[_Diff]) -> None:
        """Turn a commit's diffs (one per parent) into its `CommitFile`s, skips and pending blobs."""
        if len(diffs) < max(1, len(parents)):
            return  # a merge whose result equals one parent's tree (git printed no diff for it) adds nothing
        first = diffs[0]
        for path, raw in first.raw.items():
            entries = [d.raw.get(path) for d in diffs]
            if any(e is None or e.new_sha == e.old_sha for e in entries):
                continue  # unchanged against some parent (or a pure rename / mode change): nothing new
            if raw.new_mode == SYMLINK_MODE:
                self._note(sha, path, "symlink", "symbolic link (its target is not followed)")
            elif raw.new_mode == GITLINK_MODE:
                self._note(sha, path, "submodule", "submodule commit (its contents are not scanned)")
            elif raw.new_mode not in _REGULAR or raw.new_sha == ZERO_SHA:
                continue
            elif path in first.added and all(path in d.added for d in diffs):
                self._add(sha, path, raw, [d.added[path] for d in diffs])
            else:
                self.pending.append(_Pending(sha, path, raw))

    def _add(self, sha: str, path: str, raw: _Raw, runs_per_parent: list[list[list]]) -> None:
        runs = runs_per_parent[0]
        if len(runs_per_parent) > 1:  # a merge: only lines new against every parent
            numbers = ({n for s, c, _ in rs for n in range(s, s + c)} for rs in runs_per_parent)
            keep = set.intersection(*numbers)
            runs = [[n, 1, text] for start, _count, block in runs
                    for n, text in enumerate(_lines(block), start) if n in keep]
        text = b"".join(bytes(r[2]) for r in runs)
        if text:
            lines = LineSet((s, s + c - 1) for s, c, _ in runs)
            self.files.setdefault(sha, []).append(CommitFile(path, text, lines, raw.old_path, raw.new_sha))

    def _note(self, sha: str, path: str, kind: str, reason: str) -> None:
        """A skip, once per path and kind (the first commit is named): a binary file committed in 30
        commits is one thing not scanned, not 30."""
        if (path, kind) not in self.noted:
            self.noted.add((path, kind))
            self.history.skipped.append(Skipped(path, f"{reason}; added in commit {short_sha(sha)}"))

    # --- blobs git printed no patch for -----------------------------------------------------------------
    def _resolve_pending(self) -> None:
        if not self.pending:
            return
        sizes = blob_sizes(self.root, list(dict.fromkeys(p.raw.new_sha for p in self.pending)))
        blobs = BlobReader(self.root)
        forced = 0
        for item in self.pending:
            size = sizes.get(item.raw.new_sha)
            if size == 0:
                continue
            if size is None:
                self._note(item.sha, item.path, "unread", "could not read its blob")
            elif size > self.max:
                self._note(item.sha, item.path, "large",
                           f"larger than the {human_size(self.max)} size cap ({human_size(size)})")
            elif looks_binary(blobs.read(item.raw.new_sha)[:8000]):
                self._note(item.sha, item.path, "binary", "binary file")
            elif forced >= MAX_FORCED_TEXT:
                self._note(item.sha, item.path, "forced", f"marked binary in .gitattributes (more than "
                           f"{MAX_FORCED_TEXT} such files in this history)")
            else:
                forced += 1
                self._forced_text(item, blobs)

    def _forced_text(self, item: _Pending, blobs: BlobReader) -> None:
        """A text blob git called binary (`.gitattributes`): diffed again with `--text`."""
        raw = item.raw
        if raw.old_sha == ZERO_SHA or raw.old_mode not in _REGULAR:
            data = blobs.read(raw.new_sha)
            text = data if data.endswith(b"\n") else data + b"\n"
            lines = LineSet.whole(text.count(b"\n"))
            self.files.setdefault(item.sha, []).append(CommitFile(item.path, text, lines, raw.old_path,
                                                                  raw.new_sha))
            return
        out = git(self.root, "diff", "-U0", "--text", "--no-ext-diff", "--no-textconv", "--no-color",
                  raw.old_sha, raw.new_sha)
        runs: list[list] = []
        number, in_hunk = 0, False
        for line in out.splitlines(keepends=True):
            match = _HUNK.match(line)
            if match:
                number, in_hunk = int(match.group(1)), True
            elif in_hunk and line.startswith(b"+"):
                if runs and runs[-1][0] + runs[-1][1] == number:
                    runs[-1][1] += 1
                    runs[-1][2] += line[1:]
                else:
                    runs.append([number, 1, bytearray(line[1:])])
                number += 1
            elif in_hunk and line.startswith(b" "):
                number += 1
        self._add(item.sha, item.path, raw, [runs])
