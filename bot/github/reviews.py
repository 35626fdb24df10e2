"""prguard's PR review for the sign-off: one live review at a time, never a pile.

While the sign-off is required prguard leaves a `REQUEST_CHANGES` (or, by policy, `COMMENT`) review carrying
the evidence; when it is granted that review is dismissed and replaced by an `APPROVE` naming the signer, the
head and the reason; when the approval goes stale it is dismissed. (App reviews never count toward GitHub's
required approvals: the check run is the gate; the review puts the decision in the PR's timeline.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

REVIEW_MARKER = "<!-- prguard:review ai-safety-sign-off -->"


@dataclass(frozen=True)
class AppReview:
    id: int
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
    commit_id: str
    body: str


async def app_reviews(gh: GitHub[Any], owner: str, repo: str, number: int, bot_login: str) -> list[AppReview]:
    out: list[AppReview] = []
    async for r in gh.rest.paginate(
        gh.rest.pulls.async_list_reviews, owner=owner, repo=repo, pull_number=number, per_page=100
    ):
        if r.user is not None and r.user.login == bot_login and (r.body or "").startswith(REVIEW_MARKER):
            out.append(AppReview(int(r.id), str(r.state), str(r.commit_id or ""), r.body or ""))
    return out


async def sync_review(
    gh: GitHub[Any],
    owner: str,
    repo: str,
    number: int,
    *,
    bot_login: str,
    head: str,
    event: str | None,
    body: str,
) -> None:
    """Make prguard's live review on the PR be `event` (APPROVE / REQUEST_CHANGES / COMMENT) on `head`, or
    none (`event=None`): dismiss every other live one first."""
    wanted_state = {
        "APPROVE": "APPROVED",
        "REQUEST_CHANGES": "CHANGES_REQUESTED",
        "COMMENT": "COMMENTED",
        None: None,
    }[event]
    live = [
        r
        for r in await app_reviews(gh, owner, repo, number, bot_login)
        if r.state in ("APPROVED", "CHANGES_REQUESTED")
    ]
    # an approval is for one head; a request for changes stays one review across pushes (no pile)
    keep = next((r for r in live if r.state == wanted_state and (r.commit_id == head or event != "APPROVE")),
                None)
    for review in live:
        if review is keep:
            continue
        message = (
            "Superseded: the AI safety sign-off was granted."
            if event == "APPROVE"
            else "Stale: the pull request changed since this review."
        )
        try:
            await gh.rest.pulls.async_dismiss_review(
                owner, repo, number, review.id, data={"message": message, "event": "DISMISS"}
            )
        except RequestFailed as exc:
            if exc.response.status_code != 422:  # already dismissed
                raise
    if event is None or keep is not None:
        return
    if event == "COMMENT":
        mine = await app_reviews(gh, owner, repo, number, bot_login)
        if any(r.state == "COMMENTED" and r.commit_id == head for r in mine):
            return
    await gh.rest.pulls.async_create_review(
        owner,
        repo,
        number,
        data={"commit_id": head, "event": event, "body": f"{REVIEW_MARKER}\n{body}"[:65000]},
    )


async def request_reviews(
    gh: GitHub[Any], owner: str, repo: str, number: int, *, users: list[str], teams: list[str]
) -> None:
    if users or teams:
        await gh.rest.pulls.async_request_reviewers(
            owner, repo, number, data={"reviewers": users, "team_reviewers": teams}
        )
