"""Helpers for tests that talk to the double through githubkit, configured the way the double needs.

Each client gets its own `MemCacheStrategy`: githubkit's default token cache is process-wide and keyed by app
id only, so it would leak tokens between doubles. `auto_retry=False` keeps retries under the test's control.
githubkit's HTTP cache (hishel) drops httpx's timeouts, so pass `http_cache=False` where a timeout matters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy

from tests.github_double.double import GitHubDouble
from tests.github_double.state import PullRequest

SAMPLE_REPO = "octo/repo"


def app_client(double: GitHubDouble, **options: Any) -> GitHub[AppAuthStrategy]:
    """A client authenticated as the double's App (JWT); extra options go to `GitHub(...)`."""
    return GitHub(
        AppAuthStrategy(double.app_id, double.private_key_pem),
        base_url=double.base_url,
        auto_retry=False,
        cache_strategy=MemCacheStrategy(),
        **options,
    )


@asynccontextmanager
async def installation_client(
    double: GitHubDouble, installation_id: int, **options: Any
) -> AsyncIterator[GitHub]:
    """An opened client acting as the installation (it mints its token on first use)."""
    gh = app_client(double, **options)
    inst = gh.with_auth(gh.auth.as_installation(installation_id))
    async with inst:
        yield inst


def sample_pr(double: GitHubDouble, **changes: tuple[bytes | None, bytes | None]) -> tuple[int, PullRequest]:
    """`octo/repo` (README.md, src/keep.py), PR #1 changing app.py plus `changes` -> (installation id, PR)."""
    inst_id = double.add_installation("octo")
    double.add_repo(SAMPLE_REPO, files={"README.md": b"hello\n", "src/keep.py": b"x = 1\n"})
    pr = double.create_pull_request(
        SAMPLE_REPO, changes={"app.py": (b"a = 1\n", b"a = 1\ntoken = 'x'\n"), **changes}
    )
    return inst_id, pr
