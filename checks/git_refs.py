"""Which commits a local scan compares: the repository root, a user's ref, the default branch, the merge-base.

The base of a local scan is the merge-base of the head with the base ref, so a scan reports what the branch
introduced, not what the default branch gained meanwhile. Each helper turns git's silent failure (an
unknown ref, no common ancestor, a shallow clone) into a `GitError` phrased in the user's terms (the ref
they typed, the `--base` flag that fixes it), because these are the mistakes a person running
`prguard scan` actually makes.
"""

from __future__ import annotations

import os

from checks.git_run import GitError, try_git


def find_root(path: str | os.PathLike[str]) -> str:
    """The top-level directory of the repository holding `path`, with symlinks resolved."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise GitError(f"{path}: no such directory")
    top = try_git(path, "rev-parse", "--show-toplevel")
    if top is None:
        raise GitError(f"{path}: not a git repository (or a bare one)")
    return os.path.realpath(top)


def resolve_commit(root: str, ref: str) -> str:
    """The commit SHA `ref` names (a branch, tag or commit); `GitError` when there is none."""
    sha = try_git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if sha is None:
        raise GitError(f"unknown revision {ref!r}: no such branch, tag or commit")
    return sha


def default_base_ref(root: str) -> str:
    """The default branch: `origin/HEAD`, else `main`, else `master` (else `origin/main`, `origin/master`)."""
    target = try_git(root, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
    candidates = [target] if target else []
    candidates += [
        "refs/heads/main",
        "refs/heads/master",
        "refs/remotes/origin/main",
        "refs/remotes/origin/master",
    ]
    for ref in candidates:
        if try_git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"):
            return ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
    raise GitError(
        "no default branch to compare with (origin/HEAD, main and master do not exist); use --base REF"
    )


def merge_base(root: str, a: str, b: str, *, names: tuple[str, str] | None = None) -> str:
    """The merge-base of commits `a` and `b`; `names` (what the user typed) make the error readable."""
    sha = try_git(root, "merge-base", a, b)
    if sha is None:
        shown_a, shown_b = names or (a[:12], b[:12])
        shallow = try_git(root, "rev-parse", "--is-shallow-repository") == "true"
        hint = "this is a shallow clone: fetch more history" if shallow else "unrelated histories"
        raise GitError(f"{shown_a} and {shown_b} have no common ancestor ({hint}; or pass --base REF)")
    return sha


def merge_head(root: str) -> str | None:
    """The commit being merged in when a merge is in progress (`git merge` stopped before committing)."""
    return try_git(root, "rev-parse", "--verify", "--quiet", "MERGE_HEAD^{commit}")
