"""Slash-commands: parsing, a burst handled in order per PR, `help`, and `check_suite.rerequested`."""

from __future__ import annotations

import json

from bot.features.commands import CommandsFeature, parse_commands
from tests.github_double.double import GitHubDouble
from tests.signoff_stack import SignoffStack
from tests.test_signoff import ai_pr
from tests.webhooks import fixture_payload


def test_parse_commands_reads_prefixed_lines_only() -> None:
    body = ("Thanks!\n/prguard hold  wait for legal \n> /prguard signoff quoted\n/PRGUARD Unhold\n"
            "/prguardx help")
    assert parse_commands(body) == [("hold", "wait for legal"), ("unhold", "")]
    assert parse_commands("/bot signoff ok", "/bot") == [("signoff", "ok")]


def test_bot_comments_and_non_pr_issues_are_not_routed() -> None:
    feature = CommandsFeature()
    payload = fixture_payload("issue_comment", "created")
    payload["installation"] = {"id": 1}
    payload["comment"]["body"] = "/prguard signoff ok"
    assert feature.envelopes("issue_comment", "d1", payload) == []  # an issue, not a PR
    payload["issue"]["pull_request"] = {"url": "x"}
    [env] = feature.envelopes("issue_comment", "d2", payload)
    assert json.loads(env.get("commands")) == [["signoff", "ok"]] and env.supersede_key == ""
    payload["sender"]["type"] = payload["comment"]["user"]["type"] = "Bot"
    assert feature.envelopes("issue_comment", "d3", payload) == []


async def test_help_a_burst_applied_in_order_and_check_suite_rerequested(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    inst, pr = ai_pr(d)
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        stack.social.set_permission("octo/repo", "tom", "write")
        c = await stack.comment(pr, inst, "rita", "/prguard help")
        assert "/prguard signoff <reason>" in stack.social.app_comments("octo/repo", pr.number)[-1].body
        assert stack.social.reaction_contents(c["id"]) == ["eyes", "+1"]
        # no pull_request delivery yet: a re-run request of the suite evaluates the head
        payload = d.fit_event(fixture_payload("check_suite", "rerequested"), "octo/repo", number=pr.number)
        reply = await stack.deliver("check_suite", payload)
        assert reply.status_code == 202
        await stack.drained()
        assert stack.run(pr).conclusion == "action_required"
        # three commands delivered back to back, taken by two worker slots: applied in the order written
        for body in ("/prguard hold one", "/prguard unhold", "/prguard hold two"):
            await stack.comment(pr, inst, "tom", body, drain=False)
        await stack.drained()
        mine = stack.social.app_comments("octo/repo", pr.number)
        records = [c.body for c in mine if "prguard:record" in c.body]
        kinds = [json.loads(b.split("prguard:record ", 1)[1].split(" -->")[0])["kind"] for b in records]
        assert kinds == ["hold", "unhold", "hold"]
        run = stack.run(pr)
        assert run.title == "On hold" and "two" in run.summary
