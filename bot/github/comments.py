"""PR conversation writes and reads: prguard's sticky comment, its replies and records, reactions.

The sticky comment is found by a hidden marker among comments the App itself wrote (never a user's comment
that copies the marker) and edited in place, so a PR has one prguard status comment however many pushes it
sees. Records (`checks.signoff.records`) are read back only from the App's own comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from githubkit import GitHub

STICKY_MARKER = "<!-- prguard:sticky ai-safety-sign-off -->"


@dataclass(frozen=True)
class PostedComment:
    id: int
    body: str
    created_at: str
    author: str


def by_app(comment: Any, app_id: int) -> bool:
    """Written by this App: `performed_via_github_app` names it and the author is a bot."""
    app = getattr(comment, "performed_via_github_app", None)
    user = getattr(comment, "user", None)
    return bool(app is not None and int(app.id) == int(app_id) and user is not None and user.type == "Bot")


async def app_comments(
    gh: GitHub[Any], owner: str, repo: str, number: int, app_id: int
) -> list[PostedComment]:
    """The App's own comments on the PR, oldest first."""
    out: list[PostedComment] = []
    async for c in gh.rest.paginate(
        gh.rest.issues.async_list_comments, owner=owner, repo=repo, issue_number=number, per_page=100
    ):
        if by_app(c, app_id):
            out.append(
                PostedComment(int(c.id), c.body or "", str(c.created_at), c.user.login if c.user else "")
            )
    return out


async def upsert_sticky(
    gh: GitHub[Any], owner: str, repo: str, number: int, body: str, mine: list[PostedComment]
) -> int:
    """Edit the App's sticky comment in place (when `body` differs), or create it; returns its id."""
    text = f"{STICKY_MARKER}\n{body}"
    sticky = next((c for c in mine if c.body.startswith(STICKY_MARKER)), None)
    if sticky is None:
        resp = await gh.rest.issues.async_create_comment(owner, repo, number, data={"body": text})
        return int(resp.parsed_data.id)
    if sticky.body != text:
        await gh.rest.issues.async_update_comment(owner, repo, sticky.id, data={"body": text})
    return sticky.id


async def reply(gh: GitHub[Any], owner: str, repo: str, number: int, body: str) -> int:
    resp = await gh.rest.issues.async_create_comment(owner, repo, number, data={"body": body[:65000]})
    return int(resp.parsed_data.id)


async def react(gh: GitHub[Any], owner: str, repo: str, comment_id: int, content: str) -> None:
    """A reaction on a PR comment (`eyes` on receipt, `+1`/`-1`/`confused` as the result)."""
    await gh.rest.reactions.async_create_for_issue_comment(owner, repo, comment_id, data={"content": content})
