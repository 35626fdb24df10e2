"""Security regressions of the AI safety sign-off: records forged through user text the App echoes (a hold's
reason, a file's path), secrets pasted into a command's reason, and commands hidden in code or comments.

End to end on the sign-off stack (real worker, Redis, the GitHub double) where it is cheap; the rendering and
parsing functions with the reviewers' exact strings otherwise."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.cli.main import main
from bot.features.commands import parse_commands
from bot.features.signoff_actions import SignoffActions
from bot.features.signoff_render import cell, needed_line
from checks.signoff.records import fold, parse_records, record_block, record_comment
from tests.github_double.double import GitHubDouble
from tests.secrets_keys import github_token
from tests.signoff_stack import SignoffStack
from tests.test_audit import audit_env  # noqa: F401  (the audit CLI's environment fixture)
from tests.test_signoff import POLICY, ai_pr


def forged(head: str, paths: str = '["prompts/system.md"]') -> str:
    """The reviewers' forged sign-off block, as a user would type it."""
    return (
        '<!-- prguard:record {"kind":"signoff","by":"ml-safety-lead","head":"' + head + '","tree":"",'
        '"paths":' + paths + ',"reason":"ok"} -->'
    )


def app_records(stack: SignoffStack, number: int) -> list[dict[str, Any]]:
    return [r for c in stack.social.app_comments("octo/repo", number) for r in parse_records(c.body)]


def no_hidden_marker(text: str) -> bool:
    """No record block anywhere but at the very start (where only prguard writes one)."""
    return "<!-- prguard:record" not in text[1:] and "-->" not in text.split(" -->", 1)[-1]


# --- 1. forged records: rendering and parsing ---------------------------------------------------------------


def test_record_counts_only_at_the_start_of_an_app_comment() -> None:
    fake = forged("a" * 40)
    hold = {"kind": "hold", "by": "dave", "reason": fake, "head": "a" * 40, "at": "2026-01-01T00:00:00Z"}
    body = record_comment(hold, SignoffActions._describe(hold))
    assert parse_records(body) == [hold]  # the reason survives, inert, inside the one real record
    assert no_hidden_marker(body) and "<" not in body.split("\n", 1)[1]
    # the old layout (text first, block last) and any second block are never records
    assert parse_records(f"⏸️ @dave put it on hold: {fake}\n{record_block(hold)}") == []
    assert parse_records(f"{record_block(hold)}\n{fake}") == [hold]
    assert parse_records(f" {fake}") == [] and parse_records(fake)[0]["by"] == "ml-safety-lead"
    # a record whose text holds comment syntax cannot end its own block early
    tricky = {"kind": "hold", "by": "x", "reason": "--> <!-- prguard:record {} -->"}
    assert parse_records(record_block(tricky)) == [tricky] and record_block(tricky).count("-->") == 1


def test_echoed_paths_names_and_messages_are_inert() -> None:
    path = ".github/prompts/" + forged("a" * 40)
    line = needed_line({path: ["@alice"], "prompts/x.md": ["<!-- @bob"]})
    assert "<" not in line and ">" not in line and "&lt;!-- prguard:record" in line
    assert "<" not in cell("co-author <!-- x --> | y") and "\\|" in cell("a|b")


# --- 1. forged records end to end --------------------------------------------------------------------------


async def test_forged_record_in_a_hold_reason_or_a_file_path_is_never_a_signoff(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    policy = POLICY + b'  required_paths: [".github/prompts/**"]\n'
    # dave's PR adds a file whose very name is a forged record; it is echoed in the sticky comment
    weird = ".github/prompts/" + forged("0" * 40, '["prompts/system.txt"]')
    inst, pr = ai_pr(d, policy=policy, extra={weird: (None, b"be nice\n")})
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        stack.social.set_permission("octo/repo", "tom", "write")
        await stack.opened(pr, inst)
        fake = forged(pr.head_sha, '["prompts/system.txt"]')
        # the reviewers' reproduction verbatim, then the same text rebuilt only once comments are removed
        await stack.comment(pr, inst, "dave", f"/prguard hold legal {fake}")
        await stack.comment(pr, inst, "dave", "/prguard unhold")
        rebuilt = "<<!-- -->!--" + fake[len("<!--") : -len("-->")] + "-<!-- -->->"
        await stack.comment(pr, inst, "dave", f"/prguard hold again {rebuilt}")
        await stack.comment(pr, inst, "dave", "/prguard unhold")
        await stack.comment(pr, inst, "tom", "/prguard signoff me")  # refused: echoes the paths needed

        records = app_records(stack, pr.number)
        assert [r["kind"] for r in records] == ["hold", "unhold", "hold", "unhold", "refused"], records
        assert not fold(records).signoffs
        assert "<!-- prguard:record" in records[2]["reason"]  # kept, as inert text, in the real record
        for c in stack.social.app_comments("octo/repo", pr.number):
            assert no_hidden_marker(c.body), c.body
        for r in stack.social.reviews_on("octo/repo", pr.number):
            assert no_hidden_marker(r.body), r.body
        run = stack.run(pr)
        assert run.conclusion == "action_required" and run.title.startswith("Sign-off required"), run.title
        assert no_hidden_marker(run.summary)


# --- 12. secrets in a command's reason ---------------------------------------------------------------------


async def test_secret_in_a_hold_reason_is_redacted_in_reply_record_and_audit(
    audit_env: GitHubDouble,  # noqa: F811
    redis_url: str,
    redis_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = audit_env
    token = github_token()
    inst, pr = ai_pr(d)
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        stack.social.set_permission("octo/repo", "tom", "write")
        await stack.opened(pr, inst)
        await stack.comment(pr, inst, "tom", f"/prguard hold rotated key {token}")
        bodies = [c.body for c in stack.social.app_comments("octo/repo", pr.number)]
        [hold] = [r for r in app_records(stack, pr.number) if r["kind"] == "hold"]
        assert hold["reason"] == f"rotated key {token[:4]}…(40 chars)"
        assert any("rotated key ghp_…(40 chars)" in b for b in bodies)
        assert all(token not in b and token[8:] not in b for b in bodies)
        assert token not in stack.run(pr).summary
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["audit", "octo/repo", "--since", "2020-01-01"])
    out = capsys.readouterr().out
    assert code == 0 and token not in out and token[8:] not in out
    assert [r["reason"] for r in json.loads(out) if r["kind"] == "hold"] == [hold["reason"]]


# --- 11. commands hidden in code or comments ---------------------------------------------------------------


def test_commands_in_code_blocks_and_html_comments_are_not_commands() -> None:
    fenced = "Example:\n```\n/prguard signoff looks fine\n```\n~~~~md\n/prguard hold x\n~~~~\n"
    indented = "Run:\n\n    /prguard signoff indented\n\t/prguard hold tabbed\n"
    hidden = "<!-- /prguard signoff hidden -->\n<!--\n/prguard hold hidden too\n-->\n"
    unclosed = "```\n/prguard signoff never closed\n"
    for body in (fenced, indented, hidden, unclosed, "<!--\n/prguard signoff unclosed comment\n"):
        assert parse_commands(body) == [], body
    visible = fenced + indented + hidden + "/prguard hold real one\n"
    assert parse_commands(visible) == [("hold", "real one")]
    assert parse_commands("  /prguard unhold") == [("unhold", "")]  # up to 3 spaces is still prose
