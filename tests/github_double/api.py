"""What every handler shares: GitHub's error shape, the two kinds of authentication, pagination."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.github_double.auth import DOCS, AuthError, bearer
from tests.github_double.state import Repo

if TYPE_CHECKING:
    from tests.github_double.double import GitHubDouble

PREFIX = "/api/v3"
#: REST API versions GitHub (and by default the double) knows; a request without the header gets the first.
API_VERSIONS = frozenset({"2022-11-28", "2026-03-10"})
DEFAULT_API_VERSION = "2022-11-28"


class ApiError(Exception):
    """An error answered in GitHub's shape: `{"message", "documentation_url", ...extra}`."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"message": message, "documentation_url": DOCS, **extra, "status": str(status)}, status
    )


def double_of(request: Request) -> GitHubDouble:
    return request.app.state.double


def require_app(request: Request) -> None:
    """App-JWT endpoints: 401 unless the JWT is the App's, well-formed and current."""
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise ApiError(401, "A JSON web token could not be decoded")
    try:
        double_of(request).identity.verify_jwt(token)
    except AuthError as exc:
        raise ApiError(401, str(exc)) from None


def require_repo(request: Request) -> Repo:
    """Installation-token endpoints: 401 for a bad or expired token, 404 for a repo the token cannot see."""
    double = double_of(request)
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise ApiError(401, "Requires authentication")
    try:
        installation_id = double.tokens.check(token).installation_id
    except AuthError as exc:
        raise ApiError(401, str(exc)) from None
    full_name = f"{request.path_params['owner']}/{request.path_params['repo']}"
    repo = double.state.repos.get(full_name)
    if repo is None or repo.installation_id != installation_id:
        raise ApiError(404, "Not Found")
    return repo


def paginate(
    request: Request, items: list[Any], default: int = 30, maximum: int = 100
) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` and GitHub's absolute `Link` header (rel next/last/first/prev)."""
    try:
        per_page = min(max(int(request.query_params.get("per_page", default)), 1), maximum)
        page = max(int(request.query_params.get("page", 1)), 1)
    except ValueError:
        raise ApiError(422, "Invalid request.\n\nper_page and page must be integers.") from None
    last = max((len(items) + per_page - 1) // per_page, 1)
    base = f"{double_of(request).base_url}{request.url.path}"
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "per_page")}

    def link(number: int, rel: str) -> str:
        return f'<{base}?{urlencode({**params, "per_page": per_page, "page": number})}>; rel="{rel}"'

    links = []
    if page > 1:
        links += [link(page - 1, "prev"), link(1, "first")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    headers = {"link": ", ".join(links)} if links else {}
    return items[(page - 1) * per_page : page * per_page], headers
