"""Handlers for issue comments, reactions, PR reviews (create, list, dismiss), requested reviewers,
collaborator permission and team membership (`social.py` holds their state).

Every write here is made with the App's installation token, so it is authored by `<slug>[bot]`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.github_double import api
from tests.github_double.social import LEGACY, social_of

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")
REVIEW_EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise api.ApiError(400, "Problems parsing JSON") from None
    if not isinstance(data, dict):
        raise api.ApiError(400, "Problems parsing JSON")
    return data


def _bot(request: Request) -> str:
    return f"{api.double_of(request).app_slug}[bot]"


def _pull_number(request: Request) -> tuple[str, int]:
    repo = api.require_repo(request)
    number = int(request.path_params["number"])
    if number not in repo.pulls:
        raise api.ApiError(404, "Not Found")
    return repo.full_name, number


async def list_comments(request: Request) -> Response:
    double = api.double_of(request)
    s = social_of(double)
    with double.state.lock:
        name, number = _pull_number(request)
        page, headers = api.paginate(request, s.comments_on(name, number))
        return JSONResponse([s.comment_shape(c) for c in page], headers=headers)


async def list_repo_comments(request: Request) -> Response:
    """`GET /repos/{o}/{r}/issues/comments?since=`: every PR's comments, oldest first (updated ≥ since)."""
    double = api.double_of(request)
    s = social_of(double)
    since = request.query_params.get("since", "")
    with double.state.lock:
        repo = api.require_repo(request)
        found = sorted(
            (c for c in s.comments.values() if c.repo == repo.full_name and c.updated_at >= since),
            key=lambda c: c.id,
        )
        page, headers = api.paginate(request, found)
        return JSONResponse([s.comment_shape(c) for c in page], headers=headers)


async def create_comment(request: Request) -> Response:
    data = await _body(request)
    double = api.double_of(request)
    s = social_of(double)
    if not isinstance(data.get("body"), str) or not data["body"]:
        raise api.ApiError(
            422,
            "Validation Failed",
            errors=[{"resource": "IssueComment", "code": "missing_field", "field": "body"}],
        )
    if len(data["body"]) > 65536:
        raise api.ApiError(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "IssueComment",
                    "code": "custom",
                    "field": "body",
                    "message": "body is too long (maximum is 65536 characters)",
                }
            ],
        )
    with double.state.lock:
        name, number = _pull_number(request)
        comment = s._comment(name, number, _bot(request), "Bot", data["body"], by_app=True)
        return JSONResponse(s.comment_shape(comment), 201)


def _own_comment(request: Request) -> Any:
    double = api.double_of(request)
    repo = api.require_repo(request)
    comment = social_of(double).comments.get(int(request.path_params["comment_id"]))
    if comment is None or comment.repo != repo.full_name:
        raise api.ApiError(404, "Not Found")
    return comment


async def get_comment(request: Request) -> Response:
    double = api.double_of(request)
    with double.state.lock:
        return JSONResponse(social_of(double).comment_shape(_own_comment(request)))


async def update_comment(request: Request) -> Response:
    data = await _body(request)
    double = api.double_of(request)
    from tests.github_double.shapes import timestamp

    with double.state.lock:
        comment = _own_comment(request)
        if not comment.by_app:
            raise api.ApiError(403, "Resource not accessible by integration")
        comment.body = str(data.get("body") or comment.body)
        comment.updated_at = timestamp()
        return JSONResponse(social_of(double).comment_shape(comment))


async def create_reaction(request: Request) -> Response:
    data = await _body(request)
    content = data.get("content")
    if content not in REACTIONS:
        raise api.ApiError(
            422, "Validation Failed", errors=[{"resource": "Reaction", "code": "invalid", "field": "content"}]
        )
    double = api.double_of(request)
    s = social_of(double)
    with double.state.lock:
        comment = _own_comment(request)
        bot = _bot(request)
        for user, existing, rid in s.reactions.get(comment.id, []):
            if user == bot and existing == content:  # GitHub answers 200 with the existing reaction
                return JSONResponse(s.reaction_shape(rid, bot, content, "Bot"), 200)
        rid = double.state.next_id()
        s.reactions.setdefault(comment.id, []).append((bot, content, rid))
        return JSONResponse(s.reaction_shape(rid, bot, content, "Bot"), 201)


