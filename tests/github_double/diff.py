"""What GitHub's "list pull request files" returns, computed from the base and head trees.

The `patch` is a unified diff without the `---`/`+++` header, starting at the first `@@` hunk, as GitHub sends
it; it is left out for binary files, empty diffs and diffs larger than the configured limit.

`commit_diffs` memoises a comparison on the repository (`Repo.memo`), and each `FileDiff` its blob SHA and
patch: the file list of a 3,000-file PR is asked for in 30 pages, and each page would otherwise sort both
whole trees and diff every file again.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote

from tests.github_double.state import Repo, Submodule, git_blob_sha

NO_NEWLINE = "\\ No newline at end of file\n"


@dataclass
class FileDiff:
    filename: str
    status: str
    previous_filename: str | None
    base: bytes | None
    head: bytes | None

    @cached_property
    def sha(self) -> str | None:
        """GitHub gives the head blob's SHA (the base blob's for a removed file)."""
        data = self.head if self.head is not None else self.base
        if isinstance(data, Submodule):
            return data.decode()  # a gitlink's "blob" is the submodule's commit
        return git_blob_sha(data) if data is not None else None

    @cached_property
    def patch_parts(self) -> tuple[str, int, int]:
        """`make_patch` of the two sides, computed once (the file list and the PR's counts both need it)."""
        return make_patch(self.base, self.head)


def is_binary(data: bytes | None) -> bool:
    """Git's own heuristic: a NUL byte in the first 8000 bytes."""
    return data is not None and b"\x00" in data[:8000]


def commit_diffs(
    repo: Repo, base_sha: str | None, head_sha: str, renames: dict[str, str]
) -> list[FileDiff]:
    """`compare` of two commits' trees (`base_sha` None: the empty tree), memoised on the repository until a
    commit changes. The `FileDiff`s are shared between calls: read them, never change them."""
    key = ("compare", base_sha, head_sha, tuple(sorted(renames.items())))

    def run() -> list[FileDiff]:
        return compare(repo.tree(base_sha) if base_sha is not None else {}, repo.tree(head_sha), renames)

    return list(repo.memo(key, run))


def compare(base: Mapping[str, bytes], head: Mapping[str, bytes], renames: dict[str, str]) -> list[FileDiff]:
    """The changed files between two trees, sorted by name; `renames` maps new path -> old path."""
    renamed_from = {
        old: new for new, old in renames.items() if new in head and old in base and old not in head
    }
    out: list[FileDiff] = []
    for path in sorted(set(base) | set(head)):
        if path in renamed_from:
            continue
        before, after = base.get(path), head.get(path)
        old = renames.get(path)
        if old is not None and renamed_from.get(old) == path:
            out.append(FileDiff(path, "renamed", old, base[old], after))
        elif before is None:
            out.append(FileDiff(path, "added", None, None, after))
        elif after is None:
            out.append(FileDiff(path, "removed", None, before, None))
        elif before != after:
            out.append(FileDiff(path, "modified", None, before, after))
    return out


def _lines(data: bytes | None) -> list[str]:
    if not data:
        return []
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def _side(data: bytes | None) -> bytes | None:
    """Git shows a gitlink as one line naming the submodule's commit."""
    return b"Subproject commit " + bytes(data) + b"\n" if isinstance(data, Submodule) else data


def make_patch(base: bytes | None, head: bytes | None) -> tuple[str, int, int]:
    """(patch, additions, deletions) for text; a line without a final newline gets git's marker."""
    a, b = _lines(_side(base)), _lines(_side(head))
    additions = deletions = 0
    parts: list[str] = []
    for line in _without_header(difflib.unified_diff(a, b, n=3, lineterm="\n")):
        if line.startswith("+"):
            additions += 1
        elif line.startswith("-"):
            deletions += 1
        if line.endswith("\n"):
            parts.append(line)
        else:
            parts.append(line + "\n" + NO_NEWLINE)
    patch = "".join(parts)
    return patch.removesuffix("\n"), additions, deletions


def _without_header(lines: Iterable[str]) -> list[str]:
    """Drop difflib's `---` and `+++` file header lines (GitHub's patch starts at the first hunk)."""
    out = list(lines)
    return out[2:] if len(out) >= 2 and out[0].startswith("---") and out[1].startswith("+++") else out


def file_entry(diff: FileDiff, blob_base: str, api_base: str, head_sha: str, max_patch_bytes: int) -> dict:
    """One DiffEntry JSON object; `blob_base` is `https://host/owner/repo`, `api_base` the repo's API URL."""
    quoted = quote(diff.filename)
    entry: dict = {
        "sha": diff.sha,
        "filename": diff.filename,
        "status": diff.status,
        "additions": 0,
        "deletions": 0,
        "changes": 0,
        "blob_url": f"{blob_base}/blob/{head_sha}/{quoted}",
        "raw_url": f"{blob_base}/raw/{head_sha}/{quoted}",
        "contents_url": f"{api_base}/contents/{quoted}?ref={head_sha}",
    }
    if diff.previous_filename is not None:
        entry["previous_filename"] = diff.previous_filename
    if is_binary(diff.base) or is_binary(diff.head):
        return entry
    patch, additions, deletions = diff.patch_parts
    entry.update(additions=additions, deletions=deletions, changes=additions + deletions)
    if patch and len(patch.encode()) <= max_patch_bytes:
        entry["patch"] = patch
    return entry
