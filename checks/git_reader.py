"""Read any path of a local repository at the base or the head of a change, never following a symlink.

The change's `checks.change.Reader` for `checks.git_change`: the base is a commit; the head is a commit, the
index (`--staged`) or the working tree. Each read costs one `ls-tree`/`ls-files` (checks read a few paths
beyond the change, not thousands) and the blob comes through the change's shared `cat-file --batch`.

Also where `prguard scan --staged` reads the policy (`staged_policy_base`): the index's diff starts at HEAD,
but HEAD may be a branch commit that rewrote `.github/prguard.yml`, so the policy cannot come from there.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from checks import git_objects, streaming
from checks.change import FileTooLarge, ReadError, Side, human_size
from checks.diff import decode_path
from checks.git_refs import default_base_ref, merge_base, resolve_commit
from checks.git_run import (
    EMPTY_TREE,
    GITLINK_MODE,
    SYMLINK_MODE,
    BlobReader,
    GitError,
    blob_sizes,
    git,
    git_env,
    try_git,
)
from checks.worktree_files import open_nofollow


def staged_policy_base(root: str, base_ref: str | None) -> str:
    """The commit (or the empty tree) whose policy governs `--staged`: never a commit only the branch has.

    The merge-base of HEAD with `base_ref` (default: the default branch), as in the other modes. Before the
    first commit there is no policy anywhere: the empty tree (defaults). With no default branch at all,
    HEAD's own policy is used only when HEAD's branch is the repository's only branch (local or remote),
    i.e. it is the default branch in all but name; otherwise the scan stops (exit 2) and asks for `--base`:
    guessing would let a branch commit choose its own gate.
    """
    head = try_git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if head is None:
        return EMPTY_TREE
    if base_ref:
        return merge_base(root, head, resolve_commit(root, base_ref), names=("HEAD", base_ref))
    try:
        ref = default_base_ref(root)
    except GitError:
        current = try_git(root, "symbolic-ref", "--quiet", "HEAD")
        listed = git(root, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes").decode()
        branches = {b for b in listed.split() if not b.endswith("/HEAD")}
        if current and branches <= {current}:
            return head
        raise GitError(
            "--staged reads the policy from the default branch, and there is none (origin/HEAD, main and "
            "master do not exist) while other branches do: pass --base REF (the branch this one merges into)"
        ) from None
    return merge_base(root, head, resolve_commit(root, ref), names=("HEAD", ref))


class GitReader:
    """`checks.change.Reader` for a local repository: any path, at the base commit or at the head.

    The head is a commit, the index (`--staged`) or the working tree. A tree or index entry is read only
    when it is a regular blob (a symlink's 120000 or a submodule's 160000 mode reads as None); a worktree
    file is opened one component at a time with O_NOFOLLOW, and only when git would see it (tracked, or
    untracked and not ignored), so an ignored `.env` is as absent as it is from the change.
    """

    def __init__(self, root: str, base: str, head: str, blobs: BlobReader, max_file_bytes: int) -> None:
        self.root, self.base, self.head = root, base, head
        self.blobs, self.max = blobs, max_file_bytes

    def __call__(self, side: Side, path: str) -> bytes | None:
        try:
            return self._read(side, path)
        except GitError as exc:  # the Reader contract: "could not read" is a ReadError, never "absent"
            raise ReadError(f"{path}: {exc}") from None

    def _read(self, side: Side, path: str) -> bytes | None:
        if side == "base":
            return self._tree(self.base, path)
        if self.head == "worktree":
            return self._worktree(path)
        if self.head == "index":
            return self._index(path)
        return self._tree(self.head, path)

    def _tree(self, rev: str, path: str) -> bytes | None:
        found = self._tree_entry(rev, path)
        return None if found is None else self._blob(path, *found)

    def _tree_entry(self, rev: str, path: str) -> tuple[str, int] | None:
        """(blob sha, size) of `path` in `rev`; None when absent, a symlink, a submodule or a tree."""
        out = git(self.root, "ls-tree", "-l", "-z", "--full-tree", rev, "--", path)
        for entry in filter(None, out.split(b"\0")):
            meta, _, name = entry.partition(b"\t")
            mode, kind, sha, size = meta.split()
            if decode_path(name) == path:
                if kind != b"blob" or mode.decode() in (SYMLINK_MODE, GITLINK_MODE):
                    return None
                return sha.decode(), int(size)
        return None

    def list_files(self, side: Side, directory: str) -> list[str]:
        """The repository paths of the regular files under `directory` on `side`, recursively (symlinks
        and submodules left out; a worktree lists what git sees). For checks that need a whole directory,
        such as a Helm chart; one `ls-tree`/`ls-files`. Raises `ReadError` when git fails."""
        prefix = directory.strip("/") + "/" if directory.strip("/") else ""
        try:
            if side == "head" and self.head == "worktree":
                out = git(self.root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                          prefix or ".")
                return sorted({decode_path(n) for n in out.split(b"\0") if n})
            if side == "head" and self.head == "index":
                out = git(self.root, "ls-files", "-s", "-z", "--", prefix or ".")
                rows = [(meta.split()[0], b"blob", name) for meta, _, name in
                        (e.partition(b"\t") for e in out.split(b"\0") if e)]
            else:
                rev = self.base if side == "base" else self.head
                out = git(self.root, "ls-tree", "-r", "-z", "--full-tree", rev, "--", prefix or ".")
                rows = [(meta.split()[0], meta.split()[1], name) for meta, _, name in
                        (e.partition(b"\t") for e in out.split(b"\0") if e)]
        except GitError as exc:
            raise ReadError(f"{directory}: {exc}") from None
        return sorted({decode_path(name) for mode, kind, name in rows
                       if kind == b"blob" and mode.decode() not in (SYMLINK_MODE, GITLINK_MODE)})

    def list_dir(self, side: Side, directory: str) -> list[str]:
        """The names of the regular files directly in `directory` on `side` (one git call): the IaC check
        reads a Terraform module's files with it instead of trying each usual name with its own call."""
        prefix = directory.strip("/") + "/" if directory.strip("/") else ""
        return [p[len(prefix):] for p in self.list_files(side, directory) if "/" not in p[len(prefix):]]

    # --- streaming (`checks.streaming`): the change's `Opener` -----------------------------------------
    def open(self, side: Side, path: str, max_bytes: int | None = None) -> BinaryIO | None:
        """A seekable binary file of `path` on `side`, without the size cap (`max_bytes` instead)."""
        try:
            if side == "head" and self.head == "worktree":
                return self._open_worktree(path, max_bytes)
            if side == "base":
                found = self._tree_entry(self.base, path)
            elif self.head == "index":
                found = self._index_entry(path)
            else:
                found = self._tree_entry(self.head, path)
            if found is None:
                return None
            return streaming.spool_blob(self.root, found[0], path, found[1], max_bytes, git_env(),
                                        self._objects())
        except GitError as exc:
            raise ReadError(f"{path}: {exc}") from None

    def _objects(self) -> str | None:
        """The object directory, for streaming blobs straight from it (`checks.git_objects`)."""
        if not hasattr(self, "_objects_dir"):
            found = try_git(self.root, "rev-parse", "--git-path", "objects")
            self._objects_dir = git_objects.objects_dir(self.root, found) if found else None
        return self._objects_dir

    def _open_worktree(self, path: str, max_bytes: int | None) -> BinaryIO | None:
        listed = git(self.root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", path)
        if path not in {decode_path(n) for n in listed.split(b"\0") if n}:
            return None
        try:
            fd = open_nofollow(self.root, path)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR):
                return None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return streaming.open_fd(fd, path, max_bytes)

    def _index_entry(self, path: str) -> tuple[str, int] | None:
        out = git(self.root, "ls-files", "-s", "-z", "--", path)
        stages = {}
        for entry in filter(None, out.split(b"\0")):
            meta, _, name = entry.partition(b"\t")
            if decode_path(name) == path:
                mode, sha, stage = meta.decode().split()
                stages[stage] = (mode, sha)
        if not stages:
            return None
        if "0" not in stages:
            raise ReadError(f"{path}: unmerged in the index (resolve the conflict first)")
        mode, sha = stages["0"]
        if mode in (SYMLINK_MODE, GITLINK_MODE):
            return None
        return sha, blob_sizes(self.root, [sha]).get(sha, 0)

    def _index(self, path: str) -> bytes | None:
        out = git(self.root, "ls-files", "-s", "-z", "--", path)
        stages = {}
        for entry in filter(None, out.split(b"\0")):
            meta, _, name = entry.partition(b"\t")
            if decode_path(name) == path:
                mode, sha, stage = meta.decode().split()
                stages[stage] = (mode, sha)
        if not stages:
            return None
        if "0" not in stages:
            raise ReadError(f"{path}: unmerged in the index (resolve the conflict first)")
        mode, sha = stages["0"]
        if mode in (SYMLINK_MODE, GITLINK_MODE):
            return None
        return self._blob(path, sha, blob_sizes(self.root, [sha]).get(sha, 0))

    def _blob(self, path: str, sha: str, size: int) -> bytes:
        if size > self.max:
            raise FileTooLarge(f"{path}: {self._too_big(size)}")
        return self.blobs.read(sha)

    def _worktree(self, path: str) -> bytes | None:
        listed = git(self.root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", path)
        if path not in {decode_path(n) for n in listed.split(b"\0") if n}:
            return None  # not in the repository as git sees it (ignored, or inside a nested repository)
        try:
            fd = open_nofollow(self.root, path)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR):
                return None  # deleted, or a symlink somewhere on the way: never followed
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            if st.st_size > self.max:
                raise FileTooLarge(f"{path}: {self._too_big(st.st_size)}")
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(self.max + 1)
        finally:
            os.close(fd)
        if len(data) > self.max:  # grew while being read
            raise FileTooLarge(f"{path}: {self._too_big(len(data))}")
        return data

    def _too_big(self, size: int) -> str:
        return f"larger than the {human_size(self.max)} size cap ({human_size(size)})"