async def list_reviews(request: Request) -> Response:
    double = api.double_of(request)
    s = social_of(double)
    with double.state.lock:
        name, number = _pull_number(request)
        page, headers = api.paginate(request, s.reviews_on(name, number))
        return JSONResponse([s.review_shape(r) for r in page], headers=headers)


async def create_review(request: Request) -> Response:
    data = await _body(request)
    double = api.double_of(request)
    s = social_of(double)
    event = data.get("event")
    if event not in REVIEW_EVENTS:
        raise api.ApiError(
            422,
            "Unprocessable Entity",
            errors=[
                "Review event must be one of APPROVE, "
                "REQUEST_CHANGES, COMMENT (pending reviews "
                "are not modelled)"
            ],
        )
    body = str(data.get("body") or "")
    if event in ("REQUEST_CHANGES", "COMMENT") and not body:
        raise api.ApiError(
            422,
            "Unprocessable Entity",
            errors=[f"Review Can not {event.lower().replace('_', ' ')} without a body"],
        )
    with double.state.lock:
        name, number = _pull_number(request)
        pr = double.state.repo(name).pulls[number]
        commit = str(data.get("commit_id") or pr.head_sha)
        review = s._review(
            name, number, _bot(request), "Bot", body, REVIEW_EVENTS[event], commit, by_app=True
        )
        return JSONResponse(s.review_shape(review), 200)


async def dismiss_review(request: Request) -> Response:
    data = await _body(request)
    double = api.double_of(request)
    s = social_of(double)
    if not data.get("message"):
        raise api.ApiError(
            422,
            "Validation Failed",
            errors=[{"resource": "PullRequestReview", "code": "missing_field", "field": "message"}],
        )
    with double.state.lock:
        name, number = _pull_number(request)
        review = s.reviews.get(int(request.path_params["review_id"]))
        if review is None or review.repo != name or review.number != number:
            raise api.ApiError(404, "Not Found")
        if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
            raise api.ApiError(
                422, "Unprocessable Entity", errors=["Can not dismiss a commented pull request review"]
            )
        review.state = "DISMISSED"
        review.dismissal_message = str(data["message"])
        return JSONResponse(s.review_shape(review))


async def request_reviewers(request: Request) -> Response:
    from tests.github_double.diff import commit_diffs, file_entry

    data = await _body(request)
    double = api.double_of(request)
    s = social_of(double)
    with double.state.lock:
        name, number = _pull_number(request)
        repo = double.state.repo(name)
        pr = repo.pulls[number]
        users = [str(u) for u in data.get("reviewers") or []]
        if any(u.lower() == pr.user.lower() for u in users):
            raise api.ApiError(422, "Review cannot be requested from pull request author.")
        slot = s.requested.setdefault((name, number), {"users": [], "teams": []})
        slot["users"] += [u for u in users if u not in slot["users"]]
        slot["teams"] += [t for t in (data.get("team_reviewers") or []) if t not in slot["teams"]]
        entries = [
            file_entry(d, "", "", pr.head_sha, double.max_patch_bytes)
            for d in commit_diffs(repo, pr.base_sha, pr.head_sha, pr.renames)
        ]
        counts = (sum(e["additions"] for e in entries), sum(e["deletions"] for e in entries), len(entries))
        shape = double.urls.pull_request(repo, pr, counts)
        shape["requested_reviewers"] = [s.user(u) for u in slot["users"]]
        return JSONResponse(shape, 201)


async def collaborator_permission(request: Request) -> Response:
    double = api.double_of(request)
    s = social_of(double)
    with double.state.lock:
        repo = api.require_repo(request)
        user = request.path_params["username"]
        role = s.permissions.get((repo.full_name, user.lower()))
        if role is None:
            raise api.ApiError(404, f"{user} is not a user")  # GitHub: 404 for unknown users
        return JSONResponse(
            {"permission": LEGACY[role], "role_name": role, "user": {**s.user(user), "role_name": role}}
        )


async def team_membership(request: Request) -> Response:
    double = api.double_of(request)
    s = social_of(double)
    org, team, user = (request.path_params[k] for k in ("org", "team_slug", "username"))
    with double.state.lock:
        _require_token(request)
        members = s.teams.get((org.lower(), team.lower()), set())
        if user.lower() not in members:
            raise api.ApiError(404, "Not Found")
        return JSONResponse(
            {
                "url": f"{double.urls.api}/orgs/{org}/teams/{team}/memberships/{user}",
                "role": "member",
                "state": "active",
            }
        )


