"""Who someone is on a repository, asked LIVE from GitHub (never from a payload's `author_association`,
which is stale the moment a role changes and says nothing about teams)."""

from __future__ import annotations

from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed


async def repo_role(gh: GitHub[Any], owner: str, repo: str, login: str) -> str:
    """The user's `role_name` on the repository (admin/maintain/write/triage/read), "none" if not one."""
    try:
        resp = await gh.rest.repos.async_get_collaborator_permission_level(owner, repo, login)
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return "none"
        raise
    data = resp.parsed_data
    return str(data.role_name or data.permission or "none")


async def in_team(gh: GitHub[Any], org: str, team: str, login: str) -> bool:
    """An active member of `@org/team` (needs the `members: read` organisation permission)."""
    try:
        resp = await gh.rest.teams.async_get_membership_for_user_in_org(org, team, login)
    except RequestFailed as exc:
        if exc.response.status_code == 404:
            return False
        raise
    return str(resp.parsed_data.state) == "active"
