"""The IaC / CI-config check end to end on a real git branch, with real checkov and zizmor.

One branch holds every case, so the engines run once per side for the whole module: new problems in a
Terraform module (one made by a single added line inside an old block, one that needs a variable declared
in an unchanged file of the module), a Kubernetes manifest, a Dockerfile, a CloudFormation template and a
workflow; old problems in files the branch touches on unrelated lines; and files that do not parse.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.formats import sarif
from bot.cli.formats.scan_report import ScanReport
from bot.github.render import report_for_result
from checks.engine import CheckResult, run_check
from checks.finding import Finding, Severity
from checks.git_change import change_from_git
from checks.iac import IacCheck
from checks.iac.check import PARSE_ERROR
from checks.policy import CheckPolicy, Policy
from tests.gitrepo import GitRepo

S3 = 'resource "aws_s3_bucket" "data" {\n  bucket = "my-data"\n}\n'
SSH = """
resource "aws_security_group" "ssh" {
  name        = "ssh"
  description = "DESCRIPTION"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [var.admin_cidr]
  }
}
"""
VARIABLES = 'variable "admin_cidr" {\n  default = "0.0.0.0/0"\n}\n'
RDP = """resource "aws_security_group" "rdp" {
  name        = "rdp"
  description = "remote desktop"
  ingress {
    description = "rdp"
    from_port   = 3389
    to_port     = 3389
    protocol    = "tcp"
    cidr_blocks = [var.admin_cidr]
  }
}
"""
POD = """apiVersion: v1
kind: Pod
metadata:
  name: NAME
  labels:
    app: LABEL
spec:
  containers:
    - name: web
      image: nginx:1.27
      securityContext:
        privileged: true
"""
OLD_WORKFLOW = """name: NAME
on: issues
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.event.issue.title }}"
"""
NEW_WORKFLOW = """name: new
on: pull_request
permissions: {}
jobs:
  title:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.event.pull_request.title }}"
"""
CFN = """AWSTemplateFormatVersion: "2010-09-09"
Description: a public bucket
Resources:
  Public:
    Type: AWS::S3::Bucket
    Properties:
      AccessControl: PublicRead
