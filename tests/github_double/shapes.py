"""JSON objects in GitHub's REST shapes, complete enough for githubkit's models to validate.

`Urls` knows the API base (`http://host:port/api/v3`) and the web base (`http://host:port`), as on GitHub
Enterprise Server, so every `url`/`html_url` points back at the double.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from tests.github_double.state import CheckRun, Installation, PullRequest, Repo, git_blob_sha

PERMISSIONS = {"checks": "write", "contents": "read", "metadata": "read", "pull_requests": "write"}
EVENTS = ["check_run", "check_suite", "pull_request"]
REPO_URL_TEMPLATES = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def timestamp(epoch: float | None = None) -> str:
    """GitHub's timestamp format, e.g. `2026-01-01T00:00:00Z`."""
    moment = datetime.now(UTC) if epoch is None else datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def b64_lines(data: bytes) -> str:
    """Base64 wrapped at 60 characters per line, as GitHub sends file contents."""
    text = base64.b64encode(data).decode()
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))


@dataclass
class Urls:
    api: str  # http://127.0.0.1:PORT/api/v3
    web: str  # http://127.0.0.1:PORT

    def user(self, login: str, user_id: int, kind: str = "User") -> dict[str, Any]:
        api = f"{self.api}/users/{login}"
        return {
            "login": login,
            "id": user_id,
            "node_id": f"U_{user_id}",
            "avatar_url": f"{self.web}/{login}.png",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.web}/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": kind,
            "user_view_type": "public",
            "site_admin": False,
        }

    def repo_api(self, repo: Repo) -> str:
        return f"{self.api}/repos/{repo.full_name}"

    def repository(self, repo: Repo, full: bool = False) -> dict[str, Any]:
        api = self.repo_api(repo)
        host = self.web.split("://", 1)[1]
        out: dict[str, Any] = {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.user(repo.owner, repo.owner_id, "Organization"),
            "private": repo.private,
            "html_url": f"{self.web}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": api,
            **{key: api + suffix for key, suffix in REPO_URL_TEMPLATES.items()},
            "git_url": f"git://{host}/{repo.full_name}.git",
            "ssh_url": f"git@{host}:{repo.full_name}.git",
            "clone_url": f"{self.web}/{repo.full_name}.git",
            "svn_url": f"{self.web}/{repo.full_name}",
            "mirror_url": None,
            "homepage": None,
            "language": "Python",
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 1,
            "license": None,
            "default_branch": repo.default_branch,
            "open_issues_count": 0,
            "open_issues": 0,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": True,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo.private else "public",
            "pushed_at": timestamp(repo.created_at),
            "created_at": timestamp(repo.created_at),
            "updated_at": timestamp(repo.created_at),
            "allow_forking": True,
            "web_commit_signoff_required": False,
        }
        if full:
            out.update(subscribers_count=0, network_count=0, temp_clone_token=None)
        return out

    def app(self, app_id: int, slug: str, owner: str = "prguard-dev") -> dict[str, Any]:
        return {
            "id": app_id,
            "slug": slug,
            "node_id": f"A_{app_id}",
            "client_id": f"Iv1.{app_id:016x}",
            "owner": self.user(owner, 1, "Organization"),
            "name": slug,
            "description": "prguard under test",
            "external_url": "https://example.invalid/prguard",
            "html_url": f"{self.web}/apps/{slug}",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "permissions": dict(PERMISSIONS),
            "events": list(EVENTS),
            "installations_count": 1,
        }

    def installation(self, inst: Installation, app_id: int, slug: str) -> dict[str, Any]:
        return {
            "id": inst.id,
            "account": self.user(inst.account, inst.account_id, "Organization"),
            "repository_selection": "selected",
            "access_tokens_url": f"{self.api}/app/installations/{inst.id}/access_tokens",
            "repositories_url": f"{self.api}/installation/repositories",
            "html_url": f"{self.web}/organizations/{inst.account}/settings/installations/{inst.id}",
            "app_id": app_id,
            "app_slug": slug,
            "target_id": inst.account_id,
            "target_type": "Organization",
            "permissions": dict(inst.permissions or PERMISSIONS),
            "events": list(EVENTS),
            "created_at": timestamp(inst.created_at),
            "updated_at": timestamp(inst.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": None,
        }

    def pull_request(
        self, repo: Repo, pr: PullRequest, counts: tuple[int, int, int], commits: int = 1
    ) -> dict[str, Any]:
        """A full pull request; `counts` is (additions, deletions, changed_files), `commits` its commits."""
        api = f"{self.repo_api(repo)}/pulls/{pr.number}"
        issue = f"{self.repo_api(repo)}/issues/{pr.number}"
        html = f"{self.web}/{repo.full_name}/pull/{pr.number}"
        user = self.user(pr.user, zlib.crc32(pr.user.encode()) % 10**8)
        owner = self.user(repo.owner, repo.owner_id, "Organization")
        links = {
            "self": api,
            "html": html,
            "issue": issue,
            "comments": f"{issue}/comments",
            "review_comments": f"{api}/comments",
            "review_comment": f"{self.repo_api(repo)}/pulls/comments{{/number}}",
            "commits": f"{api}/commits",
            "statuses": f"{self.repo_api(repo)}/statuses/{pr.head_sha}",
        }
        return {
            "url": api,
            "id": pr.id,
            "node_id": f"PR_{pr.id}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue,
            "commits_url": links["commits"],
            "review_comments_url": links["review_comments"],
            "review_comment_url": links["review_comment"],
            "comments_url": links["comments"],
            "statuses_url": links["statuses"],
            "number": pr.number,
            "state": pr.state,
            "locked": False,
            "title": pr.title,
            "user": user,
            "body": pr.body,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": timestamp(pr.created_at),
            "updated_at": timestamp(pr.created_at),
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "draft": pr.draft,
            "head": {
                "label": f"{repo.owner}:{pr.head_ref}",
                "ref": pr.head_ref,
                "sha": pr.head_sha,
                "user": owner,
                "repo": self.repository(repo),
            },
            "base": {
                "label": f"{repo.owner}:{pr.base_ref}",
                "ref": pr.base_ref,
                "sha": pr.base_sha,
                "user": owner,
                "repo": self.repository(repo),
            },
            "_links": {key: {"href": href} for key, href in links.items()},
            "author_association": "CONTRIBUTOR",
            "auto_merge": None,
            "merged": False,
            "mergeable": True,
            "rebaseable": True,
            "mergeable_state": "clean",
            "merged_by": None,
            "comments": 0,
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": commits,
            "additions": counts[0],
            "deletions": counts[1],
            "changed_files": counts[2],
        }

    def pull_request_minimal(self, repo: Repo, pr: PullRequest) -> dict[str, Any]:
        side = {"id": repo.id, "url": self.repo_api(repo), "name": repo.name}
        return {
            "id": pr.id,
            "number": pr.number,
            "url": f"{self.repo_api(repo)}/pulls/{pr.number}",
            "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": side},
            "base": {"ref": pr.base_ref, "sha": pr.base_sha, "repo": side},
        }

    def content_item(self, repo: Repo, path: str, ref: str, data: bytes | None) -> dict[str, Any]:
        """A directory listing entry; `data` None means a directory."""
        api = f"{self.repo_api(repo)}/contents/{quote(path)}?ref={ref}"
        kind = "dir" if data is None else "file"
        sha = git_blob_sha(data) if data is not None else git_blob_sha(path.encode())
        git = f"{self.repo_api(repo)}/git/{'trees' if data is None else 'blobs'}/{sha}"
        html = f"{self.web}/{repo.full_name}/{'tree' if data is None else 'blob'}/{ref}/{quote(path)}"
        return {
            "type": kind,
            "size": 0 if data is None else len(data),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": api,
            "git_url": git,
            "html_url": html,
            "download_url": None if data is None else f"{self.web}/{repo.full_name}/raw/{ref}/{quote(path)}",
            "_links": {"self": api, "git": git, "html": html},
        }

    def content_file(
        self, repo: Repo, path: str, ref: str, data: bytes, max_json_bytes: int
    ) -> dict[str, Any]:
        out = self.content_item(repo, path, ref, data)
        if len(data) <= max_json_bytes:
            out.update(content=b64_lines(data), encoding="base64")
        else:
            out.update(content="", encoding="none")
        return out

    def content_symlink(self, repo: Repo, path: str, ref: str, target: bytes) -> dict[str, Any]:
        """A symlink whose target is not a regular file of the repository (GitHub describes the link)."""
        out = self.content_item(repo, path, ref, target)
        out.update(type="symlink", target=target.decode("utf-8", "replace"))
        return out

    def content_submodule(self, repo: Repo, path: str, ref: str, commit: bytes) -> dict[str, Any]:
        out = self.content_item(repo, path, ref, commit)
        sha = commit.decode()
        git = f"https://github.com/{repo.owner}/{path.rsplit('/', 1)[-1]}/git/trees/{sha}"
        out.update(type="submodule", size=0, sha=sha, git_url=git, download_url=None,
                   submodule_git_url=f"https://github.com/{repo.owner}/{path.rsplit('/', 1)[-1]}.git")
        out["_links"] = {**out["_links"], "git": git}
        return out

    def blob(self, repo: Repo, sha: str, data: bytes) -> dict[str, Any]:
        return {
            "sha": sha,
            "node_id": f"B_{sha[:12]}",
            "size": len(data),
            "url": f"{self.repo_api(repo)}/git/blobs/{sha}",
            "content": b64_lines(data),
            "encoding": "base64",
        }

    def check_run(
        self, repo: Repo, run: CheckRun, app: dict[str, Any], prs: list[dict[str, Any]]
    ) -> dict[str, Any]:
        api = f"{self.repo_api(repo)}/check-runs/{run.id}"
        return {
            "id": run.id,
            "head_sha": run.head_sha,
            "node_id": f"CR_{run.id}",
            "external_id": run.external_id,
            "url": api,
            "html_url": f"{self.web}/{repo.full_name}/runs/{run.id}",
            "details_url": run.details_url,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": run.started_at,
            "completed_at": run.completed_at,
            "name": run.name,
            "output": {
                "title": run.title,
                "summary": run.summary,
                "text": run.text,
                "annotations_count": len(run.annotations),
                "annotations_url": f"{api}/annotations",
            },
            "check_suite": {"id": run.check_suite_id},
            "app": app,
            "pull_requests": prs,
        }

    def annotation(self, repo: Repo, run: CheckRun, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "path": item["path"],
            "start_line": item["start_line"],
            "end_line": item["end_line"],
            "start_column": item.get("start_column"),
            "end_column": item.get("end_column"),
            "annotation_level": item["annotation_level"],
            "title": item.get("title"),
            "message": item["message"],
            "raw_details": item.get("raw_details"),
            "blob_href": f"{self.web}/{repo.full_name}/blob/{run.head_sha}/{quote(item['path'])}",
        }
