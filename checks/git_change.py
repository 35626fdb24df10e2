"""Build a `Change` from a local git repository: what `prguard scan` and the pre-commit hook look at.

Everything here runs `git` locally (never the network, see `checks.git_run`) and reads working-tree files
without following symlinks (`checks.worktree_files`). Three heads are supported: the working tree
(committed, uncommitted and untracked-but-not-ignored files), the index (`staged=True`, for pre-commit) and
a commit (to scan a committed range in CI or a benchmark). The base is the merge-base of the head with the
base ref (`checks.git_refs`), so a scan reports what the branch introduced, not what the default branch
gained meanwhile.

Git is asked for everything in a few batched calls (one `diff --raw --numstat`, one `diff -U0`, one
`cat-file --batch-check`, one `cat-file --batch` process for lazy contents), because one subprocess per file
would make a 2,000-file change take many seconds. Paths a check reads beyond the change go through
`checks.git_reader.GitReader`, the change's reader.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
from collections.abc import Sequence

from checks.change import (
    DEFAULT_MAX_FILE_BYTES,
    Change,
    ChangedFile,
    FileStatus,
    FileTooLarge,
    LineSet,
    Loader,
    human_size,
    looks_binary,
)
from checks.diff import (
    DiffEntry,
    decode_path,
    intersect_lines,
    line_count,
    parse_added_lines,
    parse_raw_numstat,
)
from checks.finding import Skipped
from checks.git_reader import GitReader
from checks.git_refs import default_base_ref, find_root, merge_base, merge_head, resolve_commit
from checks.git_run import (
    DIFF_OPTS,
    EMPTY_TREE,
    GITLINK_MODE,
    SYMLINK_MODE,
    ZERO_SHA,
    BlobReader,
    GitError,
    blob_sizes,
    git,
    git_env,
    try_git,
)
from checks.streaming import MODEL_SUFFIXES, stream_cap
from checks.worktree_files import read_worktree_file


class _Builder:
    def __init__(self, root: str, base: str, head: str, diff_args: list[str], max_file_bytes: int) -> None:
        self.root, self.base, self.head = root, base, head
        self.diff_args, self.max = diff_args, max_file_bytes
        self.reader = BlobReader(root)
        self.files: list[ChangedFile] = []
        self.skipped: list[Skipped] = []
        self.streamable: list[ChangedFile] = []  # over the size cap, read by streaming checks
        self.removed: dict[str, DiffEntry] = {}  # removed path -> its entry, to pair untracked renames
        self._removed_by_sha: dict[str, str] | None = None
        # git treats files over core.bigFileThreshold as binary: oversize files never reach the patch
        self.cfg = ["-c", f"core.bigFileThreshold={max(max_file_bytes + 1, 1024)}", "-c", "diff.renames=true"]

    def diff(self, *args: str, paths: Sequence[str] = ()) -> bytes:
        pathspec = ["--", *paths] if paths else []
        return git(self.root, *self.cfg, "diff", *DIFF_OPTS, *args, *self.diff_args, *pathspec)

    def build(self, untracked: bool) -> Change:
        entries = parse_raw_numstat(self.diff("--raw", "--numstat", "-z", "--no-abbrev"))
        worktree = self.head == "worktree"
        sizes = {} if worktree else blob_sizes(
            self.root, [e.new_sha for e in entries if e.new_sha != ZERO_SHA]
        )
        kept: list[tuple[DiffEntry, int]] = []
        for e in entries:
            if e.status is FileStatus.REMOVED:
                self.removed[e.path] = e
                self._add(e, LineSet(), size=None)
                continue
            if e.new_mode == GITLINK_MODE:
                self.skipped.append(Skipped(e.path, "submodule commit (its contents are not scanned)"))
                continue
            size = self._worktree_size(e.path) if worktree else sizes.get(e.new_sha, 0)
            if worktree and size is None and os.path.islink(os.path.join(self.root, e.path)):
                e.new_mode = SYMLINK_MODE  # what is on disk now, whatever the index says
            if e.new_mode == SYMLINK_MODE:
                self._add(e, LineSet(), size=None, symlink=True)
            elif size is None:
                self.skipped.append(Skipped(e.path, "not a regular file"))
            elif size > self.max:
                self.skipped.append(Skipped(e.path, self._too_big(size)))
                self._add_streamable(e, size)
            else:
                kept.append((e, size))
        self._add_with_lines(kept)
        if untracked:
            self._add_untracked({f.path for f in self.files} | {s.path for s in self.skipped})
        self.files.sort(key=lambda f: f.path)
        reader = GitReader(self.root, self.base, self.head, self.reader, self.max)
        return Change(base=self.base, head=self.head, files=self.files, skipped=self.skipped,
                      reader=reader, max_file_bytes=self.max, streamable=self.streamable, opener=reader.open)

    def _add_streamable(self, e: DiffEntry, size: int) -> None:
        """A file over the size cap that streaming checks still read (`checks.streaming`): every line
        counts as added (its diff is not computed), and its bytes are never loaded whole."""
        if size > stream_cap(e.path):
            return

        def refuse() -> bytes:
            raise FileTooLarge(f"{e.path}: {self._too_big(size)}; read it with CheckContext.open", size)

        self.streamable.append(ChangedFile(
            path=e.path, status=e.status, added_lines=LineSet([(1, 1 << 62)]), old_path=e.old_path,
            is_binary=e.path.lower().endswith(MODEL_SUFFIXES), size=size, head_loader=refuse,
            base_loader=None if e.status is FileStatus.ADDED else refuse, stream_only=True,
        ))

    def _too_big(self, size: int) -> str:
        return f"larger than the {human_size(self.max)} size cap ({human_size(size)})"

    def _add_with_lines(self, kept: list[tuple[DiffEntry, int]]) -> None:
        forced_text = [e for e, _ in kept if e.numstat_binary and not looks_binary(self._head(e)[:8000])]
        for e in forced_text:  # a .gitattributes `-diff`/`binary` must not hide text from the scan
            e.numstat_binary = False
        needs_patch = any(e.status is not FileStatus.ADDED and not e.numstat_binary for e, _ in kept)
        hunks = parse_added_lines(self.diff("-U0", "--diff-filter=MRTUC")) if needs_patch else {}
        if forced_text:
            paths = [p for e in forced_text for p in (e.path, e.old_path) if p]
            hunks.update(parse_added_lines(self.diff("-U0", "--text", paths=paths)))
        for e, size in kept:
            if e.numstat_binary:
                lines = LineSet.whole(1)  # a binary file changed as a whole: findings on it sit on line 1
            elif e.status is FileStatus.ADDED:
                lines = hunks.get(e.path) or LineSet.whole(e.added_count)
            else:
                lines = hunks.get(e.path, LineSet())
            self._add(e, lines, size=size, binary=e.numstat_binary)

    def _head(self, e: DiffEntry) -> bytes:
        if self.head == "worktree":
            return read_worktree_file(self.root, e.path)
        return self.reader.read(e.new_sha)

    def _add(
        self, e: DiffEntry, lines: LineSet, *, size: int | None, binary: bool = False, symlink: bool = False
    ) -> None:
        if symlink:  # listed, so no output implies the link's target was scanned (it is never followed)
            self.skipped.append(Skipped(e.path, "symbolic link (its target is not followed)"))
        head_loader = None
        if e.status is not FileStatus.REMOVED and not symlink:
            head_loader = (
                self._worktree_loader(e.path) if self.head == "worktree" else self._blob_loader(e.new_sha)
            )
        base_loader = None
        if (
            e.status is not FileStatus.ADDED
            and e.old_sha != ZERO_SHA
            and e.old_mode not in (SYMLINK_MODE, GITLINK_MODE, "000000")
        ):
            base_loader = self._blob_loader(e.old_sha)
        self.files.append(
            ChangedFile(
                path=e.path,
                status=e.status,
                added_lines=lines,
                old_path=e.old_path,
                is_binary=binary,
                is_symlink=symlink,
                size=size,
                head_loader=head_loader,
                base_loader=base_loader,
            )
        )

    def _blob_loader(self, sha: str) -> Loader:
        reader = self.reader
        return lambda: reader.read(sha)

    def _worktree_loader(self, rel: str) -> Loader:
        root = self.root
        return lambda: read_worktree_file(root, rel)

    def _worktree_size(self, rel: str) -> int | None:
        """Size of a regular worktree file; None for a symlink or anything else that is not a plain file."""
        st = os.lstat(os.path.join(self.root, rel))
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def _add_untracked(self, known: set[str]) -> None:
        out, unreadable = _untracked(self.root)
        self.skipped += [Skipped(p, "could not be read: git cannot open this directory") for p in unreadable]
        for name in filter(None, out.split(b"\0")):
            path = decode_path(name)
            if path.endswith("/"):
                self.skipped.append(Skipped(path.rstrip("/"), "nested git repository (not scanned)"))
                continue
            st = os.lstat(os.path.join(self.root, path))
            entry = DiffEntry(FileStatus.ADDED, path, None, "000000", "100644", ZERO_SHA, ZERO_SHA, False, 0)
            if path in known:  # removed from the index but still on disk: every line counts as added
                self.files = [f for f in self.files if f.path != path]
                old = self.removed.pop(path, None)
                entry.status = FileStatus.MODIFIED
                if old is not None:  # ... but its base version tells old secrets from new ones
                    entry.old_mode, entry.old_sha = old.old_mode, old.old_sha
            if stat.S_ISLNK(st.st_mode):
                self._add(entry, LineSet(), size=None, symlink=True)
            elif not stat.S_ISREG(st.st_mode):
                self.skipped.append(Skipped(path, "not a regular file"))
            elif st.st_size > self.max:
                self.skipped.append(Skipped(path, self._too_big(st.st_size)))
                self._add_streamable(entry, st.st_size)
            else:
                data = read_worktree_file(self.root, path)
                binary = looks_binary(data)
                moved = self._moved_from(data) if entry.status is FileStatus.ADDED else None
                if moved is not None:  # `mv a b` not yet staged: a rename that adds no line
                    self.files = [f for f in self.files if f.path != moved.path]
                    entry.status, entry.old_path = FileStatus.RENAMED, moved.path
                    entry.old_mode, entry.old_sha = moved.old_mode, moved.old_sha
                    self._add(entry, LineSet(), size=st.st_size, binary=binary)
                    continue
                count = 1 if binary else line_count(data)
                self._add(entry, LineSet.whole(count), size=st.st_size, binary=binary)

    def _moved_from(self, data: bytes) -> DiffEntry | None:
        """The removed file whose base blob has exactly these bytes, if any (git's own rename detection
        never sees untracked files)."""
        if not self.removed:
            return None
        if self._removed_by_sha is None:
            self._removed_by_sha = {e.old_sha: e.path for e in self.removed.values()}
        if not self._removed_by_sha:
            return None
        algo = "sha1" if len(next(iter(self._removed_by_sha))) == 40 else "sha256"
        path = self._removed_by_sha.pop(hashlib.new(algo, b"blob %d\0" % len(data) + data).hexdigest(), None)
        return self.removed.pop(path, None) if path is not None else None


_UNREADABLE_DIR = re.compile(rb"^warning: could not open directory '(.*)/': ", re.MULTILINE)


def _untracked(root: str) -> tuple[bytes, list[str]]:
    """`ls-files --others` output, and the directories git could not open: git only warns about those and
    leaves them out, so without this an unreadable directory's files would be silently absent."""
    cmd = ["git", "-C", root, "-c", "core.quotepath=off", "ls-files", "--others", "--exclude-standard", "-z"]
    proc = subprocess.run(cmd, capture_output=True, env=git_env(), check=False)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        raise GitError(f"listing untracked files failed: {lines[0] if lines else proc.returncode}")
    return proc.stdout, [decode_path(m.group(1)) for m in _UNREADABLE_DIR.finditer(proc.stderr)]


