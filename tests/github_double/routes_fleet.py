"""Endpoints for work across an App's whole fleet: its installations, their repositories and open pull
requests, and its webhook delivery log with redelivery (what `prguard reconcile` uses)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.github_double import api
from tests.github_double.auth import AuthError, bearer


def _installation_of(request: Request) -> int:
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise api.ApiError(401, "Requires authentication")
    try:
        return api.double_of(request).tokens.check(token).installation_id
    except AuthError as exc:
        raise api.ApiError(401, str(exc)) from None


async def list_installations(request: Request) -> Response:
    api.require_app(request)
    double = api.double_of(request)
    with double.state.lock:
        installations = sorted(double.state.installations.values(), key=lambda i: i.id)
        page, headers = api.paginate(request, installations)
        body = [double.urls.installation(i, double.app_id, double.app_slug) for i in page]
    return JSONResponse(body, headers=headers)


async def list_installation_repos(request: Request) -> Response:
    installation_id = _installation_of(request)
    double = api.double_of(request)
    with double.state.lock:
        repos = sorted((r for r in double.state.repos.values() if r.installation_id == installation_id),
                       key=lambda r: r.id)
        page, headers = api.paginate(request, repos)
        body = {"total_count": len(repos), "repository_selection": "selected",
                "repositories": [double.urls.repository(r, full=True) for r in page]}
    return JSONResponse(body, headers=headers)


async def list_pulls(request: Request) -> Response:
    double = api.double_of(request)
    state = request.query_params.get("state", "open")
    with double.state.lock:
        repo = api.require_repo(request)
        pulls = sorted((p for p in repo.pulls.values() if state == "all" or p.state == state),
                       key=lambda p: p.number, reverse=True)
        page, headers = api.paginate(request, pulls)
        body = [double.urls.pull_request(repo, pr, (0, 0, 0)) for pr in page]
    return JSONResponse(body, headers=headers)


async def list_hook_deliveries(request: Request) -> Response:
    """Newest first, cursor-paginated (`cursor` = the last id of the previous page), `status` filter."""
    api.require_app(request)
    double = api.double_of(request)
    query = request.query_params
    try:
        per_page = min(max(int(query.get("per_page", 30)), 1), 100)
        cursor = int(query["cursor"]) if query.get("cursor") else None
    except ValueError:
        raise api.ApiError(422, "Invalid request.\n\nper_page and cursor must be integers.") from None
    wanted = query.get("status")
    items = [d for d in double.hooks.newest_first()
             if (cursor is None or d.id < cursor)
             and (wanted is None or (wanted == "success") == (200 <= d.status_code < 300))]
    page = items[:per_page]
    headers = {}
    if len(items) > per_page:
        params = {"per_page": per_page, "cursor": page[-1].id, **({"status": wanted} if wanted else {})}
        headers["link"] = f'<{double.base_url}{request.url.path}?{urlencode(params)}>; rel="next"'
    return JSONResponse([d.item() for d in page], headers=headers)


async def redeliver(request: Request) -> Response:
    api.require_app(request)
    double = api.double_of(request)
    delivery = double.hooks.get(request.path_params["delivery_id"])
    if delivery is None:
        raise api.ApiError(404, "Not Found")
    double.hooks.redeliver(delivery)
    return JSONResponse({}, 202)


ROUTES = [
    Route("/app/installations", list_installations, methods=["GET"]),
    Route("/installation/repositories", list_installation_repos, methods=["GET"]),
    Route("/repos/{owner}/{repo}/pulls", list_pulls, methods=["GET"]),
    Route("/app/hook/deliveries", list_hook_deliveries, methods=["GET"]),
    Route("/app/hook/deliveries/{delivery_id:int}/attempts", redeliver, methods=["POST"]),
]
