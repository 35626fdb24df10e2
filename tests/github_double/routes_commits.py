"""A pull request's commits and one commit with its files, as GitHub's REST API gives them.

`GET /repos/{o}/{r}/pulls/{n}/commits`: the commits of the PR's head that its base does not have, oldest
first (one per push: `create_pull_request` makes the first, each `push` adds one), at most 250 (GitHub's
limit), paginated (`per_page` ≤ 100, default 30). `GET /repos/{o}/{r}/commits/{ref}`: the commit and the
files it changed against its parent, with `patch` as the PR files API gives it (none for binaries or diffs
over `max_patch_bytes`), 300 files per page (`per_page` honoured up to 300), at most 3000.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.github_double import api
from tests.github_double.diff import commit_diffs, file_entry
from tests.github_double.shapes import Urls, timestamp
from tests.github_double.state import PullRequest, Repo

MAX_PR_COMMITS = 250
MAX_COMMIT_FILES = 3000
FILES_PER_PAGE = 300


def pr_commits(repo: Repo, pr: PullRequest) -> list[str]:
    """The PR's commits, oldest first (all of them; the API lists the first 250)."""
    return repo.commits_between(pr.base_sha, pr.head_sha)


def commit_shape(
    urls: Urls, repo: Repo, sha: str, files: list[dict[str, Any]] | None = None,
    all_files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A commit as GitHub's commit APIs give it; with `files` (one page of `all_files`), also its `files`
    and `stats` (of the whole commit), as "get a commit" does."""
    api_base = urls.repo_api(repo)
    commit = repo.commits[sha]
    tree = hashlib.sha1(repr(sorted(repo.tree(sha).items())).encode()).hexdigest()
    person = {"name": "octocat", "email": "octocat@example.invalid", "date": timestamp()}
    parents = [commit.parent] if commit.parent else []
    out: dict[str, Any] = {
        "url": f"{api_base}/commits/{sha}",
        "sha": sha,
        "node_id": f"C_{sha[:16]}",
        "html_url": f"{urls.web}/{repo.full_name}/commit/{sha}",
        "comments_url": f"{api_base}/commits/{sha}/comments",
        "commit": {
            "url": f"{api_base}/git/commits/{sha}",
            "author": person,
            "committer": person,
            "message": f"commit {sha[:7]}",
            "comment_count": 0,
            "tree": {"sha": tree, "url": f"{api_base}/git/trees/{tree}"},
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                             "verified_at": None},
        },
        "author": urls.user("octocat", zlib.crc32(b"octocat") % 10**8),
        "committer": urls.user("octocat", zlib.crc32(b"octocat") % 10**8),
        "parents": [{"sha": p, "url": f"{api_base}/commits/{p}", "html_url": f"{urls.web}/{repo.full_name}/"
                     f"commit/{p}"} for p in parents],
    }
    if files is not None:
        every = files if all_files is None else all_files
        additions = sum(int(f["additions"]) for f in every)
        deletions = sum(int(f["deletions"]) for f in every)
        out["stats"] = {"additions": additions, "deletions": deletions, "total": additions + deletions}
        out["files"] = files
    return out


async def list_pull_commits(request: Request) -> Response:
    double = api.double_of(request)
    with double.state.lock:
        repo = api.require_repo(request)
        pr = repo.pulls.get(request.path_params["number"])
        if pr is None:
            raise api.ApiError(404, "Not Found")
        page, headers = api.paginate(request, pr_commits(repo, pr)[:MAX_PR_COMMITS])
        return JSONResponse([commit_shape(double.urls, repo, sha) for sha in page], headers=headers)


async def get_commit(request: Request) -> Response:
    double = api.double_of(request)
    with double.state.lock:
        repo = api.require_repo(request)
        sha = repo.resolve(request.path_params["ref"])
        if sha is None:
            raise api.ApiError(422, f"No commit found for SHA: {request.path_params['ref']}")
        parent = repo.commits[sha].parent
        # renames the repository's PRs declare (GitHub detects them): a renamed file is not wholly added
        renames = {new: old for pr in repo.pulls.values() for new, old in pr.renames.items()}
        diffs = commit_diffs(repo, parent, sha, renames)[:MAX_COMMIT_FILES]
        web = f"{double.urls.web}/{repo.full_name}"
        files = [file_entry(d, web, double.urls.repo_api(repo), sha, double.max_patch_bytes) for d in diffs]
        page, headers = api.paginate(request, files, default=FILES_PER_PAGE, maximum=FILES_PER_PAGE)
        return JSONResponse(commit_shape(double.urls, repo, sha, page, files), headers=headers)


ROUTES = [
    Route("/repos/{owner}/{repo}/pulls/{number:int}/commits", list_pull_commits, methods=["GET"]),
    Route("/repos/{owner}/{repo}/commits/{ref}", get_commit, methods=["GET"]),
]
