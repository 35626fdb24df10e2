"""Running `git` for the local readers (`checks.git_change`, `checks.git_reader`, `checks.git_history`).

Every call goes through one environment (`git_env`) so a scan changes nothing in the repository (no
`index.lock` taken to refresh stat info), treats file names as names (literal pathspecs) and reads git's
messages in one locale; and every failure becomes a `GitError` with git's first error line, so the CLI can
print one readable line instead of a traceback. Object contents are read through one long-lived
`cat-file --batch` process per change (`BlobReader`) and sizes in one `--batch-check` call (`blob_sizes`),
because one subprocess per file would make a 2,000-file change take many seconds.
"""

from __future__ import annotations

import os
import subprocess
import threading
import weakref
from collections.abc import Sequence

from checks.change import FileTooLarge

#: The id of git's empty tree: the base of the very first commit (pre-commit on a repository with no commits).
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
#: The object id git prints for "no object" (an added file's old side, a removed file's new side).
ZERO_SHA = "0" * 40
SYMLINK_MODE = "120000"
GITLINK_MODE = "160000"
#: Options that make diff output independent of the user's git config (diff.noprefix, color.ui, external
#: diff drivers, textconv filters, diff.relative, diff.renames=copies, …).
DIFF_OPTS = (
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "--no-relative",
    "--find-renames",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--ignore-submodules=none",
)


class GitError(Exception):
    """The path is not a usable git repository, a ref does not exist, or git failed. One-line message."""


def git_env() -> dict[str, str]:
    """The environment every git process of a scan runs with (see the module docstring)."""
    env = dict(os.environ)
    env["GIT_OPTIONAL_LOCKS"] = "0"  # never take index.lock to refresh stat info: a scan changes nothing
    env["GIT_LITERAL_PATHSPECS"] = "1"  # file names are names, not glob patterns
    env["LC_ALL"] = "C"
    return env


def git(root: str, *args: str, stdin: bytes | None = None) -> bytes:
    """Run `git -C root args` and return stdout; a failure raises `GitError` with git's first error line."""
    cmd = ["git", "-C", root, "-c", "core.quotepath=off", *args]
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, env=git_env(), check=False)
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        reason = lines[0].strip() if lines else f"exit status {proc.returncode}"
        raise GitError(f"git {_subcommand(args)} failed: {reason}")
    return proc.stdout


def _subcommand(args: Sequence[str]) -> str:
    """`diff` for `-c k=v -c k2=v2 diff …`: the command git ran, not the first option (`git -c failed`)."""
    rest = list(args)
    while len(rest) >= 2 and rest[0] == "-c":
        rest = rest[2:]
    return rest[0] if rest else "command"


def try_git(root: str, *args: str) -> str | None:
    """`git`'s stripped output as text, or None when it fails or prints nothing (a ref that may not exist)."""
    try:
        return git(root, *args).decode().strip() or None
    except GitError:
        return None


def read_at(root: str, rev: str, path: str, *, max_bytes: int | None = None) -> bytes | None:
    """The bytes of `path` in commit `rev`, or None when it has no such file (used to read base policy).

    Over `max_bytes` raises `FileTooLarge` before the blob is read: its size comes from `cat-file -s`, so a
    200 MB file costs nothing.
    """
    size = try_git(root, "cat-file", "-s", f"{rev}:{path}")
    if size is None:
        return None
    if max_bytes is not None and int(size) > max_bytes:
        raise FileTooLarge(f"{path}: {int(size)} bytes", int(size))
    return git(root, "cat-file", "blob", f"{rev}:{path}")


class BlobReader:
    """One `git cat-file --batch` process shared by every lazy loader of a change (thread-safe).

    It starts on first use and stops when the change is garbage collected (or at exit).
    """

    def __init__(self, root: str) -> None:
        self._root = root
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def read(self, sha: str) -> bytes:
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(sha.encode() + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline().split()
            if len(header) != 3:
                raise GitError(
                    f"the repository does not have the contents of object {sha[:12]} (a partial or shallow "
                    "clone? fetch it with git fetch)"
                )
            data = proc.stdout.read(int(header[2]))
            proc.stdout.read(1)  # the newline after each object
            return data

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", "-C", self._root, "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=git_env(),
            )
            weakref.finalize(self, _stop, self._proc)
        return self._proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdin, proc.stdout):
        if stream:
            stream.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def blob_sizes(root: str, shas: Sequence[str]) -> dict[str, int]:
    """The size of each object in `shas` (absent ones are left out), from one `cat-file --batch-check`."""
    if not shas:
        return {}
    out = git(root, "cat-file", "--batch-check", stdin="".join(f"{s}\n" for s in shas).encode())
    sizes: dict[str, int] = {}
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 3:
            sizes[parts[0]] = int(parts[2])
    return sizes
