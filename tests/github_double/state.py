"""The double's in-memory model of GitHub: installations, repositories, commits, pull requests, check runs.

Commits are overlays on a parent (a path mapped to bytes, or to None for a deletion), so a change made on a
base branch after a PR exists is still seen through the head commit, as on GitHub. Everything here is guarded
by one re-entrant lock: the test thread sets state up while the server thread answers requests.

Materialised trees (and what is derived from them, e.g. a PR's file list) are memoised per repository: a PR
of 3,000 files is read with 3,000 contents requests and 30 pages of its file list, and rebuilding the whole
tree from the overlays for each one made the double's cost grow with the square of the PR's size. A commit
never changes once made, except through `Repo.set_file` (what `GitHubDouble.set_content` uses), which drops
every memo: so change an overlay only through it.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

Tree = dict[str, bytes]
T = TypeVar("T")
#: trees (and derived values) a repository keeps memoised, oldest dropped first: a few PRs' base and head
#: trees, bounded so that a test walking hundreds of commits does not keep hundreds of trees alive
MEMO_SIZE = 32


class Symlink(bytes):
    """A tree entry that is a symbolic link (git mode 120000): its bytes are the target path, as in git.

    `Symlink(b"../common/config.yml")` in `files`/`changes` makes the contents API answer as GitHub does:
    the target file's content when the target is a regular file of the repository, else `type: "symlink"`.
    """


class Submodule(bytes):
    """A gitlink (git mode 160000): its bytes are the submodule's commit SHA (ASCII hex)."""


