"""Bad input, end to end (issue 11, part 2; shared setup and what is measured: `tests/bad_input_app.py`):
slash-commands full of shell metacharacters are read as data, answered, and never run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bad_input_app import assert_all_completed, bounded
from tests.github_double.double import GitHubDouble
from tests.signoff_stack import SignoffStack
from tests.test_signoff import ai_pr

pytestmark = pytest.mark.timeout(120)


# --- slash-commands with shell metacharacters ---------------------------------------------------------------


async def test_slash_commands_with_shell_metacharacters_are_data_never_run(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    d = github_double
    canary = tmp_path / "pwned"
    run_it = f"$(touch {canary}) `touch {canary}` | tee {canary} && touch {canary}"
    bodies = [
        f"/prguard signoff ok; rm -rf / {run_it}",
        f"/prguard $(touch {canary})",
        f"/prguard hold `touch {canary}`\n/prguard unhold; rm -rf / $(id)",
        f"/prguard waive $(id) ;touch {canary}",
        "/prguard help\x1b[2J\x00 $(reboot)",
        "/prguard signoff " + "$(id)" * 13_000,  # a 65 KB comment, GitHub's limit
    ]
    inst, pr = ai_pr(d)
    with bounded():
        async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
            stack.social.set_permission("octo/repo", "alice", "write")
            await stack.opened(pr, inst)
            comments = [await stack.comment(pr, inst, "alice", body) for body in bodies]
            await stack.drained()
            run = stack.run(pr)
            replies = [c.body for c in stack.social.app_comments("octo/repo", pr.number)]
            reactions = [stack.social.reaction_contents(c["id"]) for c in comments]
    assert not canary.exists(), "a command ran a shell"
    assert run.status == "completed" and run.conclusion in ("success", "action_required"), run.conclusion
    # each comment was read and answered: 👀, then 👍, 👎 or 😕
    for body, got in zip(bodies, reactions, strict=True):
        assert got[:1] == ["eyes"] and got[-1] in ("+1", "-1", "confused"), (body[:60], got)
    # the first sign-off was taken as written: its reason recorded literally, as text
    assert any("prguard:record" in r and "rm -rf /" in r for r in replies), replies
    assert all("\x1b" not in r and "\x00" not in r for r in replies)
    assert_all_completed(d, pr.head_sha)