def change_from_git(
    root: str | os.PathLike[str],
    base_ref: str | None = None,
    *,
    staged: bool = False,
    head: str | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Change:
    """The change a branch introduces, as `prguard scan` sees it.

    - default: the working tree (committed + uncommitted + untracked files) against the merge-base of HEAD
      with `base_ref` (default: the repository's default branch); `Change.head` is "worktree".
    - `staged=True`: only the index, against HEAD (or the merge-base with `base_ref` when given); "index".
      With no commit yet, the base is the empty tree, so the hook works on a repository's first commit.
    - `head=REV`: the committed range from the merge-base to REV; `Change.head` is REV's SHA.
    - during a merge (MERGE_HEAD exists) what the merged branch brings is not this change's: the worktree
      base also accounts for MERGE_HEAD, and the staged lines are those new against both parents.
    """
    if staged and head:
        raise GitError("--staged scans the index; it cannot be combined with a head commit")
    top = find_root(root)
    head_sha = try_git(top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if head_sha is None and not staged:
        raise GitError(f"{top}: the repository has no commits yet (--staged scans what is staged)")
    if staged:
        base = (
            merge_base(top, head_sha, resolve_commit(top, base_ref), names=("HEAD", base_ref))
            if base_ref and head_sha
            else None
        )
        base = base or head_sha or EMPTY_TREE
        change = _Builder(top, base, "index", ["--cached", base], max_file_bytes).build(untracked=False)
        merging = merge_head(top)
        if merging:  # a merge commit introduces only what neither parent had (as `git diff --cc`)
            theirs = _Builder(top, merging, "index", ["--cached", merging], max_file_bytes).build(False)
            lines = {f.path: f.added_lines for f in theirs.files}
            for f in change.files:
                f.added_lines = intersect_lines(f.added_lines, lines.get(f.path, LineSet()))
        return change
    assert head_sha is not None
    ref = base_ref or default_base_ref(top)
    base_commit = resolve_commit(top, ref)
    if head:
        head_sha = resolve_commit(top, head)
        base = merge_base(top, head_sha, base_commit, names=(head, ref))
        return _Builder(top, base, head_sha, [base, head_sha], max_file_bytes).build(untracked=False)
    base = merge_base(top, head_sha, base_commit, names=("HEAD", ref))
    merging = merge_head(top)
    if merging:  # a merge in progress: what the other side brings is not this branch's change
        base = try_git(top, "merge-base", base_commit, head_sha, merging) or base
    return _Builder(top, base, "worktree", [base], max_file_bytes).build(untracked=True)