"""

BASE = {
    "infra/main.tf": S3 + SSH.replace("DESCRIPTION", "old and already open"),
    "infra/variables.tf": VARIABLES,
    "k8s/old.yaml": POD.replace("NAME", "old").replace("LABEL", "web"),
    "k8s/fine.yaml": POD.replace("NAME", "fine").replace("LABEL", "web").replace("true", "false"),
    "docker/Dockerfile": "FROM ubuntu:latest\nRUN echo hi\n",
    ".github/workflows/old.yml": OLD_WORKFLOW.replace("NAME", "old"),
    "net/main.tf": SSH.replace("DESCRIPTION", "ssh for admins"),
    "net/variables.tf": VARIABLES.replace("0.0.0.0/0", "10.0.0.0/8"),
}
HEAD = {
    # one added line (3) inside an old block makes the bucket public; an unrelated line of the already open
    # security group changes
    "infra/main.tf": S3.replace('"my-data"\n', '"my-data"\n  acl    = "public-read"\n')
    + SSH.replace("DESCRIPTION", "old, already open, renamed"),
    "infra/rdp.tf": RDP,  # open to the world only through variables.tf, which the branch does not touch
    "k8s/old.yaml": POD.replace("NAME", "old").replace("LABEL", "frontend"),
    "k8s/new.yaml": POD.replace("NAME", "new").replace("LABEL", "api"),
    "k8s/fine.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n",  # parsed on the base, not now
    "docker/Dockerfile": "# base image\nFROM ubuntu:latest\nRUN echo hi\n",
    "app/Dockerfile": "FROM python:3.12-slim\nHEALTHCHECK CMD true\nUSER root\nCMD [\"python\"]\n",
    "cfn/bucket.yaml": CFN,
    ".github/workflows/old.yml": OLD_WORKFLOW.replace("NAME", "old, renamed"),
    ".github/workflows/new.yml": NEW_WORKFLOW,
    ".github/workflows/broken.yml": "on: push\njobs:\n  a: [\n",
    "broken/bad.tf": 'resource "aws_s3_bucket" "x" {\n  bucket = "x"\n',
    "net/variables.tf": VARIABLES,  # opens the unchanged net/main.tf's security group to the world
}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> CheckResult:
    repo = GitRepo.on_feature_branch(tmp_path_factory.mktemp("iac") / "repo", BASE)
    repo.commit(HEAD, "infrastructure changes")
    change = change_from_git(repo.path, "main", head="HEAD")
    return run_check(IacCheck(), change, timeout=110)


def found(result: CheckResult, path: str, rule: str) -> Finding:
    matches = [f for f in result.findings if f.path == path and f.rule_id == rule]
    assert len(matches) == 1, f"{rule} on {path}: {[(f.path, f.rule_id) for f in result.findings]}"
    return matches[0]


def test_the_check_finishes_without_error(result: CheckResult) -> None:
    assert result.error is None
    assert result.check == "iac"


def test_a_line_added_inside_an_old_terraform_block_is_reported_on_that_block(result: CheckResult) -> None:
    public = found(result, "infra/main.tf", "CKV_AWS_20")
    assert (public.line, public.end_line) == (1, 4)
    assert public.severity is Severity.CRITICAL
    assert public.metadata["engine"] == "checkov"
    assert public.metadata["resource"] == "aws_s3_bucket.data"
    assert public.remediation.startswith("Change `aws_s3_bucket.data`")


def test_an_unrelated_edit_to_an_already_flawed_block_reports_nothing_old(result: CheckResult) -> None:
    on_main = {f.rule_id for f in result.findings if f.path == "infra/main.tf"}
    assert "CKV_AWS_24" not in on_main  # SSH from 0.0.0.0/0: already on the base
    assert all(f.metadata["resource"] == "aws_s3_bucket.data"
               for f in result.findings if f.path == "infra/main.tf")


def test_a_variable_declared_in_an_unchanged_file_of_the_module_resolves(result: CheckResult) -> None:
    rdp = found(result, "infra/rdp.tf", "CKV_AWS_25")
    assert (rdp.line, rdp.end_line) == (1, 11)
    assert rdp.severity is Severity.CRITICAL
    assert not [f for f in result.findings if f.path == "infra/variables.tf"]


def test_a_changed_variable_that_makes_an_unchanged_file_fail_is_reported_on_the_changed_file(
        result: CheckResult) -> None:
    ssh = found(result, "net/variables.tf", "CKV_AWS_24")
    assert ssh.file_level and ssh.severity is Severity.CRITICAL
    assert ssh.metadata["resource"] == "aws_security_group.ssh"
    assert ssh.metadata["resource_path"] == "net/main.tf"
    assert "in net/main.tf (lines 2-11)" in ssh.message
    # the same group's old problems (no rule descriptions, not attached) were there before: not new
    assert {f.rule_id for f in result.findings if f.path.startswith("net/")} == {"CKV_AWS_24"}


def test_kubernetes_manifest(result: CheckResult) -> None:
    privileged = found(result, "k8s/new.yaml", "CKV_K8S_16")
    assert (privileged.line, privileged.end_line) == (1, 12)
    assert privileged.severity is Severity.CRITICAL
    assert privileged.metadata["resource"] == "Pod.default.new"
    assert not [f for f in result.findings if f.path == "k8s/old.yaml"]  # a label changed: nothing new


def test_dockerfile(result: CheckResult) -> None:
    root = found(result, "app/Dockerfile", "CKV_DOCKER_8")
    assert (root.line, root.end_line) == (3, 3)
    assert not [f for f in result.findings if f.path == "docker/Dockerfile"]  # a comment added: nothing new


def test_cloudformation_template(result: CheckResult) -> None:
    public = found(result, "cfn/bucket.yaml", "CKV_AWS_20")
    assert (public.line, public.end_line) == (4, 7)
    assert public.metadata["framework"] == "cloudformation"


def test_workflow_findings_name_their_owasp_cicd_risk(result: CheckResult) -> None:
    injection = found(result, ".github/workflows/new.yml", "template-injection")
    assert injection.line == 8
    assert injection.severity is Severity.HIGH
    assert injection.metadata["engine"] == "zizmor"
    assert injection.metadata["owasp"] == ["CICD-SEC-4"]
    assert "CICD-SEC-4" in injection.message
    assert injection.metadata["links"] == ["https://docs.zizmor.sh/audits/#template-injection"]
    assert not [f for f in result.findings if f.path == ".github/workflows/old.yml"]  # renamed only


def test_files_that_do_not_parse_are_file_level_findings_and_not_scanned(result: CheckResult) -> None:
    for path in ("broken/bad.tf", "k8s/fine.yaml", ".github/workflows/broken.yml"):
        error = found(result, path, PARSE_ERROR)
        assert error.line == 0 and error.file_level
        assert error.severity is Severity.HIGH
        assert "could not parse" in error.message
    skipped = {s.path: s.reason for s in result.skipped}
    assert skipped["k8s/fine.yaml"].startswith("could not parse: invalid YAML at line 4")
    assert "broken/bad.tf" in skipped and ".github/workflows/broken.yml" in skipped


def test_only_new_problems_on_changed_files_are_reported(result: CheckResult) -> None:
    changed = set(HEAD)
    assert {f.path for f in result.findings} <= changed
    fingerprints = [f.fingerprint for f in result.findings]
    assert len(fingerprints) == len(set(fingerprints))


def test_sarif_carries_engine_rules_with_their_help_links(result: CheckResult) -> None:
    report = ScanReport(root="/", base="main", head="HEAD", results=[result], fail_on={"iac": Severity.HIGH})
    doc = sarif.document(report)
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["template-injection"]["helpUri"] == "https://docs.zizmor.sh/audits/#template-injection"
    assert "owasp/CICD-SEC-4" in rules["template-injection"]["properties"]["tags"]
    assert rules["CKV_K8S_16"]["helpUri"].startswith("https://www.checkov.io/")
    located = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
               for r in doc["runs"][0]["results"]}
    assert ("CKV_AWS_20", "infra/main.tf") in located


def test_the_check_run_summary_lists_findings_by_file_with_engine_rule_link_resource_and_fix(
        result: CheckResult) -> None:
    report = report_for_result(result, fail_on=Severity.HIGH, blob_base="https://github.test/o/r/blob/abc")
    assert report.conclusion == "failure"
    assert "| Location | Severity | Rule | Engine | Resource | Fix |" in report.summary
    rows = [line for line in report.summary.splitlines() if line.startswith("| [`")]
    paths = [row.split("`")[1].split(":")[0].removesuffix(" (whole file)") for row in rows]
    assert paths == sorted(paths)  # grouped by file
    pod = next(row for row in rows if "CKV_K8S_16" in row)
    assert "https://github.test/o/r/blob/abc/k8s/new.yaml#L1-L12" in pod
    assert "[`CKV_K8S_16`](https://www.checkov.io/5.Policy%20Index/Kubernetes.html)" in pod
    assert "| checkov | `Pod.default.new` |" in pod
    assert "| Change `Pod.default.new`: container should not be privileged. |" in pod
    injection = next(row for row in rows if "template-injection" in row)
    assert "| zizmor | `jobs/title/steps/0/run` |" in injection
    assert "See https://docs.zizmor.sh/audits/#template-injection" in injection


def test_an_engine_killed_at_the_deadline_is_a_visible_error(tmp_path: Path) -> None:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "x\n"})
    repo.commit({"infra/main.tf": HEAD["infra/main.tf"]}, "tf")
    result = run_check(IacCheck(), change_from_git(repo.path, "main", head="HEAD"), timeout=1.0)
    assert result.error is not None and "checkov" in result.error
    assert "killed" in result.error or "not started" in result.error
    assert result.findings == []


def test_an_engine_over_its_memory_limit_is_a_visible_error(tmp_path: Path) -> None:
    repo = GitRepo.on_feature_branch(tmp_path / "repo", {"README.md": "x\n"})
    repo.commit({"app/Dockerfile": HEAD["app/Dockerfile"]}, "docker")
    policy = Policy(checks={"iac": CheckPolicy(options={"memory_mb": 64})})
    result = run_check(IacCheck(), change_from_git(repo.path, "main", head="HEAD"), policy=policy, timeout=60)
    assert result.error is not None and "checkov printed no report" in result.error
    assert "MemoryError" in result.error
    assert result.findings == []
