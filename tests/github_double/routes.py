"""Handlers for the App, installation, manifest, repository, pull-request, contents and blob endpoints."""

from __future__ import annotations

import posixpath

from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.github_double import api
from tests.github_double.auth import expires_at_text
from tests.github_double.diff import commit_diffs, file_entry
from tests.github_double.shapes import PERMISSIONS
from tests.github_double.state import PullRequest, Repo, Submodule, Symlink


class AnyPathConvertor(PathConvertor):
    """A repository path as git allows it, newlines included (starlette's `path` stops at a newline)."""

    regex = "[\\s\\S]*"


register_url_convertor("anypath", AnyPathConvertor())

MAX_FILES = 3000
MAX_JSON_CONTENT = 1024 * 1024
MAX_RAW_CONTENT = 100 * 1024 * 1024
RAW_TYPES = ("application/vnd.github.raw", "application/vnd.github.v3.raw")


async def get_app(request: Request) -> Response:
    api.require_app(request)
    double = api.double_of(request)
    return JSONResponse(double.urls.app(double.app_id, double.app_slug))


async def get_repo_installation(request: Request) -> Response:
    api.require_app(request)
    double = api.double_of(request)
    with double.state.lock:
        repo = double.state.repos.get(f"{request.path_params['owner']}/{request.path_params['repo']}")
        if repo is None:
            raise api.ApiError(404, "Not Found")
        inst = double.state.installations[repo.installation_id]
        return JSONResponse(double.urls.installation(inst, double.app_id, double.app_slug))


async def create_access_token(request: Request) -> Response:
    api.require_app(request)
    double = api.double_of(request)
    installation_id = request.path_params["installation_id"]
    if installation_id not in double.state.installations:
        raise api.ApiError(404, "Not Found")
    token = double.tokens.mint(installation_id)
    body = {
        "token": token.value,
        "expires_at": expires_at_text(token),
        "permissions": dict(double.state.installations[installation_id].permissions or PERMISSIONS),
        "repository_selection": "selected",
    }
    return JSONResponse(body, 201)


async def manifest_conversion(request: Request) -> Response:
    """The app-manifest flow's code exchange: no auth, each code works once (as on GitHub)."""
    double = api.double_of(request)
    with double.state.lock:
        result = double.manifest_codes.pop(request.path_params["code"], None)
    if result is None:
        raise api.ApiError(404, "Not Found")
    return JSONResponse(result, 201)


async def get_repo(request: Request) -> Response:
    repo = api.require_repo(request)
    return JSONResponse(api.double_of(request).urls.repository(repo, full=True))


def _pull(request: Request) -> tuple[Repo, PullRequest]:
    repo = api.require_repo(request)
    pr = repo.pulls.get(request.path_params["number"])
    if pr is None:
        raise api.ApiError(404, "Not Found")
    return repo, pr


async def get_pull(request: Request) -> Response:
    double = api.double_of(request)
    with double.state.lock:
        repo, pr = _pull(request)
        diffs = commit_diffs(repo, pr.base_sha, pr.head_sha, pr.renames)
        entries = [file_entry(d, "", "", pr.head_sha, double.max_patch_bytes) for d in diffs]
        counts = (sum(e["additions"] for e in entries), sum(e["deletions"] for e in entries), len(entries))
        commits = len(repo.commits_between(pr.base_sha, pr.head_sha))
        return JSONResponse(double.urls.pull_request(repo, pr, counts, commits=commits))


async def list_pull_files(request: Request) -> Response:
    double = api.double_of(request)
    with double.state.lock:
        repo, pr = _pull(request)
        diffs = commit_diffs(repo, pr.base_sha, pr.head_sha, pr.renames)[:MAX_FILES]
        page, headers = api.paginate(request, diffs)
        web = f"{double.urls.web}/{repo.full_name}"
        repo_api = double.urls.repo_api(repo)
        body = [file_entry(d, web, repo_api, pr.head_sha, double.max_patch_bytes) for d in page]
        return JSONResponse(body, headers=headers)


