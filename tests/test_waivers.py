"""Waivers on the four check runs and in `prguard scan`.

On GitHub (the real receiver, worker, Redis and scan against the GitHub double): `/prguard waive` re-posts the
secrets run as passing with the finding listed as waived (who, why), `unwaive` makes it fail again, a policy
waiver on the base applies, an expired one does not and says so. Locally: a base-policy waiver makes
`prguard scan` pass and shows in the JSON and (valid) SARIF output; an expired one still blocks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.github_double.double import GitHubDouble
from tests.gitrepo import GitRepo
from tests.scanning import scan, scan_json
from tests.secrets_keys import private_key_pem
from tests.signoff_stack import SignoffStack
from tests.test_formats import validate_sarif
from tests.test_signoff import POLICY, ai_pr, checks_off

SECRETS = "prguard/secrets"
OFF = ("dependencies", "iac", "prompt-safety")


def _base_policy(fp: str, expires: str) -> bytes:
    waiver = f"  - {{fingerprint: {fp}, reason: rotated in vault, expires: {expires}}}\n"
    return POLICY + checks_off(OFF) + b"waivers:\n" + waiver.encode()


async def test_waive_unwaive_and_policy_waivers_on_the_secrets_run(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    key = private_key_pem()
    inst, pr = ai_pr(d, off=OFF, extra={"app/config.py": (None, b"KEY = '''%s'''\n" % key.encode())})
    async with SignoffStack(d, redis_url, prefix=redis_prefix) as stack:
        await stack.opened(pr, inst)
        first = (await stack.completed(pr.head_sha, names=(SECRETS,)))[SECRETS]
        assert first.conclusion == "failure"
        fp = re.search(r"fingerprint: (\w+)", first.annotations[0]["raw_details"]).group(1)
        runs_before = len(d.check_runs("octo/repo", pr.head_sha, SECRETS))

        # a maintainer (the prompts owner) waives it: the run of this head is posted again, passing
        await stack.comment(pr, inst, "alice", f"/prguard waive {fp} test token, revoked")
        await stack.drained()
        runs = d.check_runs("octo/repo", pr.head_sha, SECRETS)
        assert len(runs) == runs_before + 1
        waived = runs[-1]
        assert (waived.status, waived.conclusion) == ("completed", "success"), waived.summary
        assert "1 waived" in waived.title
        assert "### Waived (1)" in waived.summary
        line = next(x for x in waived.summary.splitlines() if fp in x)
        assert "@alice" in line and "test token, revoked" in line and "app/config.py" in line
        assert not [a for a in waived.annotations if a["annotation_level"] == "failure"]
        assert key.splitlines()[1] not in waived.summary

        # unwaive: it blocks again
        await stack.comment(pr, inst, "alice", f"/prguard unwaive {fp}")
        await stack.drained()
        again = d.check_runs("octo/repo", pr.head_sha, SECRETS)[-1]
        assert again.conclusion == "failure"
        assert "Waived" not in again.summary
        assert [a for a in again.annotations if a["annotation_level"] == "failure"]

        # a waiver in the base branch's policy applies to the next scan of the head
        d.set_content("octo/repo", ".github/prguard.yml", _base_policy(fp, "2999-01-01"))
        await stack.opened(pr, inst, action="reopened")
        by_policy = (await stack.completed(pr.head_sha, names=(SECRETS,)))[SECRETS]
        assert by_policy.conclusion == "success", by_policy.summary
        line = next(x for x in by_policy.summary.splitlines() if fp in x)
        assert "policy waiver, expires 2999-01-01" in line and "rotated in vault" in line

        # once expired it no longer applies, and the run says so
        d.set_content("octo/repo", ".github/prguard.yml", _base_policy(fp, "2020-01-31"))
        await stack.opened(pr, inst, action="reopened")
        expired = (await stack.completed(pr.head_sha, names=(SECRETS,)))[SECRETS]
        assert expired.conclusion == "failure"
        line = next(x for x in expired.summary.splitlines() if fp in x and "expired" in x)
        assert "expired on 2020-01-31: not applied" in line
        assert "### Expired waivers (1)" in expired.summary


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return private_key_pem(), private_key_pem()


def _feature(path: Path, keys: tuple[str, str], policy: str = "") -> GitRepo:
    base = {"README.md": "hi\n", **({".github/prguard.yml": policy} if policy else {})}
    repo = GitRepo.on_feature_branch(path, base)
    repo.commit({"a.py": f"A = '''{keys[0]}'''\n", "b.py": f"B = '''{keys[1]}'''\n"})
    return repo


def test_prguard_scan_applies_policy_waivers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: tuple[str, str]
) -> None:
    code, doc, _ = scan_json(capsys, _feature(tmp_path / "learn", keys))
    assert code == 1
    fps = {f["path"]: f["fingerprint"] for f in doc["findings"] if f["check"] == "secrets"}
    assert set(fps) == {"a.py", "b.py"}

    policy = ("waivers:\n"
              f"  - {{fingerprint: {fps['a.py']}, reason: test fixture key, expires: 2999-01-01}}\n"
              f"  - {{fingerprint: {fps['b.py']}, reason: old exception, expires: 2020-01-31}}\n")
    repo = _feature(tmp_path / "waived", keys, policy)
    code, doc, _ = scan_json(capsys, repo)
    assert code == 1  # b.py's waiver expired: it still blocks
    by_path = {f["path"]: f for f in doc["findings"] if f["check"] == "secrets"}
    assert by_path["a.py"]["waived"] == {"source": "policy", "reason": "test fixture key",
                                         "expires": "2999-01-01"}
    assert "waived" not in by_path["b.py"]
    assert by_path["b.py"]["waiver_expired"]["expires"] == "2020-01-31"

    code, out, _ = scan(capsys, repo, "--format", "sarif")
    sarif = json.loads(out)
    validate_sarif(sarif)
    results = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r
               for r in sarif["runs"][0]["results"]}
    a, b = results["a.py"], results["b.py"]
    assert a["suppressions"][0]["kind"] == "external"
    assert "test fixture key" in a["suppressions"][0]["justification"]
    assert a["properties"]["blocking"] is False
    assert "suppressions" not in b and b["properties"]["blocking"] is True
    assert "expired on 2020-01-31" in b["properties"]["waiverExpired"]

    code, out, _ = scan(capsys, repo, "--no-color")
    assert "waived: policy waiver, expires 2999-01-01: test fixture key" in out
    assert "NOT waived: policy waiver expired on 2020-01-31: not applied" in out
    assert "1 blocking" in out and "1 waived" in out

    # without b.py only the waived finding is left: the scan passes
    repo.git("rm", "--quiet", "b.py")
    repo.git("commit", "--quiet", "--no-verify", "-m", "drop b")
    code, doc, _ = scan_json(capsys, repo)
    assert code == 0
    assert [f["path"] for f in doc["findings"] if f.get("waived")] == ["a.py"]


def test_apply_prefers_a_pr_waiver_and_expires_policy_waivers_inclusively() -> None:
    from datetime import date

    from checks.finding import Finding, Severity
    from checks.waivers import Waiver, apply

    def finding(fp: str) -> Finding:
        return Finding(rule_id="r", severity=Severity.HIGH, path="p", line=1, title="t", message="m",
                       fingerprint=fp)

    a, b, c = finding("aaaaaaaa"), finding("bbbbbbbb"), finding("cccccccc")
    waivers = [
        Waiver("aaaaaaaa", "policy", expires="2026-06-30", policy=True),
        Waiver("aaaaaaaa", "on the PR", by="alice", at="2026-06-01T00:00:00Z"),
        Waiver("bbbbbbbb", "last day", expires="2026-06-30", policy=True),
        Waiver("cccccccc", "gone", expires="2026-06-29", policy=True),
    ]
    out = apply([a, b, c], waivers, date(2026, 6, 30))
    assert [(w.finding.fingerprint, w.waiver.reason) for w in out.waived] == [
        ("aaaaaaaa", "on the PR"), ("bbbbbbbb", "last day")]
    assert out.kept == [c]
    assert [w.waiver.describe(date(2026, 6, 30)) for w in out.expired] == [
        "policy waiver expired on 2026-06-29: not applied (gone)"]
