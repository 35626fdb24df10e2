"""The sign-off refused while a blocking finding of prguard's own scan is unwaived, granted after `waive`:
the real scan (secrets check) writes its findings block, the sign-off reads it back from the run."""

from __future__ import annotations

import re

from tests.github_double.double import GitHubDouble
from tests.secrets_keys import private_key_pem
from tests.signoff_stack import SignoffStack
from tests.test_signoff import POLICY, PROMPT_NEW, PROMPT_OLD, ai_pr


async def test_signoff_blocked_by_critical_secret_until_waived(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    token = private_key_pem()
    # the other checks are off: the subject is the secrets run's findings block
    # repository waivers: one expired (it stops applying and the run says so), one current
    waivers = (b"waivers:\n  - {fingerprint: 00000000deadbeef, reason: old exception, expires: 2020-01-31}\n"
               b"  - {fingerprint: 11111111deadbeef, reason: accepted, expires: 2999-01-01}\n")
    inst, pr = ai_pr(
        d,
        policy=POLICY + waivers,
        off=("dependencies", "iac", "prompt-safety"),
        extra={"app/config.py": (None, b"KEY = '''%s'''\n" % token.encode())},
    )
    assert PROMPT_OLD != PROMPT_NEW
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        await stack.opened(pr, inst)
        secrets_run = (await stack.completed(pr.head_sha, names=("prguard/secrets",)))["prguard/secrets"]
        assert secrets_run.conclusion == "failure"
        # what a user sees: the annotation's raw details name the fingerprint
        fingerprint = re.search(r"fingerprint: (\w+)", secrets_run.annotations[0]["raw_details"]).group(1)
        await stack.comment(pr, inst, "alice", "/prguard signoff prompt ok")
        refusal = stack.social.app_comments("octo/repo", pr.number)[-1].body
        assert "unwaived blocking findings remain" in refusal and fingerprint in refusal
        assert "critical" in refusal and "app/config.py" in refusal
        assert stack.run(pr).conclusion == "action_required"
        assert token.splitlines()[1] not in refusal

        await stack.comment(pr, inst, "alice", "/prguard waive deadbeefdeadbeef typo")
        assert "no finding with fingerprint" in stack.social.app_comments("octo/repo", pr.number)[-1].body
        await stack.comment(pr, inst, "alice", f"/prguard waive {fingerprint} test token, revoked")
        await stack.comment(pr, inst, "alice", "/prguard signoff prompt ok, token waived")
        run = stack.run(pr)
        assert run.conclusion == "success", run.summary
        assert f"`{fingerprint}` by @alice (test token, revoked)" in run.summary
        expired = "`00000000deadbeef` (policy: old exception; EXPIRED 2020-01-31, no longer applies)"
        assert expired in run.summary
        assert "`11111111deadbeef` (policy: accepted)" in run.summary
