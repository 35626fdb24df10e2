"""`prguard audit OWNER/REPO --since DATE [--format json|csv]`: every sign-off, waiver, hold, refused attempt
and bypass prguard recorded on the repository's pull requests, read back from GitHub.

Records come only from comments the App itself wrote (`performed_via_github_app` is prguard, author a bot):
what a user writes can never appear here as a sign-off. Uses the repository-wide issue comments API
(`GET /repos/{o}/{r}/issues/comments?since=`), one paginated listing for all PRs.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
from datetime import UTC, date, datetime
from typing import Any

from bot.settings import ConfigError, load_settings

FIELDS = ("at", "pr", "kind", "by", "head", "reason", "fingerprint", "detail", "url")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repository", metavar="OWNER/REPO")
    parser.add_argument("--since", required=True, type=date.fromisoformat, help="YYYY-MM-DD (inclusive)")
    parser.add_argument("--format", choices=("json", "csv"), default="json")


def rows_from_comments(comments: list[Any], app_id: int) -> list[dict[str, Any]]:
    from bot.features.signoff_render import redact_secrets
    from bot.github.comments import by_app
    from checks.signoff.records import parse_records

    rows = []
    for c in comments:
        if not by_app(c, app_id):
            continue
        number = int(str(c.issue_url).rstrip("/").rsplit("/", 1)[-1])
        for r in parse_records(c.body or ""):
            detail = r.get("why") or r.get("runs") or r.get("paths") or ""
            detail = detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True)
            rows.append(
                {
                    "at": r.get("at", ""),
                    "pr": number,
                    "kind": r["kind"],
                    "by": r.get("by", ""),
                    "head": r.get("head", ""),
                    # records written before reasons were redacted may still hold a secret
                    "reason": redact_secrets(str(r.get("reason", ""))),
                    "fingerprint": r.get("fingerprint", ""),
                    "detail": redact_secrets(detail),
                    "url": str(c.html_url),
                }
            )
    return sorted(rows, key=lambda x: (x["at"], x["pr"]))


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def collect(settings: Any, full_name: str, since: date) -> list[dict[str, Any]]:
    from bot.github.client import GitHubApp

    owner, repo = full_name.split("/", 1)
    app = GitHubApp.from_settings(settings)
    async with app.app:
        inst = (await app.app.rest.apps.async_get_repo_installation(owner, repo)).parsed_data
        gh = app.installation(inst.id)
        async with gh:
            comments = [
                c
                async for c in gh.rest.paginate(
                    gh.rest.issues.async_list_comments_for_repo,
                    owner=owner,
                    repo=repo,
                    since=datetime(since.year, since.month, since.day, tzinfo=UTC),
                    per_page=100,
                )
            ]
    rows = rows_from_comments(comments, int(settings.app_id))
    return [r for r in rows if str(r["at"])[:10] >= since.isoformat()]


def run(args: argparse.Namespace) -> int:
    if "/" not in args.repository:
        print("prguard audit: OWNER/REPO expected", file=sys.stderr)
        return 2
    try:
        settings = load_settings("worker")
    except ConfigError as exc:
        print(f"prguard audit: {exc}", file=sys.stderr)
        return 2
    rows = asyncio.run(collect(settings, args.repository, args.since))
    sys.stdout.write(render(rows, args.format))
    return 0
