"""Handlers for check runs: create, update (annotations append), get, list annotations, list for a ref."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.github_double import api
from tests.github_double.checkruns import Invalid, apply, validate
from tests.github_double.shapes import timestamp
from tests.github_double.state import CheckRun, Repo

DOCS = "https://docs.github.com/rest/checks/runs"


def _invalid(exc: Invalid) -> api.ApiError:
    extra: dict[str, Any] = {"errors": exc.errors} if exc.errors is not None else {}
    return api.ApiError(422, exc.message, **extra)


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise api.ApiError(400, "Problems parsing JSON") from None


def _render(request: Request, repo: Repo, run: CheckRun) -> dict[str, Any]:
    double = api.double_of(request)
    prs = [
        double.urls.pull_request_minimal(repo, pr)
        for pr in repo.pulls.values()
        if pr.head_sha == run.head_sha
    ]
    return double.urls.check_run(repo, run, double.urls.app(double.app_id, double.app_slug), prs)


def _run(request: Request, repo: Repo) -> CheckRun:
    run = api.double_of(request).state.check_runs.get(request.path_params["check_run_id"])
    if run is None or run.repo != repo.full_name:
        raise api.ApiError(404, "Not Found")
    return run


async def create_check_run(request: Request) -> Response:
    body = await _json(request)
    double = api.double_of(request)
    with double.state.lock:
        repo = api.require_repo(request)
        try:
            validate(body, creating=True)
        except Invalid as exc:
            raise _invalid(exc) from None
        head_sha = repo.resolve(body["head_sha"])
        if head_sha is None or head_sha != body["head_sha"]:
            raise api.ApiError(422, f"No commit found for SHA: {body['head_sha']}")
        run = CheckRun(
            double.state.next_id(),
            repo.full_name,
            body["name"],
            head_sha,
            double.state.suite_id(repo.full_name, head_sha),
            started_at=timestamp(),
        )
        apply(run, body)
        double.state.check_runs[run.id] = run
        return JSONResponse(_render(request, repo, run), 201)


async def update_check_run(request: Request) -> Response:
    body = await _json(request)
    double = api.double_of(request)
    with double.state.lock:
        repo = api.require_repo(request)
        run = _run(request, repo)
        try:
            validate(body, creating=False, current_conclusion=run.conclusion)
        except Invalid as exc:
            raise _invalid(exc) from None
        apply(run, body)
        return JSONResponse(_render(request, repo, run))


async def get_check_run(request: Request) -> Response:
    with api.double_of(request).state.lock:
        repo = api.require_repo(request)
        return JSONResponse(_render(request, repo, _run(request, repo)))


async def list_annotations(request: Request) -> Response:
    double = api.double_of(request)
    with double.state.lock:
        repo = api.require_repo(request)
        run = _run(request, repo)
        page, headers = api.paginate(request, run.annotations)
        return JSONResponse([double.urls.annotation(repo, run, item) for item in page], headers=headers)


async def list_for_ref(request: Request) -> Response:
    """`filter=latest` (GitHub's default) keeps only the newest run of each name."""
    double = api.double_of(request)
    query = request.query_params
    with double.state.lock:
        repo = api.require_repo(request)
        sha = repo.resolve(request.path_params["ref"])
        if sha is None:
            raise api.ApiError(422, f"No commit found for SHA: {request.path_params['ref']}")
        runs = sorted(
            (r for r in double.state.check_runs.values() if r.repo == repo.full_name and r.head_sha == sha),
            key=lambda r: r.id,
            reverse=True,
        )
        if query.get("check_name"):
            runs = [r for r in runs if r.name == query["check_name"]]
        if query.get("status"):
            runs = [r for r in runs if r.status == query["status"]]
        if query.get("filter", "latest") == "latest":
            seen: set[str] = set()
            runs = [r for r in runs if not (r.name in seen or seen.add(r.name))]
        page, headers = api.paginate(request, runs)
        body = {"total_count": len(runs), "check_runs": [_render(request, repo, r) for r in page]}
        return JSONResponse(body, headers=headers)


ROUTES = [
    Route("/repos/{owner}/{repo}/check-runs", create_check_run, methods=["POST"]),
    Route("/repos/{owner}/{repo}/check-runs/{check_run_id:int}", update_check_run, methods=["PATCH"]),
    Route("/repos/{owner}/{repo}/check-runs/{check_run_id:int}", get_check_run, methods=["GET"]),
    Route(
        "/repos/{owner}/{repo}/check-runs/{check_run_id:int}/annotations", list_annotations, methods=["GET"]
    ),
    Route("/repos/{owner}/{repo}/commits/{ref:path}/check-runs", list_for_ref, methods=["GET"]),
]
