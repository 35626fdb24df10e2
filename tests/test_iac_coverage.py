"""A PR made of checkov's and zizmor's own example projects: prguard reports what the plain engines report.

The same files are scanned by plain `checkov -d` (prguard's frameworks and checkov's secrets scanner) and
plain `zizmor --offline`, then by prguard's IaC check on a branch that adds them. prguard must report at least
95 % of the engines' (file, check) pairs, and every pair it drops must have a listed reason.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from checks.engine import CheckResult, run_check
from checks.git_change import change_from_git
from checks.iac import IacCheck
from checks.iac.engines import checkov_path, zizmor_path
from tests.gitrepo import GitRepo

FIXTURES = Path(__file__).parent / "fixtures" / "iac_examples"

#: check-id prefixes prguard leaves to another check or drops on purpose, with the reason shown
DROPPED: dict[str, str] = {
    "CKV_SECRET_": "keys in files are the secrets check's job (detect-secrets plus LLM-key rules)",
}


def example_files() -> dict[str, bytes]:
    files = {f"examples/{p.relative_to(FIXTURES / 'checkov')}": p.read_bytes()
             for p in (FIXTURES / "checkov").rglob("*") if p.is_file()}
    for p in (FIXTURES / "zizmor").glob("*.yml"):
        if p.name.endswith(".action.yml"):
            files[f"actions/{p.name.removesuffix('.action.yml')}/action.yml"] = p.read_bytes()
        else:
            files[f".github/workflows/{p.name}"] = p.read_bytes()
    return files


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    repo = GitRepo.on_feature_branch(tmp_path_factory.mktemp("examples") / "repo", {"README.md": "x\n"})
    repo.commit(example_files(), "the engines' examples")
    return repo


#: what plain checkov is asked to run: every framework prguard runs, plus its secrets scanner (the frameworks
#: prguard has no files for cost start-up time and find nothing in these examples)
PLAIN_FRAMEWORKS = ("terraform", "kubernetes", "dockerfile", "cloudformation", "arm", "bicep", "serverless",
                    "openapi", "github_actions", "secrets")


@pytest.fixture(scope="module")
def both(repo: GitRepo, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[CheckResult, set[tuple[str, str]]]:
    """prguard's result, and the (file, check) pairs of plain `checkov -d .` and `zizmor --offline .` on the
    branch's files; plain checkov runs while prguard does, to keep the test short."""
    home = tmp_path_factory.mktemp("home")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "BC_SKIP_MAPPING": "TRUE",
           "SKIP_PACKAGE_UPDATE_CHECK": "true"}
    plain = subprocess.Popen([checkov_path(), "-d", ".", "-o", "json", "--compact", "--quiet",
                              "--skip-download", "--framework", *PLAIN_FRAMEWORKS],
                             cwd=repo.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        result = run_check(IacCheck(), change_from_git(repo.path, "main", head="HEAD"), timeout=110)
        out, err = plain.communicate(timeout=100)
    finally:
        plain.kill()
        plain.wait()
    assert plain.returncode in (0, 1), err.decode()[-500:]
    reports = json.loads(out)
    pairs = {(f["file_path"].lstrip("/"), f["check_id"])
             for report in (reports if isinstance(reports, list) else [reports])
             for f in report["results"]["failed_checks"]}
    zz = subprocess.run([zizmor_path(), "--offline", "--format", "json", "."], cwd=repo.path,
                        capture_output=True, env=env, timeout=60, check=False)
    assert zz.returncode in (0, 10, 11, 12, 13, 14), zz.stderr.decode()[-500:]
    for finding in json.loads(zz.stdout):
        primary = next(loc for loc in finding["locations"] if loc["symbolic"]["kind"] == "Primary")
        local = primary["symbolic"]["key"]["Local"]
        path = str(local.get("given_path") or local["verbatim_path"]).removeprefix("./")
        pairs.add((path, finding["ident"]))
    return result, pairs


@pytest.fixture(scope="module")
def prguard(both: tuple[CheckResult, set[tuple[str, str]]]) -> CheckResult:
    return both[0]


@pytest.fixture(scope="module")
def engines(both: tuple[CheckResult, set[tuple[str, str]]]) -> set[tuple[str, str]]:
    return both[1]


def test_the_engines_find_something_in_every_framework(engines: set[tuple[str, str]]) -> None:
    """Guards the comparison itself: an engine that silently read nothing would make it vacuous."""
    prefixes = {check.split("_")[1] for _, check in engines if check.startswith("CKV")}
    assert {"AWS", "K8S", "DOCKER", "AZURE"} <= prefixes
    assert {"template-injection", "excessive-permissions", "github-env"} <= {c for _, c in engines}
    assert len(engines) >= 80


def test_prguard_reports_at_least_95_percent_of_the_engines_pairs(
        prguard: CheckResult, engines: set[tuple[str, str]]) -> None:
    assert prguard.error is None
    ours = {(f.path, f.rule_id) for f in prguard.findings}
    missing = engines - ours
    explained = {pair: reason for pair in missing
                 for prefix, reason in DROPPED.items() if pair[1].startswith(prefix)}
    unexplained = sorted(missing - set(explained))
    assert not unexplained, f"dropped without a reason: {unexplained}"
    covered = len(engines & ours) / len(engines)
    print(f"\ncovered {len(engines & ours)}/{len(engines)} pairs ({covered:.1%}); dropped:")
    for pair, reason in sorted(explained.items()):
        print(f"  {pair}: {reason}")
    assert covered >= 0.95


def test_what_prguard_adds_beyond_the_engines_is_its_own(
        prguard: CheckResult, engines: set[tuple[str, str]]) -> None:
    extra = {(f.path, f.rule_id) for f in prguard.findings} - engines
    assert all(rule.startswith("PRG-") for _, rule in extra), sorted(extra)  # no parse error either
    assert not prguard.skipped
