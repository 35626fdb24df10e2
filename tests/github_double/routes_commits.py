"""A pull request's commits and one commit with its files, as GitHub's REST API gives them.

`GET /repos/{o}/{r}/pulls/{n}/commits`: the commits of the PR's head that its base does not have, oldest
first (one per push: `create_pull_request` makes the first, each `push` adds one), at most 250 (GitHub's
limit), paginated (`per_page` ≤ 100, default 30). `GET /repos/{o}/{r}/commits/{ref}`: the commit and the
files it changed against its parent, with `patch` as the PR files API gives it (none for binaries or diffs
over `max_patch_bytes`), 300 files per page (`per_page` honoured up to 300), at most 3000.

A commit names its author and committer (`state.Person`: git's name and email in `commit.author` and
`commit.committer`, and the account GitHub links the email to as the top-level `author`/`committer`, null when
none) and its message. `GET /repos/{o}/{r}/commits?sha=&author=&committer=`: the commits reachable from `sha`
(default: the default branch), newest first; with `author` (`committer`), those whose author (committer) is
that login (the account GitHub links the email to) or has that email; paginated. `GET /users/{username}`: a
public profile (`GitHubDouble.set_user`: display name and public email, each null unless set).
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.github_double import api
from tests.github_double.auth import AuthError, bearer
from tests.github_double.diff import commit_diffs, file_entry
from tests.github_double.shapes import Urls, timestamp
from tests.github_double.state import Person, PullRequest, Repo

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
    now = timestamp()
    parents = [commit.parent] if commit.parent else []
    out: dict[str, Any] = {
        "url": f"{api_base}/commits/{sha}",
        "sha": sha,
        "node_id": f"C_{sha[:16]}",
        "html_url": f"{urls.web}/{repo.full_name}/commit/{sha}",
        "comments_url": f"{api_base}/commits/{sha}/comments",
        "commit": {
            "url": f"{api_base}/git/commits/{sha}",
            "author": _git_person(commit.author, now),
            "committer": _git_person(commit.committer, now),
            "message": f"commit {sha[:7]}" if commit.message is None else commit.message,
            "comment_count": 0,
            "tree": {"sha": tree, "url": f"{api_base}/git/trees/{tree}"},
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                             "verified_at": None},
        },
        "author": _account(urls, commit.author),
        "committer": _account(urls, commit.committer),
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


def _git_person(person: Person, date: str) -> dict[str, str]:
    """`commit.author` / `commit.committer`: what git recorded."""
    return {"name": person.name, "email": person.email, "date": date}


def _account(urls: Urls, person: Person) -> dict[str, Any] | None:
    """The top-level `author` / `committer`: the GitHub user the email belongs to, or null."""
    if person.login is None:
        return None
    return urls.user(person.login, user_id(person.login))


def user_id(login: str) -> int:
    """The double's id of a user (as in every user object it gives: `social.Social.user` too), e.g. for a
    `ID+login@users.noreply.github.com` email."""
    return zlib.crc32(login.encode()) % 10**8


async def get_user(request: Request) -> Response:
    """`GET /users/{username}`: a public profile; any login exists, with the name and public email
    `GitHubDouble.set_user` gave it (null otherwise: the email a user keeps private is never shown)."""
    double = api.double_of(request)
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise api.ApiError(401, "Requires authentication")
    try:
        double.tokens.check(token)
    except AuthError as exc:
        raise api.ApiError(401, str(exc)) from None
    login = request.path_params["username"]
    with double.state.lock:
        profile = dict(double.state.profiles.get(login.lower(), {}))
    stamp = timestamp(0)
    return JSONResponse({
        **double.urls.user(login, user_id(login)),
        "name": profile.get("name"), "company": None, "blog": "", "location": None,
        "email": profile.get("email"), "hireable": None, "bio": None, "twitter_username": None,
        "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
        "created_at": stamp, "updated_at": stamp,
    })


async def list_commits(request: Request) -> Response:
    """`GET /repos/{o}/{r}/commits`: see the module's docstring."""
    double = api.double_of(request)
    with double.state.lock:
        repo = api.require_repo(request)
        ref = request.query_params.get("sha") or repo.default_branch
        start = repo.resolve(ref)
        if start is None:
            raise api.ApiError(404, "Not Found")
        shas = repo.ancestry(start)
        for role in ("author", "committer"):
            want = (request.query_params.get(role) or "").lower()
            if want:
                people = {sha: getattr(repo.commits[sha], role) for sha in shas}
                shas = [sha for sha in shas if want in ((people[sha].login or "").lower(),
                                                        people[sha].email.lower())]
        page, headers = api.paginate(request, shas)
        return JSONResponse([commit_shape(double.urls, repo, sha) for sha in page], headers=headers)


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
    Route("/repos/{owner}/{repo}/commits", list_commits, methods=["GET"]),
    Route("/repos/{owner}/{repo}/commits/{ref}", get_commit, methods=["GET"]),
    Route("/users/{username}", get_user, methods=["GET"]),
]
