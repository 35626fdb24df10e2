"""Organisation defaults (`_extends`) apply to the four checks in the App, as they do to the sign-off.

The repository's base-branch `.github/prguard.yml` says `_extends: .github`; `octo/.github`'s file, read from
that repository's default branch, is applied first and the repository's keys override it. A missing,
malformed or oversized organisation file is a policy error on every run, never "no defaults". `prguard scan`
cannot read the organisation's repository: it says so on stderr and goes on with the repository's file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.github.pulls import PullContext, effective_policy
from checks.finding import Severity
from checks.policy import PolicyError
from tests.e2e_stack import Stack, pr_payload
from tests.github_double.double import GitHubDouble
from tests.github_double.testing import installation_client
from tests.gitrepo import GitRepo
from tests.scanning import scan_json
from tests.secrets_keys import github_token

ORG = b"fail_on: critical\nchecks:\n  secrets: false\n  iac: false\n"
#: the repository turns secrets back on (a mapping replaces the org's `false`) with its own threshold
REPO = b"_extends: .github\nchecks:\n  secrets:\n    fail_on: medium\n"
EXTENDING = "from `.github/prguard.yml` on `main`, extending `octo/.github`'s `.github/prguard.yml`"


def setup(d: GitHubDouble, org: bytes | None, repo: bytes = REPO) -> tuple[int, Any]:
    """octo/repo with `repo` as its base policy, octo/.github holding `org` (None: no such repository),
    and a PR adding a GitHub token."""
    inst = d.add_installation("octo")
    d.add_repo("octo/repo", installation_id=inst, files={"README.md": b"hello\n",
                                                         ".github/prguard.yml": repo})
    if org is not None:
        d.add_repo("octo/.github", installation_id=inst, files={".github/prguard.yml": org})
    leak = b"T = '%s'\n" % github_token().encode()
    pr = d.create_pull_request("octo/repo", changes={"leak.py": (None, leak)})
    return inst, pr


async def test_the_org_default_applies_and_a_repo_key_overrides_it(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    inst, pr = setup(d, ORG)
    async with Stack(d, redis_url, redis_prefix, only=("scan",)) as stack:
        assert (await stack.deliver("pull_request", pr_payload(pr, inst))).status_code == 202
        runs = await stack.completed(pr.head_sha)

    iac = runs["prguard/iac"]  # the org's `iac: false`, untouched by the repository
    assert (iac.conclusion, iac.title) == ("neutral", "Disabled by .github/prguard.yml on main")
    secrets = runs["prguard/secrets"]  # the org's `secrets: false` overridden by the repository's mapping
    assert secrets.conclusion == "failure"
    assert [(a["path"], a["start_line"]) for a in secrets.annotations] == [("leak.py", 1)]
    assert f"blocking at **medium** or above, {EXTENDING})" in secrets.summary
    # the org's top-level fail_on (the default would be high) for the checks the repository says nothing of
    for name in ("prguard/dependencies", "prguard/prompt-safety"):
        assert f"blocking at **critical** or above, {EXTENDING})" in runs[name].summary, name
    # the organisation's file, from its default branch (no ref): never from the PR's head
    org_reads = d.requests(method="GET", path_regex=r"^/repos/octo/\.github/contents/")
    assert [(r.path, r.query) for r in org_reads] == [
        ("/repos/octo/.github/contents/.github/prguard.yml", "")]


async def test_a_malformed_org_file_fails_every_run_naming_it(
    github_double: GitHubDouble, redis_url: str, redis_prefix: str
) -> None:
    d = github_double
    inst, pr = setup(d, b"checks:\n  secrets: false\nfail_on: severe\n")
    async with Stack(d, redis_url, redis_prefix, only=("scan",)) as stack:
        assert (await stack.deliver("pull_request", pr_payload(pr, inst))).status_code == 202
        runs = await stack.completed(pr.head_sha)
    for name, run in runs.items():
        assert (run.conclusion, run.title) == ("failure", "Invalid .github/prguard.yml (line 3)"), name
        assert "_extends octo/.github: fail_on: 'severe' is not one of" in run.summary, name
        assert not run.annotations


def _pull(pr: Any) -> PullContext:
    return PullContext(number=pr.number, head_sha=pr.head_sha, base_sha=pr.base_sha, base_ref="main",
                       html_url="https://github.invalid/octo/repo", changed_files=1)


@pytest.mark.parametrize(("org", "repo", "error", "org_requests"), [
    (None, REPO, r"^\.github/prguard\.yml: _extends: octo/\.github has no \.github/prguard\.yml$", 1),
    (b"_extends: other\n", REPO, r"_extends: octo/\.github extends another policy \(one level only\)", 1),
    # refused from the size in the contents API's metadata: the one request, never the raw download
    (b"# pad\n" * 20_000, REPO, r"_extends octo/\.github: policy too large: 120000 bytes", 1),
    (ORG, b"_extends: evil/.github\n", r"_extends: 'evil/\.github' is not a repository of octo", 0),
], ids=["no-org-repo", "org-extends-again", "org-too-large", "other-owner"])
async def test_an_org_source_that_cannot_apply_is_a_policy_error(
    github_double: GitHubDouble, org: bytes | None, repo: bytes, error: str, org_requests: int
) -> None:
    d = github_double
    inst, pr = setup(d, org, repo)
    async with installation_client(d, inst) as gh:
        with pytest.raises(PolicyError, match=error):
            await effective_policy(gh, "octo", "repo", _pull(pr))
    assert len(d.requests(path_regex=r"^/repos/(octo|evil)/\.github/")) == org_requests


async def test_without_extends_the_org_file_is_not_read(github_double: GitHubDouble) -> None:
    d = github_double
    inst, pr = setup(d, ORG, b"fail_on: low\n")
    async with installation_client(d, inst) as gh:
        policy, source = await effective_policy(gh, "octo", "repo", _pull(pr))
    assert (policy.fail_on, policy.enabled("secrets"), source) == (
        Severity.LOW, True, "`.github/prguard.yml` on `main`")
    assert not d.requests(path_regex=r"^/repos/octo/\.github/")


def test_prguard_scan_says_org_defaults_are_not_applied_and_uses_the_repo_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = "_extends: .github\nchecks:\n  secrets: false\n"
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {".github/prguard.yml": policy})
    repo.commit({"leak.py": f"T = '{github_token()}'\n"}, "leak")
    code, out, err = scan_json(capsys, repo)
    assert code == 0  # the repository's own `secrets: false` applies; `_extends` does not fail the scan
    assert not [f for f in out["findings"] if f["path"] == "leak.py"]
    assert "prguard: policy: _extends '.github' not applied (organisation defaults are read by the App " \
           "only)" in err
