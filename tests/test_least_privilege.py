"""Issue 11 part 2, least privilege: every GitHub endpoint prguard's code calls, the App permission each needs
(from GitHub's REST documentation, written here by hand: the oracle is not prguard's code), and `app.yml`
asking for exactly those, no more.

The endpoints are found in the source, not listed by hand: every `rest.<namespace>.async_<operation>`
githubkit call, plus the raw requests prguard makes outside githubkit's typed methods. A new call fails this
test until its permission is written down below, so a new feature cannot quietly need (or be given) more.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_YML = ROOT / "app.yml"

#: permission each githubkit operation needs (GitHub App fine-grained permissions); None = authenticated as
#: the App itself with its JWT, or an installation's own metadata: no permission to ask for
NEEDS: dict[str, tuple[str, str] | None] = {
    # the App's own endpoints (JWT)
    "apps.async_get_authenticated": None,  # GET /app
    "apps.async_get_repo_installation": None,  # GET /repos/{o}/{r}/installation
    "apps.async_list_installations": None,  # GET /app/installations
    "apps.async_list_webhook_deliveries": None,  # GET /app/hook/deliveries
    "apps.async_redeliver_webhook_delivery": None,  # POST /app/hook/deliveries/{id}/attempts
    # installation token, no permission beyond metadata
    # GET /installation/repositories
    "apps.async_list_repos_accessible_to_installation": ("metadata", "read"),
    "repos.async_get_collaborator_permission_level": ("metadata", "read"),
    # GET /users/{username}: public profiles (the sign-off compares a signer's public email with co-authors');
    # GitHub: "does not require any permissions"
    "users.async_get_by_username": None,
    # check runs
    "checks.async_create": ("checks", "write"),
    "checks.async_update": ("checks", "write"),
    "checks.async_get": ("checks", "read"),
    "checks.async_list_for_ref": ("checks", "read"),
    # repository contents
    "repos.async_get_content": ("contents", "read"),
    "repos.async_get_commit": ("contents", "read"),
    "repos.async_list_commits": ("contents", "read"),  # GET /repos/{o}/{r}/commits?author= (sign-off)
    "repos.async_compare_commits": ("contents", "read"),
    "git.async_get_blob": ("contents", "read"),
    "repos.async_list_pull_requests_associated_with_commit": ("pull_requests", "read"),
    # pull requests
    "pulls.async_get": ("pull_requests", "read"),
    "pulls.async_list": ("pull_requests", "read"),
    "pulls.async_list_files": ("pull_requests", "read"),
    "pulls.async_list_commits": ("pull_requests", "read"),
    "pulls.async_list_reviews": ("pull_requests", "read"),
    "pulls.async_create_review": ("pull_requests", "write"),
    "pulls.async_dismiss_review": ("pull_requests", "write"),
    "pulls.async_request_reviewers": ("pull_requests", "write"),
    # comments on PRs (issue comments) and reactions to them
    "issues.async_list_comments": ("issues", "read"),
    "issues.async_list_comments_for_repo": ("issues", "read"),
    "issues.async_create_comment": ("issues", "write"),
    "issues.async_update_comment": ("issues", "write"),
    "reactions.async_create_for_issue_comment": ("issues", "write"),
    # organisation teams (sign-off owners given as @org/team)
    "teams.async_get_membership_for_user_in_org": ("members", "read"),
    # POST /repos/{o}/{r}/code-scanning/sarifs: the re-audit's SARIF upload, only when granted (OPTIONAL)
    "code_scanning.async_upload_sarif": ("security_events", "write"),
}

#: permissions an operator may grant to turn a feature on; app.yml must not ask for them by default, and the
#: code must check for them before calling (bot/features/reaudit_sarif.py `can_upload`)
OPTIONAL: frozenset[str] = frozenset({"security_events"})

#: requests prguard sends outside githubkit's typed methods: (pattern in the source, permission)
RAW: dict[str, tuple[str, str]] = {
    # bot/github/blob_stream.py
    r'"GET", f"/repos/\{owner\}/\{repo\}/git/blobs/\{sha\}"': ("contents", "read"),
}

_LEVEL = {"read": 1, "write": 2}


def _calls() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        text = path.read_text()
        for match in re.finditer(r"\brest\.([a-z_]+)\.(async_[a-z_]+)\b", text):
            found.setdefault(f"{match.group(1)}.{match.group(2)}", []).append(str(path.relative_to(ROOT)))
    return found


def test_every_github_call_has_its_permission_written_down() -> None:
    calls = _calls()
    assert len(calls) >= 25, "the scan for calls found too little: the pattern no longer matches the code"
    unknown = {op: where for op, where in calls.items() if op not in NEEDS}
    assert not unknown, f"add these operations and their permission to NEEDS: {unknown}"
    stale = set(NEEDS) - set(calls)
    assert not stale, f"NEEDS lists operations no code calls any more: {sorted(stale)}"
    sources = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    for pattern in RAW:
        assert re.search(pattern, sources), f"the raw request {pattern} is gone: update RAW"


def test_app_yml_asks_for_exactly_the_permissions_the_calls_need() -> None:
    needed: dict[str, str] = {"metadata": "read"}  # mandatory for every GitHub App
    for permission in [*NEEDS.values(), *RAW.values()]:
        if permission is None or permission[0] in OPTIONAL:
            continue
        name, level = permission
        if _LEVEL[level] > _LEVEL.get(needed.get(name, ""), 0):
            needed[name] = level
    asked = yaml.safe_load(APP_YML.read_text())["default_permissions"]
    assert asked == needed
    assert not OPTIONAL & set(asked), "app.yml asks by default for a permission that is optional"
    optional_used = {p[0] for p in NEEDS.values() if p is not None} & OPTIONAL
    assert optional_used == OPTIONAL, f"OPTIONAL names permissions no call needs: {OPTIONAL - optional_used}"
