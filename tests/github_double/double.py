"""`GitHubDouble`: the fake GitHub a test starts, sets up, points prguard at and then inspects.

See README.md beside this file for the whole interface.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable
from datetime import timedelta
from types import TracebackType
from typing import Any

from tests.github_double.api import API_VERSIONS, PREFIX
from tests.github_double.app import build_app
from tests.github_double.auth import AppIdentity, TokenStore
from tests.github_double.events import fit_event
from tests.github_double.faults import Faults
from tests.github_double.hooks import HookLog
from tests.github_double.server import ThreadedServer, bind_loopback
from tests.github_double.shapes import Urls
from tests.github_double.state import CheckRun, Person, PullRequest, Repo, RequestRecord, State, Tree

Change = tuple[bytes | None, bytes | None]


class GitHubDouble:
    def __init__(self, app_slug: str = "prguard-test", api_versions: Iterable[str] = API_VERSIONS) -> None:
        self.state = State()
        #: `X-GitHub-Api-Version` values answered; any other gets GitHub's 400, as from a GitHub Enterprise
        #: Server older than that version. No header counts as 2022-11-28. Settable while running.
        self.api_versions: frozenset[str] = frozenset(api_versions)
        self.identity = AppIdentity.generate(100_000 + secrets.randbelow(900_000), app_slug)
        self.tokens = TokenStore()
        self.faults = Faults()
        self.max_patch_bytes = 1024 * 1024
        self.manifest_codes: dict[str, dict[str, Any]] = {}
        #: the App's webhook delivery log (`GET /app/hook/deliveries`) and where redeliveries go
        self.hooks = HookLog(self.identity.webhook_secret)
        self._sock = bind_loopback()
        port = self._sock.getsockname()[1]
        self.urls = Urls(api=f"http://127.0.0.1:{port}{PREFIX}", web=f"http://127.0.0.1:{port}")
        self._server: ThreadedServer | None = None

    # -- life cycle ---------------------------------------------------------------------------------------
    def start(self) -> GitHubDouble:
        self._server = ThreadedServer(build_app(self), self._sock)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> GitHubDouble:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- identity -----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.urls.api

    @property
    def app_id(self) -> int:
        return self.identity.app_id

    @property
    def app_slug(self) -> str:
        return self.identity.slug

    @property
    def private_key_pem(self) -> str:
        return self.identity.private_key_pem

    @property
    def webhook_secret(self) -> str:
        return self.identity.webhook_secret

    def webhook_headers(self, event: str, body: bytes, delivery: str | None = None) -> dict[str, str]:
        """Headers GitHub sends with a webhook delivery of `body`, signed with this App's webhook secret."""
        digest = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/double",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-GitHub-Hook-ID": "1",
            "X-GitHub-Hook-Installation-Target-ID": str(self.app_id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-Hub-Signature-256": f"sha256={digest}",
        }

    def fit_event(
        self,
        payload: dict[str, Any],
        full_name: str,
        number: int | None = None,
        head_sha: str | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        """A copy of a real webhook payload whose installation, repository, PR and SHAs match this double.

        With `number`, the PR's head SHA is used (and check suites/runs list that PR); without it, pass
        `head_sha`: check suites/runs then list no PR, as GitHub sends them for fork PRs.
        """
        with self.state.lock:
            repo = self.state.repo(full_name)
            pr = repo.pulls[number] if number is not None else None
            return fit_event(payload, self.urls, repo, pr, head_sha, before)

    def app_jwt(self, lifetime: timedelta = timedelta(minutes=9)) -> str:
        return self.identity.make_jwt(lifetime)

    # -- tokens -------------------------------------------------------------------------------------------
    @property
    def token_ttl(self) -> timedelta:
        return self.tokens.ttl

    @token_ttl.setter
    def token_ttl(self, value: timedelta) -> None:
        self.tokens.ttl = value

    @property
    def token_mints(self) -> int:
        return self.tokens.mints

    def mint_token(self, installation_id: int) -> str:
        return self.tokens.mint(installation_id).value

    def expire_all_tokens(self) -> None:
        self.tokens.expire_all()

    def revoke_all_tokens(self) -> None:
        self.tokens.revoke_all()

    # -- setting up state ---------------------------------------------------------------------------------
    def add_installation(self, account: str, installation_id: int | None = None) -> int:
        return self.state.add_installation(account, installation_id)

    def add_repo(
        self,
        full_name: str,
        installation_id: int | None = None,
        default_branch: str = "main",
        files: Tree | None = None,
        private: bool = True,
    ) -> Repo:
        return self.state.add_repo(full_name, installation_id, default_branch, files, private)

    def add_commit(
        self,
        full_name: str,
        files: dict[str, bytes | None],
        parent: str | None = None,
        sha: str | None = None,
        branch: str | None = None,
        *,
        author: Person | None = None,
        committer: Person | None = None,
        message: str | None = None,
    ) -> str:
        """A commit on top of `parent` (a branch or SHA; default: the default branch); moves `branch`.
        `author`/`committer`/`message`: as in `push`."""
        with self.state.lock:
            repo = self.state.repo(full_name)
            parent_sha = self._resolve(repo, parent or repo.default_branch)
            new_sha = repo.add_commit(
                files, parent_sha, sha, author=author, committer=committer, message=message
            )
            if branch is not None:
                repo.branches[branch] = new_sha
            return new_sha

    def set_content(
        self, full_name: str, path: str, data: bytes | str | None, ref: str | None = None
    ) -> None:
        """Put (or with None delete) a file in the commit `ref` names (a branch's tip, edited in place)."""
        with self.state.lock:
            repo = self.state.repo(full_name)
            sha = self._resolve(repo, ref or repo.default_branch)
            repo.set_file(sha, path, data.encode() if isinstance(data, str) else data)

    def create_pull_request(
        self,
        full_name: str,
        changes: dict[str, Change] | None = None,
        renames: dict[str, str] | None = None,
        base_tree: Tree | None = None,
        head_tree: Tree | None = None,
        base: str = "main",
        head: str = "feature",
        base_sha: str | None = None,
        head_sha: str | None = None,
        title: str = "A pull request",
        user: str = "octocat",
        number: int | None = None,
        draft: bool = False,
        body: str | None = None,
    ) -> PullRequest:
        """A PR whose base commit sits on the `base` branch's tip and whose head commit is its child."""
        changes, renames = dict(changes or {}), dict(renames or {})
        with self.state.lock:
            repo = self.state.repo(full_name)
            tip = repo.branches.get(base)
            base_overlay: dict[str, bytes | None] = dict(base_tree or {})
            base_overlay.update({path: old for path, (old, _) in changes.items()})
            if base_tree is not None and tip is not None:
                base_overlay.update({path: None for path in repo.tree(tip) if path not in base_tree})
            existing = repo.tree(tip) if tip is not None else {}
            base_overlay = {p: v for p, v in base_overlay.items() if v is not None or p in existing}
            if base_overlay or base_sha or tip is None:
                new_base = repo.add_commit(base_overlay, tip, base_sha)
                repo.branches[base] = new_base
            else:  # nothing to add on the base: PRs share the branch's tip, as most PRs on GitHub do
                new_base = tip
            before = repo.tree(new_base)
            head_overlay: dict[str, bytes | None] = {}
            if head_tree is not None:
                head_overlay.update({path: None for path in before if path not in head_tree})
                head_overlay.update(head_tree)
            head_overlay.update({path: new for path, (_, new) in changes.items()})
            for new_path, old_path in renames.items():
                if new_path not in head_overlay or head_overlay[new_path] is None:
                    if old_path not in before:
                        raise KeyError(f"rename source {old_path} is not in the base")
                    head_overlay[new_path] = before[old_path]
                head_overlay[old_path] = None
            new_head = repo.add_commit(head_overlay, new_base, head_sha)
            repo.branches[head] = new_head
            number = number or max([0, *repo.pulls]) + 1
            pr = PullRequest(
                number,
                self.state.next_id(),
                title,
                user,
                base,
                head,
                new_base,
                new_head,
                renames,
                draft=draft,
                body=body,
            )
            repo.pulls[number] = pr
            return pr

    def push(
        self,
        full_name: str,
        number: int,
        changes: dict[str, bytes | None],
        head_sha: str | None = None,
        *,
        author: Person | None = None,
        committer: Person | None = None,
        message: str | None = None,
    ) -> str:
        """A new head commit on the PR (a `synchronize`): path -> new content (None deletes).

        `author`: `Person(name, email, login)`, what git records plus the account GitHub links the email to
        (None: no account, the API's top-level `author` is null); `committer` defaults to `author`, both to
        octocat. `message` (e.g. with `Co-authored-by:` trailers) defaults to `commit <sha7>`."""
        with self.state.lock:
            repo = self.state.repo(full_name)
            pr = repo.pulls[number]
            pr.head_sha = repo.add_commit(
                changes, pr.head_sha, head_sha, author=author, committer=committer, message=message
            )
            repo.branches[pr.head_ref] = pr.head_sha
            return pr.head_sha

    def set_user(self, login: str, *, name: str | None = None, email: str | None = None) -> None:
        """`login`'s public profile as `GET /users/{login}` gives it: display `name` and public `email`
        (None: not set, GitHub's null). Every login answers; one never set has neither."""
        with self.state.lock:
            self.state.profiles[login.lower()] = {"name": name, "email": email}

    def register_manifest_code(self, code: str, **overrides: Any) -> dict[str, Any]:
        """Make `POST /app-manifests/{code}/conversions` answer (once) with this App's credentials."""
        result = {
            **self.urls.app(self.app_id, self.app_slug),
            "client_id": f"Iv1.{self.app_id:016x}",
            "client_secret": secrets.token_hex(20),
            "webhook_secret": self.webhook_secret,
            "pem": self.private_key_pem,
            **overrides,
        }
        with self.state.lock:
            self.manifest_codes[code] = result
        return result

    # -- reading results ----------------------------------------------------------------------------------
    def check_runs(self, full_name: str, head_sha: str, name: str | None = None) -> list[CheckRun]:
        with self.state.lock:
            return [
                run
                for run in sorted(self.state.check_runs.values(), key=lambda r: r.id)
                if run.repo == full_name and run.head_sha == head_sha and (name is None or run.name == name)
            ]

    def check_run(self, full_name: str, head_sha: str, name: str) -> CheckRun:
        runs = self.check_runs(full_name, head_sha, name)
        if not runs:
            raise KeyError(f"no check run {name!r} for {full_name}@{head_sha}")
        return runs[-1]

    def requests(self, method: str | None = None, path_regex: str | None = None) -> list[RequestRecord]:
        with self.state.lock:
            return [
                r
                for r in self.state.requests
                if (method is None or r.method == method.upper())
                and (path_regex is None or re.search(path_regex, r.path))
            ]

    @staticmethod
    def _resolve(repo: Repo, ref: str) -> str:
        sha = repo.resolve(ref)
        if sha is None:
            raise KeyError(f"no branch or commit {ref!r} in {repo.full_name}")
        return sha
