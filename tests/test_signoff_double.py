"""The GitHub double's conversation endpoints (tests/github_double/routes_social.py) answer in shapes
githubkit's own models accept, with GitHub's rules (who authors what, what can be dismissed)."""

from __future__ import annotations

import pytest
from githubkit.exception import RequestFailed

from tests.github_double.double import GitHubDouble
from tests.github_double.social import social_of
from tests.github_double.testing import installation_client, sample_pr


async def test_conversation_endpoints_parse_with_githubkit_models(github_double: GitHubDouble) -> None:
    d = github_double
    inst_id, pr = sample_pr(d)
    s = social_of(d)
    s.set_permission("octo/repo", "alice", "maintain")
    s.add_team_member("octo", "ml-safety", "bob")
    user_comment = s.add_comment("octo/repo", pr.number, "alice", "hello")
    async with installation_client(d, inst_id) as gh:
        rest = gh.rest
        made = (
            await rest.issues.async_create_comment("octo", "repo", pr.number, data={"body": "hi"})
        ).parsed_data
        assert made.user is not None and made.user.type == "Bot" and made.performed_via_github_app is not None
        assert made.performed_via_github_app.id == d.app_id
        edited = await rest.issues.async_update_comment("octo", "repo", made.id, data={"body": "edited"})
        assert edited.parsed_data.body == "edited"
        with pytest.raises(RequestFailed) as refused:  # an App cannot edit a user's comment
            await rest.issues.async_update_comment("octo", "repo", user_comment["id"], data={"body": "x"})
        assert refused.value.response.status_code == 403
        listed = (await rest.issues.async_list_comments("octo", "repo", pr.number)).parsed_data
        assert [c.body for c in listed] == ["hello", "edited"]
        everywhere = (await rest.issues.async_list_comments_for_repo("octo", "repo")).parsed_data
        assert len(everywhere) == 2
        reaction = await rest.reactions.async_create_for_issue_comment(
            "octo", "repo", user_comment["id"], data={"content": "eyes"}
        )
        assert reaction.parsed_data.content == "eyes" and reaction.status_code == 201
        review = (
            await rest.pulls.async_create_review(
                "octo",
                "repo",
                pr.number,
                data={"event": "REQUEST_CHANGES", "body": "needs sign-off", "commit_id": pr.head_sha},
            )
        ).parsed_data
        assert review.state == "CHANGES_REQUESTED"
        dismissed = await rest.pulls.async_dismiss_review(
            "octo", "repo", pr.number, review.id, data={"message": "stale", "event": "DISMISS"}
        )
        assert dismissed.parsed_data.state == "DISMISSED"
        comment_review = (
            await rest.pulls.async_create_review(
                "octo", "repo", pr.number, data={"event": "COMMENT", "body": "fyi"}
            )
        ).parsed_data
        with pytest.raises(RequestFailed) as not_dismissable:
            await rest.pulls.async_dismiss_review(
                "octo", "repo", pr.number, comment_review.id, data={"message": "x", "event": "DISMISS"}
            )
        assert not_dismissable.value.response.status_code == 422
        reviews = (await rest.pulls.async_list_reviews("octo", "repo", pr.number)).parsed_data
        assert [r.state for r in reviews] == ["DISMISSED", "COMMENTED"]
        requested = await rest.pulls.async_request_reviewers(
            "octo", "repo", pr.number, data={"reviewers": ["alice"], "team_reviewers": ["ml-safety"]}
        )
        assert [u.login for u in requested.parsed_data.requested_reviewers or []] == ["alice"]
        perm = (await rest.repos.async_get_collaborator_permission_level("octo", "repo", "alice")).parsed_data
        assert (perm.permission, perm.role_name) == ("write", "maintain")
        member = (
            await rest.teams.async_get_membership_for_user_in_org("octo", "ml-safety", "bob")
        ).parsed_data
        assert member.state == "active"
        with pytest.raises(RequestFailed):
            await rest.teams.async_get_membership_for_user_in_org("octo", "ml-safety", "alice")
        new_head = d.push("octo/repo", pr.number, {"b.txt": b"b\n"})
        cmp = (
            await rest.repos.async_compare_commits("octo", "repo", f"{pr.base_sha}...{new_head}")
        ).parsed_data
        assert cmp.ahead_by == 2 and {f.filename for f in cmp.files or []} == {"app.py", "b.txt"}