async def list_commit_pulls(request: Request) -> Response:
    double = api.double_of(request)
    with double.state.lock:
        repo = api.require_repo(request)
        sha = repo.resolve(request.path_params["sha"])
        if sha is None:
            raise api.ApiError(422, f"No commit found for SHA: {request.path_params['sha']}")
        pulls = [pr for pr in repo.pulls.values() if pr.head_sha == sha]
        page, headers = api.paginate(request, pulls)
        return JSONResponse([double.urls.pull_request(repo, pr, (0, 0, 0)) for pr in page], headers=headers)


def _wants_raw(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any(kind in accept for kind in RAW_TYPES)


def _raw(data: bytes) -> Response:
    if len(data) > MAX_RAW_CONTENT:
        raise api.ApiError(
            403,
            "This API returns blobs up to 100 MB in size. The requested blob is too "
            "large to fetch via the API.",
            errors=[{"resource": "Blob", "field": "data", "code": "too_large"}],
        )
    return Response(data, media_type="application/vnd.github.raw")


async def get_content(request: Request) -> Response:
    double = api.double_of(request)
    with double.state.lock:
        repo = api.require_repo(request)
        ref = request.query_params.get("ref") or repo.default_branch
        sha = repo.resolve(ref)
        if sha is None:
            raise api.ApiError(404, f"No commit found for the ref {ref}")
        path = request.path_params.get("path", "").strip("/")
        tree = repo.tree(sha)
        if path in tree:
            data = tree[path]
            if isinstance(data, Submodule):
                return JSONResponse(double.urls.content_submodule(repo, path, ref, data))
            if isinstance(data, Symlink):
                target = _symlink_target(tree, path, data)
                if target is None:
                    return JSONResponse(double.urls.content_symlink(repo, path, ref, data))
                # GitHub answers a link to a regular file of the repository with that file
                path, data = target, tree[target]
            if _wants_raw(request):
                return _raw(data)
            return JSONResponse(double.urls.content_file(repo, path, ref, data, MAX_JSON_CONTENT))
        prefix = f"{path}/" if path else ""
        children: dict[str, bytes | None] = {}
        for name, data in tree.items():
            if name.startswith(prefix):
                head, sep, _ = name[len(prefix) :].partition("/")
                children[prefix + head] = None if sep else data
        if not children:
            raise api.ApiError(404, "Not Found")
        items = [double.urls.content_item(repo, name, ref, data) for name, data in sorted(children.items())]
        return JSONResponse(items)


def _symlink_target(tree: dict[str, bytes], path: str, link: bytes) -> str | None:
    """The repository path a symlink points to, when that is a regular file; else None."""
    target = link.decode("utf-8", "replace")
    if target.startswith("/"):
        return None
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved.startswith("../") or resolved == "..":
        return None
    data = tree.get(resolved)
    return resolved if data is not None and not isinstance(data, (Symlink, Submodule)) else None


async def get_blob(request: Request) -> Response:
    double = api.double_of(request)
    with double.state.lock:
        repo = api.require_repo(request)
        sha = request.path_params["sha"]
        data = repo.blobs.get(sha)
        if data is None:
            raise api.ApiError(404, "Not Found")
        if _wants_raw(request):
            return _raw(data)
        return JSONResponse(double.urls.blob(repo, sha, data))


ROUTES = [
    Route("/app", get_app, methods=["GET"]),
    Route("/app/installations/{installation_id:int}/access_tokens", create_access_token, methods=["POST"]),
    Route("/app-manifests/{code}/conversions", manifest_conversion, methods=["POST"]),
    Route("/repos/{owner}/{repo}/installation", get_repo_installation, methods=["GET"]),
    Route("/repos/{owner}/{repo}", get_repo, methods=["GET"]),
    Route("/repos/{owner}/{repo}/pulls/{number:int}", get_pull, methods=["GET"]),
    Route("/repos/{owner}/{repo}/pulls/{number:int}/files", list_pull_files, methods=["GET"]),
    Route("/repos/{owner}/{repo}/commits/{sha}/pulls", list_commit_pulls, methods=["GET"]),
    Route("/repos/{owner}/{repo}/contents", get_content, methods=["GET"]),
    Route("/repos/{owner}/{repo}/contents/{path:anypath}", get_content, methods=["GET"]),
    Route("/repos/{owner}/{repo}/git/blobs/{sha}", get_blob, methods=["GET"]),
]
