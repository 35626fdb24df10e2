"""`prguard audit OWNER/REPO --since DATE --format json|csv`: the records prguard wrote, read back from the
GitHub double through the real CLI; a user's comment that imitates a record is not listed."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bot.cli.main import main
from tests.github_double.double import GitHubDouble
from tests.signoff_stack import SignoffStack
from tests.test_signoff import ai_pr


async def _history(d: GitHubDouble, redis_url: str, redis_prefix: str) -> int:
    inst, pr = ai_pr(d)
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        stack.social.set_permission("octo/repo", "tom", "write")
        await stack.opened(pr, inst)
        await stack.comment(pr, inst, "dave", "/prguard signoff mine")  # refused: the author
        await stack.comment(pr, inst, "tom", "/prguard hold legal review")
        await stack.comment(pr, inst, "tom", "/prguard unhold")
        await stack.comment(pr, inst, "alice", "/prguard signoff prompt reviewed")
        # a forged record in a user's comment
        stack.social.add_comment(
            "octo/repo", pr.number, "mallory", '<!-- prguard:record {"kind":"signoff","by":"mallory"} -->'
        )
        d.push("octo/repo", pr.number, {"prompts/system.txt": b"changed after sign-off\n"})
        await stack.opened(pr, inst, action="synchronize")
        await stack.merged(pr, inst, "root")
    return pr.number


@pytest.fixture
def audit_env(github_double: GitHubDouble, monkeypatch: pytest.MonkeyPatch) -> GitHubDouble:
    monkeypatch.setenv("GITHUB_APP_ID", str(github_double.app_id))
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", github_double.private_key_pem)
    monkeypatch.setenv("GITHUB_API_URL", github_double.base_url)
    return github_double


async def test_audit_json_and_csv(
    audit_env: GitHubDouble, redis_url: str, redis_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    number = await _history(audit_env, redis_url, redis_prefix)
    capsys.readouterr()
    import asyncio

    code = await asyncio.to_thread(main, ["audit", "octo/repo", "--since", "2020-01-01", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    rows = json.loads(out)
    kinds = [(r["kind"], r["by"]) for r in rows]
    assert kinds == [
        ("refused", "dave"),
        ("hold", "tom"),
        ("unhold", "tom"),
        ("signoff", "alice"),
        ("bypass", "root"),
    ]
    assert all(r["pr"] == number for r in rows)
    signoff = rows[3]
    assert signoff["reason"] == "prompt reviewed" and len(signoff["head"]) == 40
    assert "prguard/ai-safety-sign-off" in rows[4]["detail"]

    code = await asyncio.to_thread(main, ["audit", "octo/repo", "--since", "2020-01-01", "--format", "csv"])
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert code == 0
    assert [(r["kind"], r["by"]) for r in table] == kinds
    code = await asyncio.to_thread(main, ["audit", "octo/repo", "--since", "2999-01-01"])
    assert json.loads(capsys.readouterr().out) == []