def _require_token(request: Request) -> None:
    from tests.github_double.auth import AuthError, bearer

    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise api.ApiError(401, "Requires authentication")
    try:
        api.double_of(request).tokens.check(token)
    except AuthError as exc:
        raise api.ApiError(401, str(exc)) from None


async def compare_commits(request: Request) -> Response:
    """`GET /repos/{o}/{r}/compare/{base}...{head}`: the commits and files between two commits."""
    from tests.github_double.diff import commit_diffs, file_entry
    from tests.github_double.routes_commits import commit_shape

    double = api.double_of(request)
    with double.state.lock:
        repo = api.require_repo(request)
        base_ref, sep, head_ref = request.path_params["basehead"].partition("...")
        base, head = repo.resolve(base_ref), repo.resolve(head_ref) if sep else None
        if base is None or head is None:
            raise api.ApiError(404, "Not Found")
        shas = repo.commits_between(base, head)
        behind = len(repo.commits_between(head, base))
        # GitHub's three-dot compare: the files from the merge-base (the newest common ancestor) to head
        ancestors = set(repo.ancestry(base))
        merge_base = next((sha for sha in repo.ancestry(head) if sha in ancestors), base)
        renames = {new: old for pr in repo.pulls.values() for new, old in pr.renames.items()}
        web = f"{double.urls.web}/{repo.full_name}"
        files = [
            file_entry(d, web, double.urls.repo_api(repo), head, double.max_patch_bytes)
            for d in commit_diffs(repo, merge_base, head, renames)
        ][:300]
        api_base = double.urls.repo_api(repo)
        status = "identical" if base == head else "ahead" if not behind else "diverged" if shas else "behind"
        return JSONResponse(
            {
                "url": f"{api_base}/compare/{base}...{head}",
                "html_url": f"{web}/compare/{base}...{head}",
                "permalink_url": f"{web}/compare/{base}...{head}",
                "diff_url": f"{web}/compare/{base}...{head}.diff",
                "patch_url": f"{web}/compare/{base}...{head}.patch",
                "base_commit": commit_shape(double.urls, repo, base),
                "merge_base_commit": commit_shape(double.urls, repo, merge_base),
                "status": status,
                "ahead_by": len(shas),
                "behind_by": behind,
                "total_commits": len(shas),
                "commits": [commit_shape(double.urls, repo, sha) for sha in shas[:250]],
                "files": files,
            }
        )


ROUTES = [
    Route("/repos/{owner}/{repo}/compare/{basehead:path}", compare_commits, methods=["GET"]),
    Route("/repos/{owner}/{repo}/issues/{number:int}/comments", list_comments, methods=["GET"]),
    Route("/repos/{owner}/{repo}/issues/{number:int}/comments", create_comment, methods=["POST"]),
    Route("/repos/{owner}/{repo}/issues/comments", list_repo_comments, methods=["GET"]),
    Route("/repos/{owner}/{repo}/issues/comments/{comment_id:int}", get_comment, methods=["GET"]),
    Route("/repos/{owner}/{repo}/issues/comments/{comment_id:int}", update_comment, methods=["PATCH"]),
    Route(
        "/repos/{owner}/{repo}/issues/comments/{comment_id:int}/reactions", create_reaction, methods=["POST"]
    ),
    Route("/repos/{owner}/{repo}/pulls/{number:int}/reviews", list_reviews, methods=["GET"]),
    Route("/repos/{owner}/{repo}/pulls/{number:int}/reviews", create_review, methods=["POST"]),
    Route(
        "/repos/{owner}/{repo}/pulls/{number:int}/reviews/{review_id:int}/dismissals",
        dismiss_review,
        methods=["PUT"],
    ),
    Route(
        "/repos/{owner}/{repo}/pulls/{number:int}/requested_reviewers", request_reviewers, methods=["POST"]
    ),
    Route(
        "/repos/{owner}/{repo}/collaborators/{username}/permission", collaborator_permission, methods=["GET"]
    ),
    Route("/orgs/{org}/teams/{team_slug}/memberships/{username}", team_membership, methods=["GET"]),
]
