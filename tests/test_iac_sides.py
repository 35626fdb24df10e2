"""Both sides in one engine run (`checks.iac.sides`): what the single checkov process must still get right.

Real git branches, real checkov and zizmor.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.engine import run_check
from checks.finding import Finding
from checks.git_change import change_from_git
from checks.iac import IacCheck
from checks.iac.check import PARSE_ERROR
from tests.gitrepo import GitRepo

pytestmark = pytest.mark.timeout(180)

OPEN_SSH = """resource "aws_security_group" "ssh" {
  name        = "ssh"
  description = "ssh"
  ingress {
    description = "ssh"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""
QUEUE = 'resource "aws_sqs_queue" "jobs" {\n  name = "jobs"\n  sqs_managed_sse_enabled = true\n}\n'
BROKEN_BICEP = ("resource st 'Microsoft.Storage/storageAccounts@2021-09-01' = {\n  name: 'x'\n"
                "  properties: {\n    supportsHttpsTrafficOnly: false\n")
ROOT_DOCKERFILE = "FROM python:3.12-slim\nUSER root\nCMD [\"python\"]\n"


def test_a_file_added_to_a_flawed_module_reports_none_of_the_modules_old_failures(tmp_path: Path) -> None:
    """The base run must see the module the head changed even when every changed file is new there."""
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"net/main.tf": OPEN_SSH})
    repo.commit({"net/queue.tf": QUEUE}, "add a queue")
    result = run_check(IacCheck(), change_from_git(repo.path, "main", head="HEAD"), timeout=150)
    assert result.error is None, result.error
    assert not [f for f in result.findings if "ssh" in str(f.metadata.get("resource", ""))
                or "aws_security_group" in f.message], [f.message for f in result.findings]


def test_the_same_flaw_made_new_by_the_head_in_that_module_is_still_reported(tmp_path: Path) -> None:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"net/main.tf": QUEUE})
    repo.commit({"net/ssh.tf": OPEN_SSH}, "open ssh")
    result = run_check(IacCheck(), change_from_git(repo.path, "main", head="HEAD"), timeout=150)
    assert result.error is None, result.error
    ssh = [f for f in result.findings if f.path == "net/ssh.tf" and f.rule_id == "CKV_AWS_24"]
    assert ssh and ssh[0].line == 1, [(f.rule_id, f.path, f.line) for f in result.findings]


def test_a_file_only_checkov_cannot_parse_is_named_and_not_clean(tmp_path: Path) -> None:
    """checkov's quiet report only counts parse errors: prguard asks again to learn which file it was."""
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "x\n"})
    repo.commit({"infra/main.bicep": BROKEN_BICEP, "app/Dockerfile": ROOT_DOCKERFILE}, "bicep and docker")
    result = run_check(IacCheck(), change_from_git(repo.path, "main", head="HEAD"), timeout=150)
    assert result.error is None, result.error
    parse = [f for f in result.findings if f.rule_id == PARSE_ERROR]
    assert [f.path for f in parse] == ["infra/main.bicep"]
    assert "checkov could not parse it" in parse[0].message
    assert "infra/main.bicep" in {s.path for s in result.skipped}
    docker = [f for f in result.findings if isinstance(f, Finding) and f.path == "app/Dockerfile"]
    assert docker, "the Dockerfile beside it is still scanned"


def test_a_dockerfile_flaw_the_base_had_is_not_new_after_an_unrelated_edit(tmp_path: Path) -> None:
    """A Dockerfile's resource names its own path: the side's prefix must not make old findings look new."""
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"app/Dockerfile": ROOT_DOCKERFILE})
    repo.commit({"app/Dockerfile": ROOT_DOCKERFILE.replace("slim", "slim-bookworm")}, "bump base image")
    result = run_check(IacCheck(), change_from_git(repo.path, "main", head="HEAD"), timeout=150)
    assert result.error is None, result.error
    assert result.findings == [], [(f.rule_id, f.path) for f in result.findings]


def test_a_variable_change_opening_a_resource_in_an_unusually_named_file_is_reported(tmp_path: Path) -> None:
    """The module's files are listed from git (one call), not guessed from the usual names: `firewall.tf`
    is materialized beside the changed `vars.tf`, so the variable's new value reaches its resource."""
    rule = OPEN_SSH.replace('["0.0.0.0/0"]', "[var.cidr]")
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {
        "net/firewall.tf": rule, "net/vars.tf": 'variable "cidr" {\n  default = "10.0.0.0/8"\n}\n'})
    repo.commit({"net/vars.tf": 'variable "cidr" {\n  default = "0.0.0.0/0"\n}\n'}, "open it up")
    result = run_check(IacCheck(), change_from_git(repo.path, "main", head="HEAD"), timeout=150)
    assert result.error is None, result.error
    opened = [f for f in result.findings if f.rule_id == "CKV_AWS_24"]
    assert [(f.path, f.metadata.get("resource_path")) for f in opened] == [("net/vars.tf", "net/firewall.tf")]


def test_the_grammar_cache_made_at_install_is_seeded_into_each_runs_private_tmpdir(tmp_path: Path) -> None:
    """checkov's HCL parser compiles its grammar into TMPDIR; every check has its own TMPDIR, so the cache
    `prguard engines install` made is copied in (only lark's cache files, never anything else)."""
    from checks.iac.engines import grammar_cache_dir, seed_grammar_cache

    installed = sorted(p.name for p in grammar_cache_dir().glob(".lark_cache_*.tmp"))
    assert installed, "`prguard engines install` leaves checkov's compiled Terraform grammar beside it"
    source = tmp_path / "cache"
    source.mkdir()
    (source / ".lark_cache_root_abc_3_11.tmp").write_bytes(b"grammar")
    (source / "other.tmp").write_bytes(b"not a grammar cache")
    private = tmp_path / "home" / "tmp"
    assert seed_grammar_cache(private, source) == 1
    assert sorted(p.name for p in private.iterdir()) == [".lark_cache_root_abc_3_11.tmp"]
    assert seed_grammar_cache(private, source) == 0  # already there: not copied again