def git_blob_sha(data: bytes) -> str:
    """The SHA git (and so GitHub) gives a blob: SHA-1 of a `blob <len>\\0` header and the bytes."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def random_sha() -> str:
    return secrets.token_hex(20)


@dataclass
class Installation:
    id: int
    account: str
    account_id: int
    created_at: float = field(default_factory=time.time)
    #: what the operator granted this installation (None: the double's default `shapes.PERMISSIONS`)
    permissions: dict[str, str] | None = None


@dataclass(frozen=True)
class Person:
    """Who a commit names as its author or committer: git's `name` and `email`, and `login`, the GitHub
    account GitHub links that email to (the commit's top-level `author`/`committer` user), or None when the
    email belongs to no account (GitHub then gives `null` there, and only `commit.author` names them)."""

    name: str
    email: str
    login: str | None = None


#: every commit's author and committer unless a test names others (the double's output before `Person`)
OCTOCAT = Person("octocat", "octocat@example.invalid", "octocat")


@dataclass
class Commit:
    """A commit: its overlay on `parent` (the tree), and its metadata, which no tree or memo depends on."""

    sha: str
    parent: str | None
    overlay: dict[str, bytes | None]
    author: Person = OCTOCAT
    committer: Person = OCTOCAT
    #: the commit message; None: `commit <sha[:7]>`
    message: str | None = None


@dataclass
class PullRequest:
    number: int
    id: int
    title: str
    user: str
    base_ref: str
    head_ref: str
    base_sha: str
    head_sha: str
    renames: dict[str, str]
    draft: bool = False
    state: str = "open"
    body: str | None = None
    created_at: float = field(default_factory=time.time)


@dataclass
class CheckRun:
    """A check run as the double stores it; tests read these through `GitHubDouble.check_run(s)`."""

    id: int
    repo: str
    name: str
    head_sha: str
    check_suite_id: int
    status: str = "queued"
    conclusion: str | None = None
    external_id: str | None = None
    details_url: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations: list[dict[str, Any]] = field(default_factory=list)
    annotation_batches: list[int] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Repo:
    id: int
    owner: str
    owner_id: int
    name: str
    installation_id: int
    default_branch: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    #: memoised trees by commit SHA, and values derived from trees (`memo`); see the module's docstring
    _trees: dict[str, Tree] = field(default_factory=dict, repr=False, compare=False)
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def resolve(self, ref: str) -> str | None:
        """A branch name, `refs/heads/<name>` or a commit SHA (full or unambiguous prefix) -> SHA."""
        ref = ref.removeprefix("refs/heads/")
        if ref in self.branches:
            return self.branches[ref]
        if ref in self.commits:
            return ref
        if re.fullmatch(r"[0-9a-f]{7,40}", ref):
            found = [sha for sha in self.commits if sha.startswith(ref)]
            if len(found) == 1:
                return found[0]
        return None

    def tree(self, sha: str) -> Mapping[str, bytes]:
        """The full tree of a commit (read-only): its overlays applied from the root commit up, or from the
        nearest ancestor whose tree is memoised."""
        with self._memo_lock:
            known = self._trees.get(sha)
        if known is not None:
            return MappingProxyType(known)
        chain: list[Commit] = []
        current: str | None = sha
        start: Tree = {}
        while current is not None:
            with self._memo_lock:
                cached = self._trees.get(current)
            if cached is not None:
                start = cached
                break
            commit = self.commits[current]
            chain.append(commit)
            current = commit.parent
        tree: Tree = dict(start)
        for commit in reversed(chain):
            for path, data in commit.overlay.items():
                if data is None:
                    tree.pop(path, None)
                else:
                    tree[path] = data
        with self._memo_lock:
            _remember(self._trees, sha, tree)
        return MappingProxyType(tree)

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """`compute()`, memoised under `key` until a commit changes (`set_file`); the value is shared by every
        caller, so it must be treated as read-only. `key` must name everything the value depends on."""
        with self._memo_lock:
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._memo_lock:
            _remember(self._memo, key, value)
        return value

    def set_file(self, sha: str, path: str, data: bytes | None) -> None:
        """Edit commit `sha` in place (None deletes `path`); its descendants see it too: memos are dropped."""
        self.commits[sha].overlay[path] = data
        if data is not None:
            self.add_blob(data)
        with self._memo_lock:
            self._trees.clear()
            self._memo.clear()

    def ancestry(self, sha: str) -> list[str]:
        """`sha` and its ancestors, newest first (commits here have at most one parent)."""
        chain: list[str] = []
        current: str | None = sha
        while current is not None:
            chain.append(current)
            current = self.commits[current].parent
        return chain

    def commits_between(self, base_sha: str, head_sha: str) -> list[str]:
        """The commits reachable from `head_sha` but not from `base_sha`, oldest first: a PR's commits, one
        per push (`create_pull_request` makes the first, each `push` adds one), as GitHub lists them."""
        known = set(self.ancestry(base_sha)) if base_sha in self.commits else set()
        return list(reversed(_until(self.ancestry(head_sha), known)))

    def add_blob(self, data: bytes) -> str:
        sha = git_blob_sha(data)
        self.blobs[sha] = data
        return sha

    def add_commit(
        self,
        overlay: dict[str, bytes | None],
        parent: str | None,
        sha: str | None = None,
        *,
        author: Person | None = None,
        committer: Person | None = None,
        message: str | None = None,
    ) -> str:
        """A new commit; `committer` defaults to `author` (someone committing their own work), both to
        `OCTOCAT`."""
        sha = sha or random_sha()
        if sha in self.commits:
            raise ValueError(f"commit {sha} already exists in {self.full_name}")
        for data in overlay.values():
            if data is not None and not isinstance(data, Submodule):
                self.add_blob(data)
        author = author or OCTOCAT
        self.commits[sha] = Commit(sha, parent, dict(overlay), author, committer or author, message)
        return sha


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    """Keep `value`, dropping the oldest entries beyond `MEMO_SIZE`."""
    memo[key] = value
    while len(memo) > MEMO_SIZE:
        del memo[next(iter(memo))]


def _until(chain: list[str], stop: set[str]) -> list[str]:
    out: list[str] = []
    for sha in chain:
        if sha in stop:
            break
        out.append(sha)
    return out


@dataclass
class RequestRecord:
    """One request the double answered (path relative to /api/v3; body is the parsed JSON, if any)."""

    method: str
    path: str
    query: str
    status: int
    at: float
    body: Any
    fault: str | None
    #: The request's `X-GitHub-Api-Version` header, None when it sent none.
    api_version: str | None = None


class State:
    """All of the double's data; every public method takes the lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._ids = itertools.count(1000)
        self.installations: dict[int, Installation] = {}
        self.repos: dict[str, Repo] = {}
        self.check_runs: dict[int, CheckRun] = {}
        self.check_suites: dict[tuple[str, str], int] = {}
        self.requests: list[RequestRecord] = []
        #: public profiles (`GET /users/{username}`) by lower-cased login: {"name", "email"}, as the user set
        #: them on GitHub; a login not here has neither (GitHub's `null`s)
        self.profiles: dict[str, dict[str, str | None]] = {}

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def add_installation(self, account: str, installation_id: int | None = None) -> int:
        with self.lock:
            inst_id = installation_id or self.next_id()
            if inst_id in self.installations:
                raise ValueError(f"installation {inst_id} already exists")
            self.installations[inst_id] = Installation(inst_id, account, self.next_id())
            return inst_id

    def installation_for(self, account: str) -> int | None:
        with self.lock:
            for inst in self.installations.values():
                if inst.account == account:
                    return inst.id
            return None

    def add_repo(
        self,
        full_name: str,
        installation_id: int | None,
        default_branch: str,
        files: Tree | None,
        private: bool,
    ) -> Repo:
        owner, name = full_name.split("/", 1)
        with self.lock:
            if full_name in self.repos:
                raise ValueError(f"repository {full_name} already exists")
            if installation_id is None:
                installation_id = self.installation_for(owner) or self.add_installation(owner)
            if installation_id not in self.installations:
                raise KeyError(f"no installation {installation_id}")
            owner_id = self.installations[installation_id].account_id
            repo = Repo(self.next_id(), owner, owner_id, name, installation_id, default_branch, private)
            repo.branches[default_branch] = repo.add_commit(dict(files or {}), parent=None)
            self.repos[full_name] = repo
            return repo

    def repo(self, full_name: str) -> Repo:
        with self.lock:
            try:
                return self.repos[full_name]
            except KeyError:
                raise KeyError(f"no repository {full_name}; add it with add_repo") from None

    def suite_id(self, repo: str, head_sha: str) -> int:
        with self.lock:
            key = (repo, head_sha)
            if key not in self.check_suites:
                self.check_suites[key] = self.next_id()
            return self.check_suites[key]

    def log(self, record: RequestRecord) -> None:
        with self.lock:
            self.requests.append(record)
