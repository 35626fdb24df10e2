"""The double's people and conversation: issue comments, reactions, PR reviews, requested reviewers,
collaborator permissions and team memberships, as GitHub's REST API gives them.

Kept beside the core state (`state.py`) in an object of its own, created on first use (`social_of(double)`),
so the double's core is unchanged. Tests set it up in-process:

    s = social_of(d)
    s.set_permission("octo/repo", "alice", "maintain")        # role_name: admin/maintain/write/triage/read
    s.add_team_member("octo", "ml-safety", "bob")
    c = s.add_comment("octo/repo", 1, "alice", "/prguard signoff looks fine")   # -> the comment's dict

Anything written with the App's installation token is authored by `<slug>[bot]` (type `Bot`) with
`performed_via_github_app` set to the App, as on GitHub.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.github_double.shapes import timestamp

if TYPE_CHECKING:
    from tests.github_double.double import GitHubDouble

#: role_name -> the legacy `permission` value GitHub returns beside it
LEGACY = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


@dataclass
class Comment:
    id: int
    repo: str
    number: int
    user: str
    user_type: str
    body: str
    by_app: bool
    created_at: str
    updated_at: str


@dataclass
class Review:
    id: int
    repo: str
    number: int
    user: str
    user_type: str
    body: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
    commit_id: str
    by_app: bool
    submitted_at: str
    dismissal_message: str = ""


@dataclass
class Social:
    comments: dict[int, Comment] = field(default_factory=dict)
    reviews: dict[int, Review] = field(default_factory=dict)
    #: (comment id) -> [(user, content)]
    reactions: dict[int, list[tuple[str, str, int]]] = field(default_factory=dict)
    #: (repo, number) -> {"users": [...], "teams": [...]}
    requested: dict[tuple[str, int], dict[str, list[str]]] = field(default_factory=dict)
    permissions: dict[tuple[str, str], str] = field(default_factory=dict)
    teams: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    user_types: dict[str, str] = field(default_factory=dict)
    double: Any = None

    # --- set-up (tests) -------------------------------------------------------------------------------
    def set_permission(self, repo: str, user: str, role: str) -> None:
        with self.double.state.lock:
            self.permissions[(repo, user.lower())] = role

    def add_team_member(self, org: str, team: str, user: str) -> None:
        with self.double.state.lock:
            self.teams.setdefault((org.lower(), team.lower()), set()).add(user.lower())

    def add_comment(
        self, repo: str, number: int, user: str, body: str, *, user_type: str = "User"
    ) -> dict[str, Any]:
        with self.double.state.lock:
            comment = self._comment(repo, number, user, user_type, body, by_app=False)
            return self.comment_shape(comment)

    def add_review(
        self, repo: str, number: int, user: str, body: str, state: str = "COMMENTED"
    ) -> dict[str, Any]:
        with self.double.state.lock:
            head = self.double.state.repo(repo).pulls[number].head_sha
            review = self._review(repo, number, user, "User", body, state, head, by_app=False)
            return self.review_shape(review)

    # --- reading (tests) ------------------------------------------------------------------------------
    def comments_on(self, repo: str, number: int) -> list[Comment]:
        with self.double.state.lock:
            return sorted(
                (c for c in self.comments.values() if c.repo == repo and c.number == number),
                key=lambda c: c.id,
            )

    def app_comments(self, repo: str, number: int) -> list[Comment]:
        return [c for c in self.comments_on(repo, number) if c.by_app]

    def reviews_on(self, repo: str, number: int) -> list[Review]:
        with self.double.state.lock:
            return sorted(
                (r for r in self.reviews.values() if r.repo == repo and r.number == number),
                key=lambda r: r.id,
            )

    def reaction_contents(self, comment_id: int) -> list[str]:
        with self.double.state.lock:
            return [content for _, content, _ in self.reactions.get(comment_id, [])]

    # --- writing (routes) -----------------------------------------------------------------------------
    def _comment(
        self, repo: str, number: int, user: str, user_type: str, body: str, *, by_app: bool
    ) -> Comment:
        now = timestamp()
        comment = Comment(self.double.state.next_id(), repo, number, user, user_type, body, by_app, now, now)
        self.comments[comment.id] = comment
        return comment

    def _review(
        self,
        repo: str,
        number: int,
        user: str,
        user_type: str,
        body: str,
        state: str,
        commit_id: str,
        *,
        by_app: bool,
    ) -> Review:
        review = Review(
            self.double.state.next_id(),
            repo,
            number,
            user,
            user_type,
            body,
            state,
            commit_id,
            by_app,
            timestamp(),
        )
        self.reviews[review.id] = review
        return review

    # --- shapes ---------------------------------------------------------------------------------------
    def user(self, login: str, kind: str = "User") -> dict[str, Any]:
        return self.double.urls.user(login, zlib.crc32(login.encode()) % 10**8, kind)

    def _app(self) -> dict[str, Any]:
        return self.double.urls.app(self.double.app_id, self.double.app_slug)

    def comment_shape(self, c: Comment) -> dict[str, Any]:
        api = f"{self.double.urls.api}/repos/{c.repo}"
        web = f"{self.double.urls.web}/{c.repo}"
        return {
            "id": c.id,
            "node_id": f"IC_{c.id}",
            "url": f"{api}/issues/comments/{c.id}",
            "html_url": f"{web}/pull/{c.number}#issuecomment-{c.id}",
            "body": c.body,
            "user": self.user(c.user, c.user_type),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "issue_url": f"{api}/issues/{c.number}",
            "author_association": "NONE" if c.by_app else "MEMBER",
            "performed_via_github_app": self._app() if c.by_app else None,
            "reactions": self._rollup(c.id, f"{api}/issues/comments/{c.id}/reactions"),
        }

    def _rollup(self, comment_id: int, url: str) -> dict[str, Any]:
        names = {"+1": 0, "-1": 0, "laugh": 0, "confused": 0, "heart": 0, "hooray": 0, "eyes": 0, "rocket": 0}
        for _, content, _ in self.reactions.get(comment_id, []):
            names[content] += 1
        return {"url": url, "total_count": sum(names.values()), **names}

    def review_shape(self, r: Review) -> dict[str, Any]:
        api = f"{self.double.urls.api}/repos/{r.repo}/pulls/{r.number}"
        html = f"{self.double.urls.web}/{r.repo}/pull/{r.number}"
        return {
            "id": r.id,
            "node_id": f"PRR_{r.id}",
            "user": self.user(r.user, r.user_type),
            "body": r.body,
            "state": r.state,
            "html_url": f"{html}#pullrequestreview-{r.id}",
            "pull_request_url": api,
            "_links": {"html": {"href": f"{html}#pullrequestreview-{r.id}"}, "pull_request": {"href": api}},
            "submitted_at": r.submitted_at,
            "commit_id": r.commit_id,
            "author_association": "NONE" if r.by_app else "MEMBER",
        }

    def reaction_shape(self, rid: int, user: str, content: str, kind: str) -> dict[str, Any]:
        return {
            "id": rid,
            "node_id": f"REA_{rid}",
            "user": self.user(user, kind),
            "content": content,
            "created_at": timestamp(),
        }


def social_of(double: GitHubDouble) -> Social:
    """The double's `Social`, created on first use."""
    with double.state.lock:
        found = getattr(double, "_social", None)
        if found is None:
            found = Social(double=double)
            double._social = found  # type: ignore[attr-defined]
        return found
